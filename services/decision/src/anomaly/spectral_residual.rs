//! The spectral residual (SR) detector (Hou and Zhang's visual saliency, applied to time series by
//! Ren et al., "Time-Series Anomaly Detection Service at Microsoft", KDD 2019, and used by Azure's
//! service for minutely and secondly series without a period): the log amplitude spectrum less its
//! local average keeps what is unexpected; transformed back, points that stand out get a high
//! saliency, and a point's raw score is how far its saliency is above the average saliency of the
//! points before it. Constants are the service's (window 3 over the spectrum, 100 over the
//! saliency, 5 points extrapolated past the end, raw threshold 3.5).
//!
//! Written here: the method is a few FFTs and moving averages (rustfft does the transforms).

use rustfft::FftPlanner;
use rustfft::num_complex::Complex;

use super::robust::median;

/// Window of the average over the log amplitude spectrum (the paper's q).
const MAG_WINDOW: usize = 3;
/// Window of the average saliency a point is compared with (the service's z).
const SCORE_WINDOW: usize = 100;
/// Points appended past the end, estimated from the last ones, so that the last real point is not
/// at the edge of the transform (the paper's extension).
const EXTEND: usize = 5;
/// Points the extension is estimated from.
const LOOK_AHEAD: usize = 6;
/// Raw score from which a point is an anomaly.
pub const THRESHOLD: f64 = 3.5;
/// Raw score up to which a point is part of the series' skeleton (used for expected values).
const SKELETON: f64 = 1.0;
const EPS: f64 = 1e-8;

/// The trailing average of each point over `window` points (fewer at the start).
pub fn average_filter(values: &[f64], window: usize) -> Vec<f64> {
    let window = window.max(1);
    let mut out = Vec::with_capacity(values.len());
    let mut sum = 0.0;
    for (i, v) in values.iter().enumerate() {
        sum += v;
        if i >= window {
            sum -= values[i - window];
        }
        out.push(sum / (i + 1).min(window) as f64);
    }
    out
}

/// The trailing average over `window` points, where the first points, which have fewer before
/// them, count the missing ones as the mean of those they have (so early averages are not
/// dominated by the point itself).
fn average_filter_padded(values: &[f64], window: usize) -> Vec<f64> {
    let mut out = average_filter(values, window);
    let mut sum = 0.0;
    for (i, v) in values.iter().enumerate().take(window) {
        sum += v;
        if i > 0 {
            let before = (sum - v) / i as f64;
            out[i] = (sum + before * (window - i - 1) as f64) / window as f64;
        }
    }
    out
}

/// The next value after `values`: their median moved on by the average slope to the last one.
fn predict_next(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 2 {
        return values.last().copied().unwrap_or(0.0);
    }
    let last = values[n - 1];
    let slopes: f64 = values[..n - 1].iter().enumerate().map(|(i, v)| (last - v) / (n - 1 - i) as f64).sum();
    median(values) + slopes * 0.5 * (n + 1) as f64 / (n - 1) as f64
}

/// The series with [`EXTEND`] estimated points appended. Judging the whole series, the estimate
/// comes from the last points inside the interquartile fences (an anomaly near the end must not
/// shape it); judging the last point, from the points just before it.
fn extended(values: &[f64], entire: bool) -> Vec<f64> {
    let n = values.len();
    let ahead: Vec<f64> = if entire {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let q = |p: f64| sorted[((n - 1) as f64 * p).round() as usize];
        let (q1, q2, q3) = (q(0.25), q(0.5), q(0.75));
        let (lo, hi) = (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1));
        let mut inside: Vec<f64> =
            values.iter().rev().filter(|v| (lo..=hi).contains(*v)).take(LOOK_AHEAD).copied().collect();
        inside.resize(LOOK_AHEAD, q2);
        inside.reverse();
        inside
    } else {
        values[n.saturating_sub(LOOK_AHEAD + 1)..n.saturating_sub(1).max(1)].to_vec()
    };
    let next = predict_next(&ahead);
    values.iter().copied().chain(std::iter::repeat_n(next, EXTEND)).collect()
}

/// The saliency map of a series: the inverse transform of the spectrum divided by the geometric
/// mean of the amplitudes around each frequency (`exp(log A − average log A)` times the phase).
pub fn saliency(series: &[f64]) -> Vec<f64> {
    let n = series.len();
    if n < 2 {
        return vec![0.0; n];
    }
    let mut planner = FftPlanner::<f64>::new();
    let mut spectrum: Vec<Complex<f64>> = series.iter().map(|&v| Complex::new(v, 0.0)).collect();
    planner.plan_fft_forward(n).process(&mut spectrum);
    let magnitude: Vec<f64> = spectrum.iter().map(|c| c.norm()).collect();
    let log_magnitude: Vec<f64> = magnitude.iter().map(|&m| if m > EPS { m.ln() } else { 0.0 }).collect();
    let average = average_filter(&log_magnitude, MAG_WINDOW);
    for ((c, &m), (l, a)) in spectrum.iter_mut().zip(&magnitude).zip(log_magnitude.iter().zip(&average)) {
        *c = if m > EPS { *c * ((l - a).exp() / m) } else { Complex::new(0.0, 0.0) };
    }
    planner.plan_fft_inverse(n).process(&mut spectrum);
    spectrum.iter().map(|c| c.norm() / n as f64).collect()
}

/// Each point's raw score: its saliency's distance from the average saliency before it, relative
/// to that average.
pub fn raw_scores(values: &[f64], entire: bool) -> Vec<f64> {
    if values.len() < 2 {
        return vec![0.0; values.len()];
    }
    let mut map = saliency(&extended(values, entire));
    map.truncate(values.len());
    let average = average_filter_padded(&map, SCORE_WINDOW);
    map.iter().zip(&average).map(|(s, a)| (s - a).abs() / a.max(EPS)).collect()
}

