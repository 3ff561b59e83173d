//! Robust statistics the detectors share: medians, the median absolute deviation, and a local
//! linear trend that ignores the points given zero weight (suspected anomalies).
//!
//! Written here: a handful of order statistics and a sliding weighted least-squares fit over
//! prefix sums, O(n) whatever the window; no statistics crate offers the weighted sliding fit.

/// The median (NaN for no values).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 { sorted[mid] } else { (sorted[mid - 1] + sorted[mid]) / 2.0 }
}

/// A robust estimate of the standard deviation of `residuals` around zero-ish data: the median
/// absolute deviation scaled to a normal's sigma; when over half the residuals are equal (MAD 0),
/// the mean absolute deviation, so that one point off a flat line still has a finite z-score.
pub fn robust_sigma(residuals: &[f64]) -> f64 {
    let centre = median(residuals);
    let deviations: Vec<f64> = residuals.iter().map(|r| (r - centre).abs()).collect();
    let mad = median(&deviations) / 0.6745;
    if mad > 1e-12 {
        return mad;
    }
    deviations.iter().sum::<f64>() / deviations.len().max(1) as f64 * 1.2533
}

/// Each point's value on the weighted least-squares line through the `window` points around it
/// (the window is shifted, not shrunk, at the ends, so the trend follows a slope to the edge).
/// Points of weight 0 do not pull the line. A window with too little weight falls back to all
/// its points.
pub fn local_linear(values: &[f64], weights: &[f64], window: usize) -> Vec<f64> {
    let n = values.len();
    if n == 0 {
        return Vec::new();
    }
    let window = window.clamp(1, n);
    let half = window / 2;
    let centre = (n as f64 - 1.0) / 2.0;
    // Prefix sums of w, w·t, w·t², w·x, w·t·x, weighted and unweighted.
    let sums = |weight: &dyn Fn(usize) -> f64| {
        let mut acc = vec![[0.0f64; 5]; n + 1];
        for i in 0..n {
            let (w, t, x) = (weight(i), i as f64 - centre, values[i]);
            let step = [w, w * t, w * t * t, w * x, w * t * x];
            for k in 0..5 {
                acc[i + 1][k] = acc[i][k] + step[k];
            }
        }
        acc
    };
    let weighted = sums(&|i| weights[i]);
    let plain = sums(&|_| 1.0);
    (0..n)
        .map(|i| {
            let start = i.saturating_sub(half).min(n - window);
            let end = start + window;
            let t = i as f64 - centre;
            fit_at(&weighted, start, end, t).or_else(|| fit_at(&plain, start, end, t)).unwrap_or(values[i])
        })
        .collect()
}

fn fit_at(acc: &[[f64; 5]], start: usize, end: usize, t: f64) -> Option<f64> {
    let s: Vec<f64> = (0..5).map(|k| acc[end][k] - acc[start][k]).collect();
    let (w, wt, wtt, wx, wtx) = (s[0], s[1], s[2], s[3], s[4]);
    if w < 2.0 {
        return if w > 0.5 { Some(wx / w) } else { None };
    }
    let mean_t = wt / w;
    let mean_x = wx / w;
    let var_t = wtt / w - mean_t * mean_t;
    let slope = if var_t > 1e-9 { (wtx / w - mean_t * mean_x) / var_t } else { 0.0 };
    Some(mean_x + slope * (t - mean_t))
}

/// The mean and standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_sigma() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(robust_sigma(&[0.0; 10]).abs() < 1e-12);
        let mut flat = vec![0.0; 10];
        flat[3] = 10.0;
        assert!(robust_sigma(&flat) > 0.0);
    }

    #[test]
    fn the_local_line_follows_a_slope_and_ignores_zero_weight_points() {
        let mut values: Vec<f64> = (0..50).map(|i| 2.0 * i as f64 + 1.0).collect();
        values[20] = 500.0;
        let mut weights = vec![1.0; 50];
        weights[20] = 0.0;
        let trend = local_linear(&values, &weights, 9);
        for (i, t) in trend.iter().enumerate() {
            assert!((t - (2.0 * i as f64 + 1.0)).abs() < 1e-6, "{i}: {t}");
        }
    }
}
