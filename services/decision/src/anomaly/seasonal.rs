//! Seasonal decomposition of a series with a known period: `value = trend + seasonal + remainder`,
//! robust to the anomalies it is meant to expose (in the spirit of robust STL: points far off the
//! fit get no weight and the fit is redone).
//!
//! Written here: STL proper needs LOESS smoothing of every cycle-subseries; a per-phase median of
//! the detrended series and a local linear trend give the same split on the series this API sees
//! (at most 8640 points, a fixed seasonal shape) at a fraction of the cost.

use super::robust::{local_linear, median, robust_sigma};

/// Robustness passes over the fit.
const PASSES: usize = 3;
/// A point this many robust sigmas off the fit stops pulling it.
const CUTOFF: f64 = 4.0;

/// The decomposition, and each point's robustness weight (0 for points the fit ignored).
pub struct Decomposition {
    pub trend: Vec<f64>,
    pub seasonal: Vec<f64>,
    pub weights: Vec<f64>,
}

impl Decomposition {
    pub fn expected(&self) -> Vec<f64> {
        self.trend.iter().zip(&self.seasonal).map(|(t, s)| t + s).collect()
    }
}

/// The trend window for a period: the odd number at or above 1.5 periods (as STL's default),
/// at least 7.
fn trend_window(period: usize, n: usize) -> usize {
    let w = (3 * period).div_ceil(2).max(7);
    (w | 1).min(n)
}

/// Splits `values` (no gaps) with `period` points per cycle, `period >= 2`.
pub fn decompose(values: &[f64], period: usize) -> Decomposition {
    fit(values, period, trend_window(period, values.len()))
}

/// A robust local linear trend alone (no seasonal component) over `window` points.
pub fn robust_trend(values: &[f64], window: usize) -> Decomposition {
    fit(values, 1, window.min(values.len()))
}

fn fit(values: &[f64], period: usize, window: usize) -> Decomposition {
    let n = values.len();
    let mut weights = vec![1.0; n];
    let mut seasonal = vec![0.0; n];
    let mut trend = vec![0.0; n];
    for _ in 0..PASSES {
        let deseasoned: Vec<f64> = values.iter().zip(&seasonal).map(|(v, s)| v - s).collect();
        trend = local_linear(&deseasoned, &weights, window);
        // Each phase's median offset from the trend, over the points still trusted.
        let mut phases = vec![Vec::new(); period.max(1)];
        for i in 0..n {
            if weights[i] > 0.0 {
                phases[i % period.max(1)].push(values[i] - trend[i]);
            }
        }
        let mut shape: Vec<f64> = if period < 2 {
            vec![0.0; 1]
        } else {
            phases.iter().map(|p| if p.is_empty() { 0.0 } else { median(p) }).collect()
        };
        let level = shape.iter().sum::<f64>() / shape.len() as f64;
        shape.iter_mut().for_each(|s| *s -= level);
        for (i, s) in seasonal.iter_mut().enumerate() {
            *s = shape[i % shape.len()];
        }
        let remainder: Vec<f64> = (0..n).map(|i| values[i] - trend[i] - seasonal[i]).collect();
        let sigma = robust_sigma(&remainder);
        let centre = median(&remainder);
        for i in 0..n {
            let off = (remainder[i] - centre).abs();
            weights[i] = if sigma > 0.0 && off > CUTOFF * sigma { 0.0 } else { 1.0 };
        }
    }
    Decomposition { trend, seasonal, weights }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_trend_and_season_and_ignores_a_spike() {
        let shape = [0.0, 5.0, 9.0, 5.0, 0.0, -5.0, -9.0, -5.0];
        let mut values: Vec<f64> = (0..96).map(|i| 100.0 + 0.5 * i as f64 + shape[i % 8]).collect();
        values[50] += 60.0;
        let d = decompose(&values, 8);
        let expected = d.expected();
        for i in 0..96 {
            let truth = 100.0 + 0.5 * i as f64 + shape[i % 8];
            assert!((expected[i] - truth).abs() < 0.5, "{i}: {} vs {truth}", expected[i]);
        }
        assert_eq!(d.weights[50], 0.0);
    }
}
