//! The request of the univariate calls, read from its JSON and checked in the order Azure checks it
//! (body, granularity, customInterval, period, maxAnomalyRatio, sensitivity, threshold, imputeMode,
//! then the series), with Azure's error codes and messages.

use serde_json::{Map, Value};

use super::error::AnomalyError;
use super::grid::{self, Series};

/// Fewest and most points in a series (Azure's limits).
pub const MIN_POINTS: usize = 12;
pub const MAX_POINTS: usize = 8640;
/// Largest magnitude of a value.
const MAX_MAGNITUDE: f64 = 1e100;

/// How far apart the points are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Yearly,
    Monthly,
    Weekly,
    Daily,
    Hourly,
    Minutely,
    Secondly,
    Microsecond,
    None,
}

impl Granularity {
    pub const NAMES: [&'static str; 9] =
        ["daily", "minutely", "hourly", "weekly", "monthly", "yearly", "secondly", "microsecond", "none"];

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "yearly" => Self::Yearly,
            "monthly" => Self::Monthly,
            "weekly" => Self::Weekly,
            "daily" => Self::Daily,
            "hourly" => Self::Hourly,
            "minutely" => Self::Minutely,
            "secondly" => Self::Secondly,
            "microsecond" => Self::Microsecond,
            "none" => Self::None,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Yearly => "yearly",
            Self::Monthly => "monthly",
            Self::Weekly => "weekly",
            Self::Daily => "daily",
            Self::Hourly => "hourly",
            Self::Minutely => "minutely",
            Self::Secondly => "secondly",
            Self::Microsecond => "microsecond",
            Self::None => "none",
        }
    }
}

/// How missing points on the grid are filled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ImputeMode {
    Auto,
    Previous,
    Linear,
    Fixed(f64),
    Zero,
    NotFill,
}

/// The options of `entire/detect` and `last/detect`.
#[derive(Debug, Clone)]
pub struct DetectOptions {
    pub series: Series,
    pub granularity: Granularity,
    pub custom_interval: u32,
    /// Points per cycle when given (0: no seasonality).
    pub period: Option<usize>,
    pub max_anomaly_ratio: f64,
    pub sensitivity: u32,
    pub impute: ImputeMode,
}

/// The options of `changepoint/detect`.
#[derive(Debug, Clone)]
pub struct ChangePointOptions {
    pub series: Series,
    pub granularity: Granularity,
    pub custom_interval: u32,
    pub period: Option<usize>,
    pub stable_trend_window: usize,
    pub threshold: f64,
}

/// The fields both kinds of request share, checked.
struct Common {
    granularity: Granularity,
    custom_interval: u32,
    period: Option<usize>,
}

fn object(body: &Value) -> Result<&Map<String, Value>, AnomalyError> {
    body.as_object().ok_or_else(|| {
        AnomalyError::new("InvalidJsonFormat", "Invalid Json Format, the request body must be an object.")
    })
}

fn present<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    body.get(key).filter(|v| !v.is_null())
}

fn common(body: &Map<String, Value>, granularity_required: bool) -> Result<Common, AnomalyError> {
    let granularity = match present(body, "granularity") {
        None if granularity_required => {
            return Err(AnomalyError::new("RequiredGranularity", "The 'granularity' field is required in request."));
        }
        None => Granularity::None,
        Some(value) => value.as_str().and_then(Granularity::parse).ok_or_else(|| {
            AnomalyError::new(
                "InvalidGranularity",
                format!("The 'granularity' field can only be one of the following: {:?}.", Granularity::NAMES)
                    .replace('"', "'"),
            )
        })?,
    };
    let custom_interval = match present(body, "customInterval") {
        None => 1,
        Some(value) => value.as_u64().filter(|&v| v > 0).and_then(|v| u32::try_from(v).ok()).ok_or_else(|| {
            AnomalyError::new("InvalidCustomInterval", "The 'customInterval' field must be an integer > 0.")
        })?,
    };
    let period = match present(body, "period") {
        None => None,
        Some(value) => Some(
            value
                .as_u64()
                .and_then(|v| usize::try_from(v).ok())
                .ok_or_else(|| AnomalyError::new("InvalidPeriod", "The 'period' field must be an integer >= 0."))?,
        ),
    };
    Ok(Common { granularity, custom_interval, period })
}

