//! The univariate pipeline of `entire/detect` and `last/detect`, as Azure's service runs it: fill
//! the grid, find the period, pick the model (seasonal decomposition when there is a period; the
//! spectral residual for minutely and secondly series without one; otherwise a robust local
//! trend), vote the anomalies, then margins and severity from the expected values and the
//! request's sensitivity.

use serde::Serialize;

use super::options::{DetectOptions, Granularity};
use super::robust::{median, robust_sigma};
use super::{period, seasonal, spectral_residual};

/// Robust z-score from which a point off the expected value is an anomaly (Iglewicz and Hoaglin's
/// 3.5 on the median absolute deviation).
const Z_THRESHOLD: f64 = 3.5;
/// Points that differ from the expected value by less than this are never anomalies.
const TOLERANCE: f64 = 1e-8;

/// The answer of `entire/detect` (`UnivariateEntireDetectionResult`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntireResult {
    pub period: usize,
    pub expected_values: Vec<f64>,
    pub upper_margins: Vec<f64>,
    pub lower_margins: Vec<f64>,
    pub is_anomaly: Vec<bool>,
    pub is_negative_anomaly: Vec<bool>,
    pub is_positive_anomaly: Vec<bool>,
    pub severity: Vec<f64>,
}

/// The answer of `last/detect` (`UnivariateLastDetectionResult`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastResult {
    pub period: usize,
    pub suggested_window: usize,
    pub expected_value: f64,
    pub upper_margin: f64,
    pub lower_margin: f64,
    pub is_anomaly: bool,
    pub is_negative_anomaly: bool,
    pub is_positive_anomaly: bool,
    pub severity: f64,
}

/// Which model judged the series.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Model {
    Seasonal,
    SpectralResidual,
    Trend,
}

/// The verdict on the filled grid, before margins.
struct Fit {
    expected: Vec<f64>,
    anomalous: Vec<bool>,
    /// The SR path's 0..1 scores (its margins scale with them).
    scores: Option<Vec<f64>>,
}

/// Most anomalies per direction: `maxAnomalyRatio` of the points, at least one, under half.
fn max_anomalies(n: usize, ratio: f64) -> usize {
    ((n as f64 * ratio).ceil() as usize).max(1).min((n / 2).saturating_sub(1).max(1))
}

fn choose_model(options: &DetectOptions, period: usize, values: &[f64]) -> Model {
    if period > 1 {
        return Model::Seasonal;
    }
    let fine = match options.granularity {
        Granularity::Minutely => options.custom_interval < 60,
        Granularity::Secondly => options.custom_interval < 3600,
        _ => false,
    };
    if fine && robust_sigma(values) > 0.0 { Model::SpectralResidual } else { Model::Trend }
}

/// The points whose residual's robust z-score passes the bar, the most extreme first, at most
/// `cap` above and `cap` below.
fn vote(residuals: &[f64], cap: usize) -> Vec<bool> {
    let sigma = robust_sigma(residuals);
    let centre = median(residuals);
    let mut flagged = vec![false; residuals.len()];
    if sigma <= 0.0 {
        return flagged;
    }
    for sign in [1.0, -1.0] {
        let mut candidates: Vec<(usize, f64)> = residuals
            .iter()
            .enumerate()
            .map(|(i, r)| (i, sign * (r - centre) / sigma))
            .filter(|&(_, z)| z > Z_THRESHOLD)
            .collect();
        candidates.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (i, _) in candidates.into_iter().take(cap) {
            flagged[i] = true;
        }
    }
    flagged
}

/// The trend window of a series without a period: a tenth of it, 7 to 61 points, odd.
fn trend_window(n: usize) -> usize {
    ((n / 10).clamp(7, 61) | 1).min(n)
}

fn fit(model: Model, values: &[f64], period: usize, cap: usize) -> Fit {
    match model {
        Model::Seasonal => {
            let d = seasonal::decompose(values, period);
            let expected = d.expected();
            let residuals: Vec<f64> = values.iter().zip(&expected).map(|(v, e)| v - e).collect();
            Fit { anomalous: vote(&residuals, cap), expected, scores: None }
        }
        Model::SpectralResidual => {
            let verdict = spectral_residual::detect_entire(values, cap);
            Fit { expected: verdict.expected, anomalous: verdict.anomalous, scores: Some(verdict.scores) }
        }
        Model::Trend => {
            let d = seasonal::robust_trend(values, trend_window(values.len()));
            let residuals: Vec<f64> = values.iter().zip(&d.trend).map(|(v, e)| v - e).collect();
            Fit { anomalous: vote(&residuals, cap), expected: d.trend, scores: None }
        }
    }
}

