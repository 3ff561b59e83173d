//! `changepoint/detect`: where the series' trend changes. Azure has not published how its service
//! finds change points, so this is Cogway's own method: at each point, a Chow test of one straight
//! line through the `stableTrendWindow` points on both sides against a line on each side (level
//! and slope may both break); the confidence is the probability that no point of the series would
//! show a break this strong by chance (the F distribution's CDF raised to the number of points
//! tested), and change points are the local maxima at or above the threshold. A seasonal series is
//! judged after its seasonal component is taken off.

use serde::Serialize;

use super::options::ChangePointOptions;
use super::{period, seasonal};

/// The answer of `changepoint/detect` (`UnivariateChangePointDetectionResult`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangePointResult {
    pub period: usize,
    pub is_change_point: Vec<bool>,
    pub confidence_scores: Vec<f64>,
}

/// Prefix sums of a series, so that the least-squares line through any window costs O(1).
struct Sums {
    /// Running sums of 1, t, t², x, t·x and x² (t the index).
    acc: Vec<[f64; 6]>,
}

impl Sums {
    fn new(values: &[f64]) -> Self {
        let mut acc = vec![[0.0; 6]; values.len() + 1];
        for (i, &x) in values.iter().enumerate() {
            let t = i as f64;
            let step = [1.0, t, t * t, x, t * x, x * x];
            for k in 0..6 {
                acc[i + 1][k] = acc[i][k] + step[k];
            }
        }
        Self { acc }
    }

    /// The residual sum of squares of the least-squares line through `start..end`.
    fn line_rss(&self, start: usize, end: usize) -> f64 {
        let s: Vec<f64> = (0..6).map(|k| self.acc[end][k] - self.acc[start][k]).collect();
        let (n, st, stt, sx, stx, sxx) = (s[0], s[1], s[2], s[3], s[4], s[5]);
        let sxx_c = sxx - sx * sx / n;
        let stt_c = stt - st * st / n;
        let stx_c = stx - st * sx / n;
        let rss = if stt_c > 0.0 { sxx_c - stx_c * stx_c / stt_c } else { sxx_c };
        rss.max(0.0)
    }

    /// The Chow statistic of a break at `at` between the `w` points before and after (two
    /// parameters per line), or infinity when both sides are exact lines that one line does not
    /// fit (`tiny`: what counts as zero).
    fn chow(&self, at: usize, w: usize, tiny: f64) -> f64 {
        let joint = self.line_rss(at - w, at + w);
        let separate = self.line_rss(at - w, at) + self.line_rss(at, at + w);
        let gain = (joint - separate).max(0.0);
        let dof = (2 * w - 4) as f64;
        if separate <= tiny {
            return if gain > tiny { f64::INFINITY } else { 0.0 };
        }
        (gain / 2.0) / (separate / dof)
    }
}

/// `P(no F(2, dof) of `tests` draws exceeds f)`: the F CDF with 2 numerator degrees of freedom is
/// `1 − (1 + 2f/dof)^(−dof/2)`.
fn confidence(f: f64, dof: f64, tests: usize) -> f64 {
    if f.is_infinite() {
        return 1.0;
    }
    let tail = (1.0 + 2.0 * f / dof).powf(-dof / 2.0);
    (tests as f64 * (-tail).ln_1p()).exp()
}

/// Finds the change points of a checked request.
pub fn detect(options: &ChangePointOptions) -> ChangePointResult {
    let (linear, kept) = options.series.filled(super::options::ImputeMode::Linear, 0);
    let period =
        options.period.unwrap_or_else(|| period::for_series(&linear, options.granularity, options.custom_interval));
    let values: Vec<f64> = if period > 1 && linear.len() > period.saturating_mul(2) {
        let d = seasonal::decompose(&linear, period);
        linear.iter().zip(&d.seasonal).map(|(v, s)| v - s).collect()
    } else {
        linear
    };
    let n = values.len();
    let w = options.stable_trend_window.min(n / 2);
    // Standardised, so that the prefix sums stay well-conditioned and "zero" has one scale.
    let (mean, std) = super::robust::mean_std(&values);
    let scale = if std > 0.0 { std } else { 1.0 };
    let standard: Vec<f64> = values.iter().map(|v| (v - mean) / scale).collect();
    let sums = Sums::new(&standard);
    let tiny = 1e-9 * (2 * w) as f64;
    let mut stats = vec![0.0; n];
    if w >= 3 {
        for (i, stat) in stats.iter_mut().enumerate().take(n - w + 1).skip(w) {
            *stat = sums.chow(i, w, tiny);
        }
    }
    let tests = (n + 1).saturating_sub(2 * w).max(1);
    let dof = (2 * w).saturating_sub(4).max(1) as f64;
    let scores: Vec<f64> = stats.iter().map(|&f| if f > 0.0 { confidence(f, dof, tests) } else { 0.0 }).collect();
    let is_change: Vec<bool> = (0..n)
        .map(|i| {
            if scores[i] < options.threshold {
                return false;
            }
            // The strongest break within a window either side (the first of equals).
            let (lo, hi) = (i.saturating_sub(w), (i + w).min(n - 1));
            (lo..=hi).all(|j| stats[j] < stats[i] || (stats[j] == stats[i] && j >= i))
        })
        .collect();
    ChangePointResult {
        period,
        is_change_point: kept.iter().map(|&i| is_change[i]).collect(),
        confidence_scores: kept.iter().map(|&i| scores[i]).collect(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn request(values: &[f64], extra: Value) -> ChangePointOptions {
        let series: Vec<Value> = values
            .iter()
            .enumerate()
            .map(|(i, v)| json!({"timestamp": format!("2021-01-01T{:02}:{:02}:00Z", i / 60, i % 60), "value": v}))
            .collect();
        let mut body = json!({"series": series, "granularity": "minutely"});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        ChangePointOptions::from_json(&body).unwrap()
    }

    fn noise(i: usize) -> f64 {
        [0.4, -0.7, 0.2, 0.9, -0.3, -0.5, 0.6, -0.1, 0.3, -0.8, 0.0][i % 11]
    }

    #[test]
    fn a_level_shift_is_one_change_point() {
        let values: Vec<f64> = (0..120).map(|i| if i < 70 { 10.0 } else { 16.0 } + noise(i)).collect();
        let result = detect(&request(&values, json!({"stableTrendWindow": 10, "threshold": 0.9, "period": 0})));
        let found: Vec<usize> = (0..120).filter(|&i| result.is_change_point[i]).collect();
        assert_eq!(found, [70], "{:?}", &result.confidence_scores[60..80]);
        assert!(result.confidence_scores[70] > 0.99);
    }

    #[test]
    fn a_change_of_slope_is_found_and_steady_noise_is_not() {
        let values: Vec<f64> =
            (0..120).map(|i| if i < 60 { 5.0 } else { 5.0 + 0.5 * (i - 60) as f64 } + noise(i)).collect();
        let result = detect(&request(&values, json!({"stableTrendWindow": 15, "period": 0})));
        let found: Vec<usize> = (0..120).filter(|&i| result.is_change_point[i]).collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].abs_diff(60) <= 3, "{found:?}");
        let steady: Vec<f64> = (0..120).map(|i| 3.0 + 0.1 * i as f64 + noise(i)).collect();
        let result = detect(&request(&steady, json!({"stableTrendWindow": 10, "period": 0})));
        assert!(result.is_change_point.iter().all(|c| !c), "{:?}", result.confidence_scores);
    }
}