fn series(body: &Map<String, Value>, common: &Common) -> Result<Series, AnomalyError> {
    let points = match body.get("series") {
        None => return Err(AnomalyError::new("RequiredSeries", "The 'series' field is required in request.")),
        Some(Value::Null) => return Err(AnomalyError::bad_argument("The 'series' field cannot be empty.")),
        Some(Value::Array(points)) => points,
        Some(_) => return Err(AnomalyError::bad_argument("The 'series' field must be array/list type.")),
    };
    if points.len() < MIN_POINTS {
        return Err(AnomalyError::invalid_series(format!(
            "The 'series' field must have at least {MIN_POINTS} points."
        )));
    }
    if points.len() > MAX_POINTS {
        return Err(AnomalyError::invalid_series(format!(
            "The 'series' field cannot have more than {MAX_POINTS} points."
        )));
    }
    let malformed = || AnomalyError::bad_argument("'timestamp' or 'value' is malformed in 'series' Field.");
    let mut values = Vec::with_capacity(points.len());
    let mut stamps = Vec::with_capacity(points.len());
    for point in points {
        let point = point.as_object().ok_or_else(malformed)?;
        let value = match point.get("value") {
            None | Some(Value::Null) => {
                return Err(AnomalyError::bad_argument("The 'series' field cannot have none values."));
            }
            Some(v) => v.as_f64().ok_or_else(malformed)?,
        };
        let stamp = match present(point, "timestamp") {
            None if common.granularity == Granularity::None => None,
            None => return Err(malformed()),
            Some(v) => match v.as_str().and_then(grid::parse_timestamp) {
                Some(t) => Some(t),
                None if common.granularity == Granularity::None => None,
                None => return Err(malformed()),
            },
        };
        values.push(value);
        stamps.push(stamp);
    }
    if values.iter().any(|v| v.abs() > MAX_MAGNITUDE) {
        return Err(AnomalyError::invalid_series("The magnitude of data in 'value' in 'series' field is too large."));
    }
    let series = grid::place(values, &stamps, common.granularity, common.custom_interval)?;
    if let Some(period) = common.period
        && series.grid_len() < period.saturating_mul(2).saturating_add(1)
    {
        return Err(AnomalyError::invalid_model_argument("The 'series' field must have more than 2 periods points"));
    }
    Ok(series)
}

impl DetectOptions {
    /// Reads and checks a request body of `entire/detect` or `last/detect`.
    pub fn from_json(body: &Value) -> Result<Self, AnomalyError> {
        let body = object(body)?;
        let common = common(body, false)?;
        let max_anomaly_ratio = match present(body, "maxAnomalyRatio") {
            None => 0.25,
            Some(value) => value.as_f64().filter(|&r| r > 0.0 && r <= 0.49).ok_or_else(|| {
                AnomalyError::invalid_model_argument(
                    "The 'maxAnomalyRatio' field must be less than 50% of the series points (0 < maxAnomalyRatio < 0.5).",
                )
            })?,
        };
        let sensitivity = match present(body, "sensitivity") {
            None => 99,
            Some(value) => value.as_u64().filter(|&s| s <= 100).map(|s| s as u32).ok_or_else(|| {
                AnomalyError::invalid_model_argument("The 'sensitivity' field must be an integer between 0 and 99.")
            })?,
        };
        let impute = impute_mode(body)?;
        let series = series(body, &common)?;
        Ok(Self {
            series,
            granularity: common.granularity,
            custom_interval: common.custom_interval,
            period: common.period,
            max_anomaly_ratio,
            sensitivity,
            impute,
        })
    }
}

fn impute_mode(body: &Map<String, Value>) -> Result<ImputeMode, AnomalyError> {
    let mode = match present(body, "imputeMode") {
        None => return Ok(ImputeMode::Auto),
        Some(value) => value.as_str().unwrap_or_default(),
    };
    Ok(match mode {
        "auto" => ImputeMode::Auto,
        "previous" | "last" => ImputeMode::Previous,
        "linear" => ImputeMode::Linear,
        "zero" => ImputeMode::Zero,
        "notFill" | "no" => ImputeMode::NotFill,
        "fixed" => ImputeMode::Fixed(
            present(body, "imputeFixedValue").and_then(Value::as_f64).filter(|v| v.abs() <= MAX_MAGNITUDE).ok_or_else(
                || AnomalyError::new("InvalidImputeFixedValue", "The 'imputeFixedValue' field must be a number."),
            )?,
        ),
        _ => {
            return Err(AnomalyError::new(
                "InvalidImputeMode",
                "The 'imputeMode' field is required and should be one of the following: \
                 ['last', 'no', 'auto', 'previous', 'linear', 'zero', 'fixed', 'notFill'].",
            ));
        }
    })
}

impl ChangePointOptions {
    /// Reads and checks a request body of `changepoint/detect`.
    pub fn from_json(body: &Value) -> Result<Self, AnomalyError> {
        let body = object(body)?;
        let common = common(body, true)?;
        let threshold = match present(body, "threshold") {
            None => default_threshold(common.granularity),
            Some(value) => {
                let t = value
                    .as_f64()
                    .ok_or_else(|| AnomalyError::invalid_model_argument("The 'threshold' field must be a float."))?;
                if !(0.01..=0.99).contains(&t) {
                    return Err(AnomalyError::invalid_model_argument(
                        "The 'threshold' field must be an float between 0.01 and 0.99.",
                    ));
                }
                t
            }
        };
        let window = present(body, "stableTrendWindow");
        let series = series(body, &common)?;
        let stable_trend_window = match window {
            None => default_window(common.granularity).min(series.len().saturating_sub(1) / 2).max(3),
            Some(value) => value.as_u64().map_or(0, |w| usize::try_from(w).unwrap_or(usize::MAX)),
        };
        if stable_trend_window < 3 || stable_trend_window >= series.len().div_ceil(2) {
            return Err(AnomalyError::invalid_model_argument(
                "The 'stableTrendWindow' field must be an integer >= 3 and < half of series' length.",
            ));
        }
        Ok(Self {
            series,
            granularity: common.granularity,
            custom_interval: common.custom_interval,
            period: common.period,
            stable_trend_window,
            threshold,
        })
    }
}

