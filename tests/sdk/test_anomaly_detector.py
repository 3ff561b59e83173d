"""Anomaly Detector with the official client (azure-ai-anomalydetector 3.0.0b6), unchanged, pointed at the
gateway: a week of hourly traffic with a daily cycle has one injected spike, which is flagged while the daily
peaks are not; the last point is judged alone; a level shift is found as a change point; Azure's own example
(48 monthly points) gives Azure's answer; bad series get Azure's error codes."""

import math
from datetime import datetime, timedelta, timezone

import pytest
from azure.ai.anomalydetector import AnomalyDetectorClient
from azure.ai.anomalydetector.models import (
    TimeGranularity,
    TimeSeriesPoint,
    UnivariateChangePointDetectionOptions,
    UnivariateDetectionOptions,
)
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError

START = datetime(2026, 11, 2, tzinfo=timezone.utc)
SPIKE = 100  # hour 4 of day 5: a quiet hour, far from the daily peak
# Azure's EntireDetect.json example and its anomaly (index 25).
AZURE_EXAMPLE = [
    826, 799, 890, 900, 961, 935, 894, 855, 809, 810, 766, 805, 821, 773, 883, 898, 957, 924, 881, 837, 784, 791,
    760, 802, 828, 1030, 889, 902, 969, 947, 908, 867, 815, 812, 773, 813, 834, 782, 892, 903, 966, 937, 896, 858,
    817, 827, 797, 843,
]


@pytest.fixture(scope="module")
def detector(cogway):
    key = cogway.create_key("sdk-anomaly", ["decision"])
    with AnomalyDetectorClient(cogway.endpoint, AzureKeyCredential(key)) as client:
        yield client


def traffic(hours: int = 168) -> list[float]:
    """Requests per hour: a daily cycle peaking at 14:00, a slow weekly rise and a little jitter."""
    values = []
    for h in range(hours):
        daily = 400 * math.exp(-(((h % 24) - 14) ** 2) / 18)
        jitter = ((h * 7919) % 11 - 5) * 0.8
        values.append(600 + 0.5 * h + daily + jitter)
    return values


def points(values, step=timedelta(hours=1)) -> list[TimeSeriesPoint]:
    return [TimeSeriesPoint(timestamp=START + i * step, value=float(v)) for i, v in enumerate(values)]


def test_entire_series_flags_the_spike_and_not_the_daily_peaks(detector):
    values = traffic()
    values[SPIKE] += 450
    result = detector.detect_univariate_entire_series(
        UnivariateDetectionOptions(series=points(values), granularity=TimeGranularity.HOURLY, sensitivity=95)
    )
    assert result.period == 24
    flagged = [i for i, a in enumerate(result.is_anomaly) if a]
    assert flagged == [SPIKE], flagged
    assert result.is_positive_anomaly[SPIKE] and not result.is_negative_anomaly[SPIKE]
    peaks = [day * 24 + 14 for day in range(7)]
    assert all(values[p] > values[SPIKE] - 100 for p in peaks)  # the peaks are as high as the spike
    assert not any(result.is_anomaly[p] for p in peaks)
    assert abs(result.expected_values[SPIKE] - traffic()[SPIKE]) < 15
    assert 0 < result.severity[SPIKE] <= 1 and result.severity[0] == 0
    assert len(result.upper_margins) == len(result.lower_margins) == len(values)


def test_last_point(detector):
    values = traffic(24 * 5)
    options = dict(granularity=TimeGranularity.HOURLY, sensitivity=95)
    calm = detector.detect_univariate_last_point(UnivariateDetectionOptions(series=points(values), **options))
    assert not calm.is_anomaly
    assert calm.period == 24 and calm.suggested_window == 97
    values[-1] -= 300
    dip = detector.detect_univariate_last_point(UnivariateDetectionOptions(series=points(values), **options))
    assert dip.is_anomaly and dip.is_negative_anomaly and not dip.is_positive_anomaly
    assert dip.expected_value > values[-1] + 200


def test_a_level_shift_is_a_change_point(detector):
    values = [50 + ((i * 7919) % 13 - 6) * 0.3 + (20 if i >= 40 else 0) for i in range(90)]
    result = detector.detect_univariate_change_point(
        UnivariateChangePointDetectionOptions(
            series=points(values, timedelta(days=1)), granularity=TimeGranularity.DAILY, stable_trend_window=10,
            threshold=0.9,
        )
    )
    changes = [i for i, c in enumerate(result.is_change_point) if c]
    assert changes == [40], changes
    assert result.confidence_scores[40] > 0.99
    assert max(result.confidence_scores[:30]) < 0.9


def test_azures_example(detector):
    series = [
        {"timestamp": f"{1972 + i // 12}-{i % 12 + 1:02d}-01T00:00:00Z", "value": v} for i, v in enumerate(AZURE_EXAMPLE)
    ]
    body = {"series": series, "maxAnomalyRatio": 0.25, "sensitivity": 95, "granularity": "monthly"}
    result = detector.detect_univariate_entire_series(body)
    assert result.period == 12
    assert [i for i, a in enumerate(result.is_anomaly) if a] == [25]
    # Azure's margins at sensitivity 95 are 5% of the expected value.
    assert result.upper_margins[3] == pytest.approx(0.05 * result.expected_values[3])
    last = detector.detect_univariate_last_point(body)
    assert (last.period, last.suggested_window, last.is_anomaly) == (12, 49, False)


@pytest.mark.parametrize(
    "change, code",
    [
        (lambda s: s[:11], "InvalidSeries"),
        (lambda s: [s[1], s[0], *s[2:]], "InvalidSeries"),
        (lambda s: [s[0], s[0], *s[2:]], "InvalidSeries"),
    ],
)
def test_bad_series_get_azures_errors(detector, change, code):
    series = [{"timestamp": (START + timedelta(days=i)).isoformat().replace("+00:00", "Z"), "value": i} for i in range(20)]
    with pytest.raises(HttpResponseError) as raised:
        detector.detect_univariate_entire_series({"series": change(series), "granularity": "daily"})
    assert raised.value.status_code == 400
    assert raised.value.error.code == code


def test_wrong_granularity_and_sensitivity(detector):
    series = [{"timestamp": (START + timedelta(days=i)).isoformat().replace("+00:00", "Z"), "value": i} for i in range(20)]
    with pytest.raises(HttpResponseError) as raised:
        detector.detect_univariate_entire_series({"series": series, "granularity": "fortnightly"})
    assert raised.value.error.code == "InvalidGranularity"
    with pytest.raises(HttpResponseError) as raised:
        detector.detect_univariate_entire_series({"series": series, "granularity": "daily", "sensitivity": 101})
    assert raised.value.error.code == "InvalidModelArgument"
    off_grid = [dict(p) for p in series]
    off_grid[7]["timestamp"] = off_grid[7]["timestamp"].replace("T00", "T05")
    with pytest.raises(HttpResponseError) as raised:
        detector.detect_univariate_entire_series({"series": off_grid, "granularity": "daily"})
    assert "index 7" in raised.value.error.message