/// numpy's `clip`: `min(max(x, lo), hi)`, so `hi` wins when `lo > hi` (where `f64::clamp` panics).
fn clip(x: f64, lo: f64, hi: f64) -> f64 {
    x.max(lo).min(hi)
}

/// Margins, final anomaly flags and severity, as Azure's service computes them (its default
/// boundary version): the margin is `|expected| × (100 − sensitivity) / 100` (for the SR model, a
/// share of the normal range, and of an anomaly's distance over its score); boundaries never pass
/// the data's extremes; normal points always fall inside their margins; an anomaly inside its
/// margins is no anomaly (unless sensitivity is 100).
fn finish(values: &[f64], fit: Fit, sensitivity: u32, period: usize) -> EntireResult {
    let n = values.len();
    let Fit { expected, mut anomalous, scores } = fit;
    for i in 0..n {
        if (values[i] - expected[i]).abs() < TOLERANCE {
            anomalous[i] = false;
        }
    }
    let share = f64::from(100 - sensitivity.min(100)) / 100.0;
    let margins: Vec<f64> = match &scores {
        Some(scores) => {
            let normal: Vec<f64> = (0..n).filter(|&i| !anomalous[i]).map(|i| values[i]).collect();
            let range =
                normal.iter().copied().fold(f64::MIN, f64::max) - normal.iter().copied().fold(f64::MAX, f64::min);
            let base = if normal.is_empty() { 0.0 } else { 0.01 * range };
            (0..n)
                .map(|i| {
                    if anomalous[i] && scores[i] > 0.0 {
                        (values[i] - expected[i]).abs() / scores[i] * share
                    } else {
                        base
                    }
                })
                .collect()
        }
        None => expected.iter().map(|e| e.abs() * share).collect(),
    };
    let upper_bounds: Vec<f64> = expected.iter().zip(&margins).map(|(e, m)| e + m).collect();
    let lower_bounds: Vec<f64> = expected.iter().zip(&margins).map(|(e, m)| e - m).collect();
    let fold_min = |v: &[f64]| v.iter().copied().fold(f64::MAX, f64::min);
    let fold_max = |v: &[f64]| v.iter().copied().fold(f64::MIN, f64::max);
    let top = fold_max(values).max(fold_max(&expected));
    let bottom = fold_min(values).min(fold_min(&expected));
    let (ub_min, lb_max) = (fold_min(&upper_bounds), fold_max(&lower_bounds));
    let mut result = EntireResult {
        period,
        expected_values: expected.clone(),
        upper_margins: vec![0.0; n],
        lower_margins: vec![0.0; n],
        is_anomaly: vec![false; n],
        is_negative_anomaly: vec![false; n],
        is_positive_anomaly: vec![false; n],
        severity: vec![0.0; n],
    };
    for i in 0..n {
        let (v, e) = (values[i], expected[i]);
        let ub = clip(upper_bounds[i], ub_min, top);
        let lb = clip(lower_bounds[i], bottom, lb_max);
        let (mut upper, mut lower) = (ub - e, e - lb);
        let mut anomaly = anomalous[i];
        if !anomaly && v > ub {
            upper = 1.01 * (v - e);
            lower = upper;
        } else if !anomaly && v < lb {
            lower = 1.01 * (e - v);
            upper = lower;
        } else if anomaly && (lb..=ub).contains(&v) {
            if sensitivity >= 100 {
                (upper, lower) = (0.0, 0.0);
            } else {
                anomaly = false;
            }
        }
        result.upper_margins[i] = upper;
        result.lower_margins[i] = lower;
        result.is_anomaly[i] = anomaly;
        result.is_positive_anomaly[i] = anomaly && v > e;
        result.is_negative_anomaly[i] = anomaly && v < e;
        if anomaly {
            let scale = if e.abs() > TOLERANCE { e.abs() } else { 0.3 };
            result.severity[i] = ((v - e).abs() / scale).min(1.0);
        }
    }
    result
}

