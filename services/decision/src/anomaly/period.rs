//! The period of a series: the lag at which the series best correlates with itself.
//!
//! The autocorrelation is computed with FFTs (the series less its linear trend, zero-padded);
//! among its local maxima past the first dip below zero, the smallest lag within 10% of the best
//! correlation is the period (so a multiple of the period does not win by noise). No period when
//! the best correlation is weak.

use rustfft::FftPlanner;
use rustfft::num_complex::Complex;

use super::options::Granularity;
use super::robust::{median, robust_sigma};

/// Weakest autocorrelation taken as a period.
const MIN_CORRELATION: f64 = 0.3;
/// Shortest period, in points.
const MIN_PERIOD: usize = 2;

/// The series less its least-squares line.
fn detrended(values: &[f64]) -> Vec<f64> {
    let n = values.len() as f64;
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = values.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, y) in values.iter().enumerate() {
        let dx = i as f64 - mean_x;
        sxy += dx * (y - mean_y);
        sxx += dx * dx;
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    values.iter().enumerate().map(|(i, y)| y - mean_y - slope * (i as f64 - mean_x)).collect()
}

/// The normalised autocorrelation at lags 0..len.
pub fn autocorrelation(values: &[f64]) -> Vec<f64> {
    let n = values.len();
    if n == 0 {
        return Vec::new();
    }
    let centred = detrended(values);
    let size = (2 * n).next_power_of_two();
    let mut buffer: Vec<Complex<f64>> = centred
        .iter()
        .map(|&v| Complex::new(v, 0.0))
        .chain(std::iter::repeat(Complex::new(0.0, 0.0)))
        .take(size)
        .collect();
    let mut planner = FftPlanner::<f64>::new();
    planner.plan_fft_forward(size).process(&mut buffer);
    for c in buffer.iter_mut() {
        *c = Complex::new(c.norm_sqr(), 0.0);
    }
    planner.plan_fft_inverse(size).process(&mut buffer);
    let zero = buffer[0].re;
    if zero <= 0.0 {
        return vec![0.0; n];
    }
    buffer.iter().take(n).map(|c| c.re / zero).collect()
}

/// The period of the series in points, if it has one (at most half its length).
pub fn detect(values: &[f64]) -> Option<usize> {
    let acf = autocorrelation(values);
    let max_lag = values.len() / 2;
    if max_lag <= MIN_PERIOD {
        return None;
    }
    let start = acf.iter().position(|&r| r < 0.0)?;
    let peaks: Vec<(usize, f64)> = (start.max(MIN_PERIOD)..max_lag)
        .filter(|&l| acf[l] >= acf[l - 1] && acf[l] >= acf[l + 1])
        .map(|l| (l, acf[l]))
        .collect();
    let best = peaks.iter().map(|p| p.1).fold(f64::MIN, f64::max);
    if best < MIN_CORRELATION {
        return None;
    }
    peaks.iter().find(|p| p.1 >= 0.9 * best).map(|p| p.0)
}

/// The periods worth trying first for a granularity (a week, a day, two days, a year...), as
/// points per cycle at `custom_interval` units per point.
fn usual_periods(granularity: Granularity, custom_interval: u32) -> Vec<usize> {
    let per = |units: usize| units / custom_interval as usize;
    match granularity {
        Granularity::Daily => vec![7],
        Granularity::Hourly => vec![per(168), per(24)],
        Granularity::Minutely => vec![per(10_080), per(1_440), per(2_880)],
        Granularity::Secondly => vec![per(604_800), per(86_400), per(172_800)],
        Granularity::Weekly => vec![12, 4],
        Granularity::Monthly => vec![12],
        Granularity::Microsecond => vec![1000],
        Granularity::Yearly | Granularity::None => vec![],
    }
}

/// How much of the variance of the (detrended, spike-clipped) series the mean of each phase
/// explains, cross-validated (GCV: the fit's error inflated by `1/(1 - p/n)^2` for its p means).
pub fn explained_variance(values: &[f64], period: usize) -> f64 {
    let n = values.len();
    if period < 2 || n <= 2 * period {
        return 0.0;
    }
    let clipped = despiked(&detrended(values));
    let mut sums = vec![(0.0, 0usize); period];
    for (i, v) in clipped.iter().enumerate() {
        sums[i % period].0 += v;
        sums[i % period].1 += 1;
    }
    let mean = clipped.iter().sum::<f64>() / n as f64;
    let total: f64 = clipped.iter().map(|v| (v - mean).powi(2)).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let rss: f64 =
        clipped.iter().enumerate().map(|(i, v)| (v - sums[i % period].0 / sums[i % period].1 as f64).powi(2)).sum();
    let inflation = (1.0 - period as f64 / n as f64).powi(2);
    1.0 - rss / inflation / total
}

/// The series with values more than 5 robust sigmas from its median pulled in to that bound, so
/// that one spike does not decide its correlations.
fn despiked(values: &[f64]) -> Vec<f64> {
    let sigma = robust_sigma(values);
    let centre = median(values);
    values.iter().map(|v| v.max(centre - 5.0 * sigma).min(centre + 5.0 * sigma)).collect()
}

/// The period Azure would use for a series sent at `granularity` (0: none): the usual periods of
/// the granularity first, each taken when the phase means explain enough of the variance (more is
/// asked of short periods, which fit noise more easily), then the autocorrelation's, which must
/// explain a fifth of it over more than three cycles.
pub fn for_series(values: &[f64], granularity: Granularity, custom_interval: u32) -> usize {
    let n = values.len();
    for period in usual_periods(granularity, custom_interval) {
        if period < 4 || n <= 2 * period {
            continue;
        }
        let bar = if period <= 24 {
            0.35
        } else if period <= 168 {
            0.15
        } else {
            0.10
        };
        if explained_variance(values, period) >= bar {
            return period;
        }
    }
    match detect(&despiked(&detrended(values))) {
        Some(period) if n > 3 * period && explained_variance(values, period) >= 0.2 => period,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seasonal(period: f64, len: usize, trend: f64) -> Vec<f64> {
        (0..len)
            .map(|i| {
                let x = i as f64;
                let noise = ((i * 7919) % 13) as f64 / 13.0 - 0.5;
                50.0 + trend * x + 10.0 * (2.0 * std::f64::consts::PI * x / period).sin() + noise
            })
            .collect()
    }

    #[test]
    fn finds_the_period_of_a_trending_seasonal_series() {
        assert_eq!(detect(&seasonal(24.0, 24 * 14, 0.05)), Some(24));
        assert_eq!(detect(&seasonal(7.0, 7 * 20, 0.0)), Some(7));
        assert_eq!(for_series(&seasonal(24.0, 24 * 7, 0.05), Granularity::Hourly, 1), 24);
        assert_eq!(for_series(&seasonal(24.0, 24 * 7, 0.05), Granularity::None, 1), 24);
    }

    #[test]
    fn noise_has_no_period() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<f64> = (0..300)
            .map(|_| {
                // xorshift64
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 1000) as f64
            })
            .collect();
        assert_eq!(detect(&noise), None);
        assert_eq!(for_series(&noise, Granularity::Daily, 1), 0);
        assert_eq!(detect(&[1.0, 2.0, 3.0]), None);
    }
}
