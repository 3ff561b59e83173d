//! Points placed on their time grid: each timestamp becomes a step number from the first one
//! (`granularity × customInterval` per step, calendar months and years for `monthly` and
//! `yearly`), gaps are allowed and filled as the request's `imputeMode` says.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::error::AnomalyError;
use super::options::{Granularity, ImputeMode};

/// Most grid steps a series may span, gaps included (4 × the most points), so a few points far
/// apart cannot make the detector allocate a huge grid.
pub const MAX_GRID: usize = 4 * super::options::MAX_POINTS;

/// A series on its grid.
#[derive(Debug, Clone)]
pub struct Series {
    /// The values as sent.
    pub values: Vec<f64>,
    /// The grid step of each value (strictly increasing, from 0).
    pub steps: Vec<usize>,
}

impl Series {
    /// A series with no gaps.
    pub fn contiguous(values: Vec<f64>) -> Self {
        let steps = (0..values.len()).collect();
        Self { values, steps }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Steps from the first point to the last, both included.
    pub fn grid_len(&self) -> usize {
        self.steps.last().map_or(0, |last| last + 1)
    }

    /// The series on every step of its grid, gaps filled (`NotFill` and a gapless series keep the
    /// points as sent), and which grid positions hold a point that was sent.
    pub fn filled(&self, mode: ImputeMode, seasonal_period: usize) -> (Vec<f64>, Vec<usize>) {
        if self.grid_len() == self.len() || mode == ImputeMode::NotFill {
            return (self.values.clone(), (0..self.len()).collect());
        }
        let mut grid = vec![f64::NAN; self.grid_len()];
        for (&step, &v) in self.steps.iter().zip(&self.values) {
            grid[step] = v;
        }
        match mode {
            ImputeMode::Fixed(value) => fill_with(&mut grid, |_, _| value),
            ImputeMode::Zero => fill_with(&mut grid, |_, _| 0.0),
            ImputeMode::Previous => fill_with(&mut grid, |grid, i| grid[i - 1]),
            ImputeMode::Linear | ImputeMode::NotFill => self.interpolate(&mut grid),
            ImputeMode::Auto if seasonal_period > 1 => {
                // Same phase of the neighbouring cycles first, then a straight line for the rest.
                let p = seasonal_period;
                let known = grid.clone();
                for (i, slot) in grid.iter_mut().enumerate() {
                    if !slot.is_nan() {
                        continue;
                    }
                    let same_phase: Vec<f64> = [i.checked_sub(p), i.checked_add(p).filter(|&j| j < known.len())]
                        .into_iter()
                        .flatten()
                        .map(|j| known[j])
                        .filter(|v| !v.is_nan())
                        .collect();
                    if !same_phase.is_empty() {
                        *slot = same_phase.iter().sum::<f64>() / same_phase.len() as f64;
                    }
                }
                self.interpolate(&mut grid);
            }
            ImputeMode::Auto => self.interpolate(&mut grid),
        }
        (grid, self.steps.clone())
    }

    /// Fills the NaN steps between sent points on straight lines.
    fn interpolate(&self, grid: &mut [f64]) {
        let mut last: Option<usize> = None;
        for i in 0..grid.len() {
            if grid[i].is_nan() {
                continue;
            }
            if let Some(prev) = last
                && i > prev + 1
            {
                let (a, b) = (grid[prev], grid[i]);
                for (k, slot) in grid.iter_mut().enumerate().take(i).skip(prev + 1) {
                    *slot = a + (b - a) * (k - prev) as f64 / (i - prev) as f64;
                }
            }
            last = Some(i);
        }
    }
}

fn fill_with(grid: &mut [f64], value: impl Fn(&[f64], usize) -> f64) {
    for i in 0..grid.len() {
        if grid[i].is_nan() {
            grid[i] = value(grid, i);
        }
    }
}

/// An ISO-8601 timestamp: RFC 3339, or without an offset (taken as UTC), or a date alone.
pub fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t.to_offset(time::UtcOffset::UTC));
    }
    let naive = format_description!(
        version = 2,
        "[year]-[month]-[day][optional [T[hour]:[minute][optional [:[second][optional [.[subsecond]]]]]]]"
    );
    PrimitiveDateTime::parse(text, naive).ok().map(PrimitiveDateTime::assume_utc).or_else(|| {
        let date = format_description!("[year]-[month]-[day]");
        time::Date::parse(text, date).ok().map(|d| d.midnight().assume_utc())
    })
}