/// Keeps only the grid positions that hold sent points.
fn select<T: Copy>(values: &[T], kept: &[usize]) -> Vec<T> {
    kept.iter().map(|&i| values[i]).collect()
}

/// The period and the filled grid: the given period, or the one found on the grid filled on
/// straight lines.
fn prepare(options: &DetectOptions) -> (usize, Vec<f64>, Vec<usize>) {
    let period = options.period.unwrap_or_else(|| {
        let (linear, _) = options.series.filled(super::options::ImputeMode::Linear, 0);
        period::for_series(&linear, options.granularity, options.custom_interval)
    });
    let (grid, kept) = options.series.filled(options.impute, period);
    (period, grid, kept)
}

/// Judges every point of the series.
pub fn entire(options: &DetectOptions) -> EntireResult {
    let (period, grid, kept) = prepare(options);
    let model = choose_model(options, period, &grid);
    let cap = max_anomalies(grid.len(), options.max_anomaly_ratio);
    let fitted = fit(model, &grid, period, cap);
    let all = finish(&grid, fitted, options.sensitivity, period);
    if kept.len() == grid.len() {
        return all;
    }
    EntireResult {
        period,
        expected_values: select(&all.expected_values, &kept),
        upper_margins: select(&all.upper_margins, &kept),
        lower_margins: select(&all.lower_margins, &kept),
        is_anomaly: select(&all.is_anomaly, &kept),
        is_negative_anomaly: select(&all.is_negative_anomaly, &kept),
        is_positive_anomaly: select(&all.is_positive_anomaly, &kept),
        severity: select(&all.severity, &kept),
    }
}

/// The window Azure suggests for judging the last point: four periods and one, or by granularity.
fn suggested_window(period: usize, granularity: Granularity) -> usize {
    if period > 0 {
        return 4 * period + 1;
    }
    match granularity {
        Granularity::Daily => 29,
        Granularity::Hourly => 169,
        Granularity::Weekly | Granularity::Monthly | Granularity::Yearly => 13,
        Granularity::Microsecond => 1001,
        Granularity::Minutely | Granularity::Secondly | Granularity::None => 1441,
    }
}