/// Azure's default change-point threshold.
fn default_threshold(granularity: Granularity) -> f64 {
    if granularity == Granularity::Hourly { 0.91 } else { 0.9 }
}

/// Azure's default stable trend window by granularity.
fn default_window(granularity: Granularity) -> usize {
    match granularity {
        Granularity::Yearly | Granularity::Weekly => 3,
        Granularity::Monthly => 6,
        Granularity::Daily => 5,
        Granularity::Hourly => 24,
        Granularity::Minutely | Granularity::Secondly => 72,
        Granularity::Microsecond | Granularity::None => 100,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn daily(n: usize) -> Vec<Value> {
        (0..n).map(|i| json!({"timestamp": format!("2018-03-{:02}T00:00:00Z", i + 1), "value": i as f64})).collect()
    }

    fn code(body: Value) -> &'static str {
        DetectOptions::from_json(&body).map(|_| "ok").unwrap_or_else(|e| e.code)
    }

    #[test]
    fn refuses_as_azure_does_in_azures_order() {
        assert_eq!(code(json!({"series": daily(12), "granularity": "daily"})), "ok");
        assert_eq!(code(json!({"series": daily(11), "granularity": "daily"})), "InvalidSeries");
        assert_eq!(code(json!({"granularity": "daily"})), "RequiredSeries");
        assert_eq!(code(json!({"series": daily(12), "granularity": "Daily"})), "InvalidGranularity");
        assert_eq!(
            code(json!({"series": daily(3), "granularity": "daily", "sensitivity": 95.0})),
            "InvalidModelArgument"
        );
        assert_eq!(code(json!({"series": daily(12), "maxAnomalyRatio": 0.5})), "InvalidModelArgument");
        assert_eq!(code(json!({"series": daily(12), "sensitivity": 100, "maxAnomalyRatio": 0.49})), "ok");
        assert_eq!(code(json!({"series": daily(12), "customInterval": 0})), "InvalidCustomInterval");
        assert_eq!(code(json!({"series": daily(12), "period": -1})), "InvalidPeriod");
        assert_eq!(code(json!({"series": daily(12), "granularity": "daily", "period": 6})), "InvalidModelArgument");
        assert_eq!(code(json!({"series": daily(12), "period": 9_223_372_036_854_775_808u64})), "InvalidModelArgument");
        assert_eq!(
            code(json!({"series": daily(12), "imputeMode": "fixed", "imputeFixedValue": 1e300})),
            "InvalidImputeFixedValue"
        );
        assert_eq!(code(json!({"series": daily(12), "imputeMode": "fixed"})), "InvalidImputeFixedValue");
        assert_eq!(code(json!({"series": daily(12), "imputeMode": "spline"})), "InvalidImputeMode");
        assert_eq!(code(json!([1, 2])), "InvalidJsonFormat");
        let mut swapped = daily(12);
        swapped.swap(3, 4);
        assert_eq!(code(json!({"series": swapped, "granularity": "daily"})), "InvalidSeries");
        let mut duplicated = daily(12);
        duplicated[4] = duplicated[3].clone();
        assert_eq!(code(json!({"series": duplicated, "granularity": "daily"})), "InvalidSeries");
        let mut off_grid = daily(12);
        off_grid[5]["timestamp"] = json!("2018-03-06T01:00:00Z");
        let err = DetectOptions::from_json(&json!({"series": off_grid, "granularity": "daily"})).unwrap_err();
        assert_eq!(err.message, "The 'timestamp' at index 5 is invalid in daily granularity with 1 gran as interval.");
        let mut null_value = daily(12);
        null_value[2]["value"] = Value::Null;
        assert_eq!(code(json!({"series": null_value})), "BadArgument");
    }

    #[test]
    fn change_point_needs_granularity_and_a_window_under_half() {
        let cp = |body: Value| ChangePointOptions::from_json(&body).map(|o| o.stable_trend_window).map_err(|e| e.code);
        assert_eq!(cp(json!({"series": daily(20)})), Err("RequiredGranularity"));
        assert_eq!(cp(json!({"series": daily(20), "granularity": "daily"})), Ok(5));
        assert_eq!(
            cp(json!({"series": daily(20), "granularity": "daily", "stableTrendWindow": 10})),
            Err("InvalidModelArgument")
        );
        assert_eq!(
            cp(json!({"series": daily(20), "granularity": "daily", "threshold": 1.5})),
            Err("InvalidModelArgument")
        );
    }
}
