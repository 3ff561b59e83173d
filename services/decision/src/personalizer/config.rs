//! Personalizer's service configuration and learning policy, checked as its REST spec describes
//! them, with the defaults Cogway starts from (the model updates every 5 seconds).

use serde::{Deserialize, Serialize};

use super::PersonalizerError;

/// How the loop uses its model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum LearningMode {
    /// Explore and exploit the learned policy.
    #[default]
    Online,
    /// Always answer the baseline (first) action, and learn from it.
    Apprentice,
    /// Always answer the baseline action; learn nothing.
    LoggingOnly,
}

/// `GET/PUT /personalizer/configurations/service`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceConfiguration {
    /// How long after rank a reward is waited for (ISO 8601 duration); then `defaultReward` counts.
    pub reward_wait_time: String,
    pub default_reward: f64,
    /// `earliest` (the first reward counts) or `average`.
    pub reward_aggregation: String,
    /// Share of ranks that explore (0..1).
    pub exploration_percentage: f64,
    /// How often rewards are learned into the model (ISO 8601 duration).
    pub model_export_frequency: String,
    #[serde(default)]
    pub log_mirror_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_mirror_sas_uri: Option<String>,
    pub log_retention_days: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_configuration_edit_date: Option<String>,
    #[serde(default)]
    pub learning_mode: LearningMode,
    #[serde(default)]
    pub is_auto_optimization_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_optimization_frequency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_optimization_start_date: Option<String>,
    #[serde(default)]
    pub model_retrain_days: i64,
}

impl Default for ServiceConfiguration {
    fn default() -> Self {
        Self {
            reward_wait_time: "PT10M".into(),
            default_reward: 0.0,
            reward_aggregation: "earliest".into(),
            exploration_percentage: 0.2,
            model_export_frequency: "PT5S".into(),
            log_mirror_enabled: false,
            log_mirror_sas_uri: None,
            log_retention_days: 90,
            last_configuration_edit_date: None,
            learning_mode: LearningMode::Online,
            is_auto_optimization_enabled: false,
            auto_optimization_frequency: None,
            auto_optimization_start_date: None,
            model_retrain_days: 0,
        }
    }
}

/// Longest reward wait (Azure's portal allows up to 2 days).
const MAX_REWARD_WAIT_SECS: f64 = 2.0 * 86_400.0;

impl ServiceConfiguration {
    /// Checks a configuration sent with PUT.
    pub fn check(&self) -> Result<(), PersonalizerError> {
        let bad = |m: &str| PersonalizerError::new("InvalidServiceConfiguration", m);
        let wait = duration_secs(&self.reward_wait_time)
            .ok_or_else(|| bad("rewardWaitTime must be an ISO 8601 duration such as PT10M."))?;
        if !(1.0..=MAX_REWARD_WAIT_SECS).contains(&wait) {
            return Err(bad("rewardWaitTime must be between 1 second and 2 days."));
        }
        let every = duration_secs(&self.model_export_frequency)
            .ok_or_else(|| bad("modelExportFrequency must be an ISO 8601 duration such as PT5S."))?;
        if !(1.0..=86_400.0).contains(&every) {
            return Err(bad("modelExportFrequency must be between 1 second and 1 day."));
        }
        if !(-1.0..=1.0).contains(&self.default_reward) {
            return Err(bad("defaultReward must be between -1 and 1."));
        }
        if !(0.0..=1.0).contains(&self.exploration_percentage) {
            return Err(bad("explorationPercentage must be between 0 and 1."));
        }
        if !matches!(self.reward_aggregation.as_str(), "earliest" | "average") {
            return Err(bad("rewardAggregation must be earliest or average."));
        }
        if self.log_retention_days < -1 {
            return Err(PersonalizerError::new("InvalidLogRetentionDays", "logRetentionDays must be -1 or more."));
        }
        if self.model_retrain_days < 0 {
            return Err(PersonalizerError::new("InvalidModelRetrainDays", "modelRetrainDays must be 0 or more."));
        }
        Ok(())
    }

    pub fn reward_wait_secs(&self) -> f64 {
        duration_secs(&self.reward_wait_time).unwrap_or(600.0)
    }

    pub fn model_update_secs(&self) -> f64 {
        duration_secs(&self.model_export_frequency).unwrap_or(5.0)
    }
}

