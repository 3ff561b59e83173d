//! The spectral residual (SR) saliency of a series (Hou and Zhang's visual saliency, applied to
//! time series by Ren et al., KDD 2019): the log amplitude spectrum less its local average keeps
//! what is unexpected; transformed back, points that stand out get a high saliency, and a point's
//! score is how far its saliency is above the local average saliency.
//!
//! Written here: the method is a few FFTs and moving averages (rustfft does the transforms).

use rustfft::FftPlanner;
use rustfft::num_complex::Complex;

/// Window of the average over the log amplitude spectrum (the paper's q).
const MAG_WINDOW: usize = 3;
/// Window of the average saliency a point is compared with (the paper's z).
const SCORE_WINDOW: usize = 21;
/// Points appended past the end, estimated from the last ones, so that the last real point is not
/// at the edge of the transform (the paper's extension).
const EXTEND: usize = 5;
const LOOK_AHEAD: usize = 5;
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

/// The next value after `values`, from the average slope of the last point against the others.
fn predict_next(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 2 {
        return values.last().copied().unwrap_or(0.0);
    }
    let last = values[n - 1];
    let slope: f64 = values[..n - 1].iter().enumerate().map(|(i, v)| (last - v) / (n - 1 - i) as f64).sum();
    values[1] + slope
}

/// The series with [`EXTEND`] estimated points appended.
fn extended(values: &[f64]) -> Vec<f64> {
    let tail = &values[values.len().saturating_sub(LOOK_AHEAD + 2)..values.len().saturating_sub(1).max(1)];
    let next = predict_next(tail);
    values.iter().copied().chain(std::iter::repeat_n(next, EXTEND)).collect()
}

/// The saliency map of a series (as long as the series).
pub fn saliency(values: &[f64]) -> Vec<f64> {
    if values.len() < 2 {
        return vec![0.0; values.len()];
    }
    let series = extended(values);
    let n = series.len();
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
    spectrum.iter().take(values.len()).map(|c| c.norm() / n as f64).collect()
}

/// Each point's anomaly score in 0..=1: how far its saliency is above the average saliency of the
/// points before it, relative to that average (divided by 10 and capped, as the paper's service
/// scores it).
pub fn scores(values: &[f64]) -> Vec<f64> {
    let saliency = saliency(values);
    let average = average_filter(&saliency, SCORE_WINDOW);
    saliency.iter().zip(&average).map(|(s, a)| ((s - a) / a.max(EPS) / 10.0).clamp(0.0, 1.0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_filter_trails() {
        assert_eq!(average_filter(&[1.0, 2.0, 3.0, 4.0], 2), [1.0, 1.5, 2.5, 3.5]);
    }

    #[test]
    fn a_spike_stands_out_from_a_seasonal_series() {
        let mut values: Vec<f64> =
            (0..200).map(|i| 10.0 + 3.0 * (2.0 * std::f64::consts::PI * i as f64 / 24.0).sin()).collect();
        values[130] += 12.0;
        let scores = scores(&values);
        let best = scores.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i);
        assert_eq!(best, Some(130), "{:?}", &scores[120..140]);
        // The seasonal peaks score far below the spike.
        let peak = scores[6 + 24 * 3];
        assert!(scores[130] > 3.0 * peak.max(1e-3), "spike {} peak {}", scores[130], peak);
    }
}