/// Judges the last point against the ones before it.
pub fn last(options: &DetectOptions) -> LastResult {
    let (period, grid, _) = prepare(options);
    let model = choose_model(options, period, &grid);
    let n = grid.len();
    let cap = max_anomalies(n, options.max_anomaly_ratio);
    let fitted = if model == Model::SpectralResidual {
        let (expected_last, anomalous_last, score) = spectral_residual::detect_last(&grid);
        // The other points only shape the margins: judged as a whole series.
        let mut whole = spectral_residual::detect_entire(&grid, cap);
        whole.expected[n - 1] = expected_last;
        whole.anomalous[n - 1] = anomalous_last;
        whole.scores[n - 1] = score;
        Fit { expected: whole.expected, anomalous: whole.anomalous, scores: Some(whole.scores) }
    } else {
        fit(model, &grid, period, cap)
    };
    let all = finish(&grid, fitted, options.sensitivity, period);
    let i = n - 1;
    LastResult {
        period,
        suggested_window: suggested_window(period, options.granularity),
        expected_value: all.expected_values[i],
        upper_margin: all.upper_margins[i],
        lower_margin: all.lower_margins[i],
        is_anomaly: all.is_anomaly[i],
        is_negative_anomaly: all.is_negative_anomaly[i],
        is_positive_anomaly: all.is_positive_anomaly[i],
        severity: all.severity[i],
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// The 48 monthly points of Azure's `EntireDetect.json` example.
    const SPEC: [f64; 48] = [
        826.0, 799.0, 890.0, 900.0, 961.0, 935.0, 894.0, 855.0, 809.0, 810.0, 766.0, 805.0, 821.0, 773.0, 883.0, 898.0,
        957.0, 924.0, 881.0, 837.0, 784.0, 791.0, 760.0, 802.0, 828.0, 1030.0, 889.0, 902.0, 969.0, 947.0, 908.0,
        867.0, 815.0, 812.0, 773.0, 813.0, 834.0, 782.0, 892.0, 903.0, 966.0, 937.0, 896.0, 858.0, 817.0, 827.0, 797.0,
        843.0,
    ];

    /// Azure's expected values for them (rounded).
    const AZURE_EXPECTED: [f64; 48] = [
        827.79, 798.91, 888.61, 900.56, 962.84, 933.26, 891.08, 856.18, 809.90, 807.38, 764.32, 803.93, 823.59, 794.09,
        883.16, 894.84, 956.84, 927.63, 885.81, 851.64, 806.09, 804.68, 762.74, 804.03, 825.35, 798.04, 889.30, 902.42,
        965.87, 937.32, 896.17, 862.01, 816.47, 814.43, 771.86, 811.86, 831.90, 802.95, 892.57, 904.55, 966.85, 937.32,
        895.18, 860.36, 814.17, 811.91, 769.11, 809.23,
    ];

    fn spec_request() -> Value {
        let series: Vec<Value> = SPEC
            .iter()
            .enumerate()
            .map(|(i, v)| json!({"timestamp": format!("{}-{:02}-01T00:00:00Z", 1972 + i / 12, i % 12 + 1), "value": v}))
            .collect();
        json!({"series": series, "maxAnomalyRatio": 0.25, "sensitivity": 95, "granularity": "monthly"})
    }

    #[test]
    fn reproduces_azures_example() {
        let options = DetectOptions::from_json(&spec_request()).unwrap();
        let result = entire(&options);
        assert_eq!(result.period, 12);
        let flagged: Vec<usize> = (0..48).filter(|&i| result.is_anomaly[i]).collect();
        assert_eq!(flagged, [25]);
        assert!(result.is_positive_anomaly[25]);
        let error: f64 =
            result.expected_values.iter().zip(AZURE_EXPECTED).map(|(e, a)| (e - a).abs() / a).sum::<f64>() / 48.0;
        assert!(error < 0.01, "mean relative error against Azure's expected values: {error}");
        let e = result.expected_values[25];
        assert!((result.severity[25] - (1030.0 - e) / e).abs() < 1e-12);
        assert!((result.upper_margins[30] - 0.05 * result.expected_values[30]).abs() < 1e-9);
        let last = last(&options);
        assert_eq!((last.period, last.suggested_window, last.is_anomaly), (12, 49, false));
        assert!((last.expected_value - 809.23).abs() / 809.23 < 0.02, "{}", last.expected_value);
    }

    #[test]
    fn a_seasonal_series_keeps_its_peaks_and_loses_its_spike() {
        let series: Vec<Value> = (0..60)
            .map(|i| {
                let v = if i == 40 { 130.0 } else { 100.0 + ((7 * i) % 5) as f64 * 0.5 };
                json!({"timestamp": format!("2023-01-01T00:{i:02}:00Z"), "value": v})
            })
            .collect();
        let options =
            DetectOptions::from_json(&json!({"series": series, "granularity": "minutely", "sensitivity": 90})).unwrap();
        let result = entire(&options);
        assert_eq!(result.period, 5);
        let flagged: Vec<usize> = (0..60).filter(|&i| result.is_anomaly[i]).collect();
        assert_eq!(flagged, [40]);
        assert!((result.expected_values[40] - 100.0).abs() < 0.01, "{}", result.expected_values[40]);
    }

    #[test]
    fn a_trend_without_period_flags_its_dip() {
        let values: Vec<Value> = (0..40)
            .map(|i| {
                let wobble = [0.3, -0.2, 0.1, -0.4, 0.2][i % 5];
                let v = if i == 25 { 20.0 } else { 50.0 + i as f64 + wobble };
                json!({"value": v})
            })
            .collect();
        let options = DetectOptions::from_json(&json!({"series": values})).unwrap();
        let result = entire(&options);
        let flagged: Vec<usize> = (0..40).filter(|&i| result.is_anomaly[i]).collect();
        assert_eq!(flagged, [25]);
        assert!(result.is_negative_anomaly[25]);
        assert!((result.expected_values[25] - 75.0).abs() < 1.0);
    }
}