/// The expected value of each point: the mean of the skeleton points (raw score at most 1) among
/// the later half of those up to it, smoothed over 5 points.
fn expected_values(values: &[f64], raw: &[f64]) -> Vec<f64> {
    let mut count = vec![0usize; values.len() + 1];
    let mut sum = vec![0.0; values.len() + 1];
    let mut all = vec![0.0; values.len() + 1];
    for i in 0..values.len() {
        let skeleton = raw[i] <= SKELETON;
        count[i + 1] = count[i] + usize::from(skeleton);
        sum[i + 1] = sum[i] + if skeleton { values[i] } else { 0.0 };
        all[i + 1] = all[i] + values[i];
    }
    let expected: Vec<f64> = (0..values.len())
        .map(|i| {
            let start = i / 2;
            let c = count[i + 1] - count[start];
            if c > 0 { (sum[i + 1] - sum[start]) / c as f64 } else { all[i + 1] / (i + 1) as f64 }
        })
        .collect();
    average_filter(&expected, 5)
}

/// The SR verdict on a whole series.
pub struct Verdict {
    pub expected: Vec<f64>,
    pub anomalous: Vec<bool>,
    /// 0..1, how sure: the raw score less its threshold's share, capped.
    pub scores: Vec<f64>,
}

/// Judges every point; at most `max_anomalies` (the highest raw scores) are anomalies.
pub fn detect_entire(values: &[f64], max_anomalies: usize) -> Verdict {
    let raw = raw_scores(values, true);
    let mut candidates: Vec<usize> = (0..values.len()).filter(|&i| raw[i] >= THRESHOLD).collect();
    candidates.sort_by(|&a, &b| raw[b].total_cmp(&raw[a]));
    candidates.truncate(max_anomalies.max(1));
    let mut anomalous = vec![false; values.len()];
    for i in candidates {
        anomalous[i] = true;
    }
    let scores = raw.iter().map(|r| (r - THRESHOLD / 11.5).clamp(0.0, 1.0)).collect();
    Verdict { expected: expected_values(values, &raw), anomalous, scores }
}

/// Judges the last point only: its raw score against the points before it, unless it is within
/// 1.5 standard deviations of the mean (a false alarm of the transform). The expected value is the
/// mean of the later half of the skeleton points before it.
pub fn detect_last(values: &[f64]) -> (f64, bool, f64) {
    let n = values.len();
    let raw = raw_scores(values, false);
    let last = values[n - 1];
    let (mean, std) = super::robust::mean_std(values);
    let mut score = raw[n - 1];
    if std <= 0.0 || (last - mean).abs() / std < 1.5 {
        score = 0.0;
    }
    let skeleton: Vec<f64> = (0..n - 1).filter(|&i| raw[i] <= SKELETON).map(|i| values[i]).collect();
    let later = &skeleton[skeleton.len() / 2..];
    let expected = if later.is_empty() { mean } else { later.iter().sum::<f64>() / later.len() as f64 };
    (expected, score >= THRESHOLD, (score - THRESHOLD / 11.5).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_filters_trail() {
        assert_eq!(average_filter(&[1.0, 2.0, 3.0, 4.0], 2), [1.0, 1.5, 2.5, 3.5]);
        assert_eq!(average_filter_padded(&[1.0, 3.0, 3.0], 3), [1.0, (4.0 + 1.0) / 3.0, 7.0 / 3.0]);
    }

    #[test]
    fn a_spike_stands_out_from_a_seasonal_series() {
        let mut values: Vec<f64> =
            (0..200).map(|i| 10.0 + 3.0 * (2.0 * std::f64::consts::PI * i as f64 / 24.0).sin()).collect();
        values[130] += 12.0;
        let raw = raw_scores(&values, true);
        let best = raw.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i);
        assert_eq!(best, Some(130), "{:?}", &raw[120..140]);
        let peak = raw[6 + 24 * 3];
        assert!(raw[130] > 3.0 * peak.max(1e-3), "spike {} peak {}", raw[130], peak);
    }

    /// The minutely reference series of the design notes: one spike at 40 among noise.
    #[test]
    fn flags_the_spike_of_the_reference_series_alone() {
        let mut values = vec![
            100.13, 99.87, 100.64, 100.1, 99.46, 100.36, 101.3, 100.95, 99.3, 98.73, 99.38, 100.04, 97.67, 99.78,
            98.75, 99.27, 99.46, 99.68, 100.41, 101.04, 99.87, 101.37, 99.33, 100.35, 100.9, 100.09, 99.26, 99.08,
            99.54, 100.22, 98.99, 99.79, 99.84, 100.54, 100.21, 100.36, 99.35, 99.87, 100.78, 101.49, 130.0, 101.51,
            101.35, 100.78, 100.26, 99.69, 101.46, 101.96, 101.8, 101.32, 100.36, 98.79, 100.0, 100.66, 98.71, 100.4,
            100.43, 100.7, 98.82, 99.34,
        ];
        let verdict = detect_entire(&values, 15);
        let flagged: Vec<usize> = (0..60).filter(|&i| verdict.anomalous[i]).collect();
        assert_eq!(flagged, [40]);
        assert!((verdict.expected[40] - 100.3).abs() < 1.0, "{}", verdict.expected[40]);
        values[40] = 100.0;
        values[59] = 130.0;
        let (expected, anomalous, _) = detect_last(&values);
        assert!(anomalous);
        assert!((expected - 100.0).abs() < 1.0, "{expected}");
    }
}