/// `GET/PUT /personalizer/configurations/policy`: Vowpal Wabbit arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyContract {
    pub name: String,
    pub arguments: String,
}

/// What Cogway's learner takes from a policy's arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    pub learning_rate: f32,
    pub bits: u8,
}

impl Default for PolicyContract {
    fn default() -> Self {
        Self { name: "Cogway default".into(), arguments: "--cb_explore_adf --epsilon 0.2 -l 0.5 -b 18".into() }
    }
}

impl PolicyContract {
    /// Reads the arguments Cogway's learner uses (`-l`/`--learning_rate`, `-b`/`--bit_precision`);
    /// the policy must be `--cb_explore_adf` (the other VW reductions are not served).
    pub fn parse(&self) -> Result<Policy, PersonalizerError> {
        let bad = |m: String| PersonalizerError::new("InvalidPolicyConfiguration", m);
        if self.name.chars().count() > 256 || self.arguments.chars().count() > 1024 {
            return Err(bad("The policy name must be at most 256 characters and its arguments 1,024.".into()));
        }
        let words: Vec<&str> = self.arguments.split_whitespace().collect();
        if !words.contains(&"--cb_explore_adf") {
            return Err(bad("The policy arguments must contain --cb_explore_adf (--cats is not supported).".into()));
        }
        let mut policy = Policy { learning_rate: 0.5, bits: super::learner::DEFAULT_BITS };
        for pair in words.windows(2) {
            match pair[0] {
                "-l" | "--learning_rate" => {
                    policy.learning_rate = pair[1]
                        .parse::<f32>()
                        .ok()
                        .filter(|l| *l > 0.0 && *l <= 10.0)
                        .ok_or_else(|| bad(format!("-l must be a learning rate in (0, 10], not '{}'.", pair[1])))?;
                }
                "-b" | "--bit_precision" => {
                    policy.bits =
                        pair[1].parse::<u8>().ok().filter(|b| (8..=super::learner::MAX_BITS).contains(b)).ok_or_else(
                            || bad(format!("-b must be 8 to {} bits, not '{}'.", super::learner::MAX_BITS, pair[1])),
                        )?;
                }
                _ => {}
            }
        }
        Ok(policy)
    }
}

/// Seconds in an ISO 8601 duration of days, hours, minutes and seconds (`P1DT2H`, `PT10M`,
/// `PT0.5S`). Written here: the four units are all Personalizer uses, and the duration crates
/// bring calendar arithmetic we do not need.
pub fn duration_secs(text: &str) -> Option<f64> {
    let rest = text.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, t),
        Some(_) => return None,
        None => (rest, ""),
    };
    let mut total = 0.0;
    let mut parse = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        let mut last = 0usize;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let position = units.iter().position(|(u, _)| *u == c)?;
            if position < last || number.is_empty() {
                return None;
            }
            last = position + 1;
            total += number.parse::<f64>().ok()? * units[position].1;
            number.clear();
        }
        number.is_empty().then_some(())
    };
    parse(date, &[('W', 604_800.0), ('D', 86_400.0)])?;
    parse(time, &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)])?;
    (date.len() + time.len() > 0).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_secs("PT10M"), Some(600.0));
        assert_eq!(duration_secs("P1DT2H"), Some(93_600.0));
        assert_eq!(duration_secs("PT0.5S"), Some(0.5));
        assert_eq!(duration_secs("P7D"), Some(604_800.0));
        for bad in ["10M", "PT", "P", "PTM", "PT5X", "PT1S2M"] {
            assert_eq!(duration_secs(bad), None, "{bad}");
        }
    }

    #[test]
    fn checks_configurations_and_policies() {
        let mut config = ServiceConfiguration::default();
        assert!(config.check().is_ok());
        config.exploration_percentage = 1.5;
        assert!(config.check().is_err());
        let policy = PolicyContract { name: "p".into(), arguments: "--cb_explore_adf --epsilon 0.1 -l 0.25".into() };
        assert_eq!(policy.parse().unwrap().learning_rate, 0.25);
        let cats = PolicyContract { name: "p".into(), arguments: "--cats 4".into() };
        assert!(cats.parse().is_err());
    }
}