/// Places the points on their grid, checking order, duplicates and that each lies on a step.
pub fn place(
    values: Vec<f64>,
    stamps: &[Option<OffsetDateTime>],
    granularity: Granularity,
    custom_interval: u32,
) -> Result<Series, AnomalyError> {
    if granularity == Granularity::None || stamps.iter().any(Option::is_none) {
        check_order(stamps.iter().flatten())?;
        return Ok(Series::contiguous(values));
    }
    let times: Vec<OffsetDateTime> = stamps.iter().flatten().copied().collect();
    check_order(times.iter())?;
    let first = times[0];
    let interval = i128::from(custom_interval);
    let off_grid = |i: usize| {
        AnomalyError::invalid_series(format!(
            "The 'timestamp' at index {i} is invalid in {} granularity with {custom_interval} gran as interval.",
            granularity.name()
        ))
    };
    let mut steps = Vec::with_capacity(times.len());
    for (i, t) in times.iter().enumerate() {
        let units = match granularity {
            Granularity::Monthly | Granularity::Yearly => {
                let months = (i128::from(t.year()) - i128::from(first.year())) * 12
                    + (i128::from(u8::from(t.month())) - i128::from(u8::from(first.month())));
                let same_within = t.day() == first.day() && t.time() == first.time();
                let whole = if granularity == Granularity::Yearly { t.month() == first.month() } else { true };
                if !same_within || !whole {
                    return Err(off_grid(i));
                }
                if granularity == Granularity::Yearly { months / 12 } else { months }
            }
            _ => {
                let unit = unit_nanos(granularity);
                let elapsed = (*t - first).whole_nanoseconds();
                if elapsed % unit != 0 {
                    return Err(off_grid(i));
                }
                elapsed / unit
            }
        };
        if units % interval != 0 {
            return Err(off_grid(i));
        }
        let step = usize::try_from(units / interval).unwrap_or(usize::MAX);
        if step >= MAX_GRID {
            return Err(AnomalyError::invalid_series(format!(
                "The series spans more than {MAX_GRID} {} steps of {custom_interval}; send fewer gaps.",
                granularity.name()
            )));
        }
        steps.push(step);
    }
    Ok(Series { values, steps })
}

fn unit_nanos(granularity: Granularity) -> i128 {
    const SECOND: i128 = 1_000_000_000;
    match granularity {
        Granularity::Weekly => 7 * 86_400 * SECOND,
        Granularity::Daily => 86_400 * SECOND,
        Granularity::Hourly => 3_600 * SECOND,
        Granularity::Minutely => 60 * SECOND,
        Granularity::Secondly => SECOND,
        _ => 1_000,
    }
}

fn check_order<'a>(times: impl Iterator<Item = &'a OffsetDateTime>) -> Result<(), AnomalyError> {
    let mut previous: Option<&OffsetDateTime> = None;
    for t in times {
        if let Some(p) = previous {
            if t == p {
                return Err(AnomalyError::invalid_series("The 'series' field cannot have duplicated timestamp."));
            }
            if t < p {
                return Err(AnomalyError::invalid_series(
                    "The 'series' field must be sorted by timestamp in ascending order.",
                ));
            }
        }
        previous = Some(t);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<OffsetDateTime> {
        parse_timestamp(text)
    }

    #[test]
    fn parses_the_forms_clients_send() {
        assert!(at("2018-03-01T00:00:00Z").is_some());
        assert!(at("2018-03-01T12:30:00.123456Z").is_some());
        assert_eq!(at("2018-03-01T02:00:00+02:00"), at("2018-03-01T00:00:00Z"));
        assert_eq!(at("2018-03-01T00:00:00"), at("2018-03-01T00:00:00Z"));
        assert_eq!(at("2018-03-01"), at("2018-03-01T00:00:00Z"));
        assert!(at("yesterday").is_none());
    }

    #[test]
    fn months_are_calendar_months_and_gaps_are_filled() {
        let stamps: Vec<_> =
            ["2020-01-31T00:00:00Z", "2020-03-31T00:00:00Z", "2020-04-30T00:00:00Z"].iter().map(|s| at(s)).collect();
        assert!(place(vec![1.0, 2.0, 3.0], &stamps, Granularity::Monthly, 1).is_err());
        let stamps: Vec<_> =
            ["2020-01-01T00:00:00Z", "2020-03-01T00:00:00Z", "2020-04-01T00:00:00Z"].iter().map(|s| at(s)).collect();
        let series = place(vec![1.0, 3.0, 4.0], &stamps, Granularity::Monthly, 1).unwrap();
        assert_eq!(series.steps, [0, 2, 3]);
        let (grid, kept) = series.filled(ImputeMode::Linear, 0);
        assert_eq!(grid, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(kept, [0, 2, 3]);
        assert_eq!(series.filled(ImputeMode::Previous, 0).0, [1.0, 1.0, 3.0, 4.0]);
        assert_eq!(series.filled(ImputeMode::Fixed(9.0), 0).0, [1.0, 9.0, 3.0, 4.0]);
    }

    #[test]
    fn a_far_point_cannot_make_a_huge_grid() {
        let stamps = [at("2020-01-01T00:00:00Z"), at("2030-01-01T00:00:00Z")];
        let err = place(vec![1.0, 2.0], &stamps, Granularity::Secondly, 1).unwrap_err();
        assert_eq!(err.code, "InvalidSeries");
    }
}
