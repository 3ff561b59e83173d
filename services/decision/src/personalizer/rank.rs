//! Rank: score every allowed action with the model and choose one, epsilon-greedy (the best
//! action with probability `1 − ε + ε/K`, each other `ε/K`), as `--cb_explore_adf --epsilon ε`
//! explores. Multi-slot rank chooses slot by slot, each slot's context adding its own features, and
//! an action goes to one slot at most.

use std::collections::HashSet;

use rand::Rng;
use serde::Deserialize;
use serde_json::Value;

use super::PersonalizerError;
use super::config::LearningMode;
use super::features::{self, Feature};
use super::learner::Model;

/// Most actions and slots in a request, and the longest id (Azure's limits).
pub const MAX_ACTIONS: usize = 50;
pub const MAX_SLOTS: usize = 50;
pub const MAX_ID_CHARS: usize = 256;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RankableAction {
    pub id: String,
    #[serde(default)]
    pub features: Vec<Value>,
}

/// `POST /personalizer/rank`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RankRequest {
    #[serde(default)]
    pub context_features: Vec<Value>,
    pub actions: Vec<RankableAction>,
    #[serde(default)]
    pub excluded_actions: Vec<String>,
    pub event_id: Option<String>,
    #[serde(default)]
    pub defer_activation: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlotRequest {
    pub id: String,
    #[serde(default, alias = "positionFeatures")]
    pub features: Vec<Value>,
    #[serde(default)]
    pub excluded_actions: Vec<String>,
    pub baseline_action: String,
}

/// `POST /personalizer/multislot/rank`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MultiSlotRankRequest {
    #[serde(default)]
    pub context_features: Vec<Value>,
    pub actions: Vec<RankableAction>,
    pub slots: Vec<SlotRequest>,
    pub event_id: Option<String>,
    #[serde(default)]
    pub defer_activation: bool,
}

/// What the loop decided for one slot (or the single-slot rank).
#[derive(Debug, Clone)]
pub struct Choice {
    /// Every action with its probability: the chosen one first, then by probability, excluded
    /// actions last with 0.
    pub ranking: Vec<(String, f64)>,
    pub chosen: String,
    /// The probability the chosen action had (for importance weighting).
    pub probability: f32,
    /// The chosen action's example, kept until its reward is learned.
    pub example: Vec<Feature>,
}

fn invalid(message: impl Into<String>) -> PersonalizerError {
    PersonalizerError::new("InvalidRankRequest", message)
}

/// Checks an event id: non-empty, at most 256 characters.
pub fn check_event_id(id: &str) -> Result<(), PersonalizerError> {
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
        return Err(PersonalizerError::new(
            "InvalidEventId",
            format!("EventId should be non-empty or null, and at most {MAX_ID_CHARS} characters."),
        ));
    }
    Ok(())
}

fn check_actions(actions: &[RankableAction]) -> Result<(), PersonalizerError> {
    if actions.is_empty() || actions.len() > MAX_ACTIONS {
        return Err(invalid(format!("Action count should be between 1 and {MAX_ACTIONS}.")));
    }
    let mut seen = HashSet::new();
    for action in actions {
        if action.id.is_empty() || action.id.chars().count() > MAX_ID_CHARS {
            return Err(invalid(format!("Action ids must be 1 to {MAX_ID_CHARS} characters.")));
        }
        if !seen.insert(action.id.as_str()) {
            return Err(invalid(format!("Action id '{}' is repeated.", action.id)));
        }
    }
    Ok(())
}

/// How the loop chooses: its exploration share and learning mode.
#[derive(Debug, Clone, Copy)]
pub struct Exploration {
    pub epsilon: f64,
    pub mode: LearningMode,
}

/// The model's choice among `actions` (hashed) in `context`, leaving out `excluded`.
fn choose(
    model: &Model,
    context: &[Feature],
    actions: &[(String, Vec<Feature>)],
    excluded: &HashSet<&str>,
    how: Exploration,
    baseline: Option<&str>,
    rng: &mut impl Rng,
) -> Option<Choice> {
    let Exploration { epsilon, mode } = how;
    let allowed: Vec<usize> = (0..actions.len()).filter(|&i| !excluded.contains(actions[i].0.as_str())).collect();
    if allowed.is_empty() {
        return None;
    }
    let examples: Vec<Vec<Feature>> =
        allowed.iter().map(|&i| features::example(context, &actions[i].0, &actions[i].1, model.bits())).collect();
    let mut probabilities = vec![0.0f64; allowed.len()];
    let pick = if mode == LearningMode::Online {
        let scores: Vec<f32> = examples.iter().map(|e| model.predict(e)).collect();
        let top = scores.iter().copied().fold(f32::MIN, f32::max);
        let mut best: Vec<usize> = (0..scores.len()).filter(|&k| scores[k] >= top - 1e-6).collect();
        if best.is_empty() {
            // Every score is NaN (a model that failed): all actions are equally good.
            best = (0..scores.len()).collect();
        }
        // The exploitation share is split among equally good actions, so the probabilities
        // reported (and used to weight the rewards) are the ones the choice really had.
        let k = allowed.len() as f64;
        let share = (1.0 - epsilon) / best.len() as f64;
        for (j, p) in probabilities.iter_mut().enumerate() {
            *p = epsilon / k + if best.contains(&j) { share } else { 0.0 };
        }
        let mut draw: f64 = rng.random();
        let mut pick = best[0];
        for (j, p) in probabilities.iter().enumerate() {
            if draw < *p {
                pick = j;
                break;
            }
            draw -= p;
        }
        pick
    } else {
        // Apprentice and logging-only loops answer the baseline: the slot's, else the first action.
        let base = baseline.and_then(|b| allowed.iter().position(|&i| actions[i].0 == b)).unwrap_or(0);
        probabilities[base] = 1.0;
        base
    };
    let mut order: Vec<usize> = (0..allowed.len()).collect();
    order.sort_by(|&a, &b| (b == pick).cmp(&(a == pick)).then(probabilities[b].total_cmp(&probabilities[a])));
    let mut ranking: Vec<(String, f64)> =
        order.iter().map(|&j| (actions[allowed[j]].0.clone(), probabilities[j])).collect();
    ranking.extend(actions.iter().filter(|a| excluded.contains(a.0.as_str())).map(|a| (a.0.clone(), 0.0)));
    Some(Choice {
        ranking,
        chosen: actions[allowed[pick]].0.clone(),
        probability: probabilities[pick] as f32,
        example: examples[pick].clone(),
    })
}

fn hash_actions(actions: &[RankableAction]) -> Result<Vec<(String, Vec<Feature>)>, PersonalizerError> {
    actions
        .iter()
        .map(|a| {
            let hashed = features::hashed(&a.features, features::MAX_ACTION_FEATURES).ok_or_else(|| {
                invalid(format!("Action '{}' has more than {} features.", a.id, features::MAX_ACTION_FEATURES))
            })?;
            Ok((a.id.clone(), hashed))
        })
        .collect()
}

fn hash_context(objects: &[Value]) -> Result<Vec<Feature>, PersonalizerError> {
    features::hashed(objects, features::MAX_CONTEXT_FEATURES)
        .ok_or_else(|| invalid(format!("The context has more than {} features.", features::MAX_CONTEXT_FEATURES)))
}

impl RankRequest {
    pub fn check(&self) -> Result<(), PersonalizerError> {
        check_actions(&self.actions)?;
        if let Some(id) = &self.event_id {
            check_event_id(id)?;
        }
        if self.excluded_actions.len() >= self.actions.len()
            && self.actions.iter().all(|a| self.excluded_actions.contains(&a.id))
        {
            return Err(invalid("Every action is excluded: at least one must be rankable."));
        }
        Ok(())
    }

    pub fn rank(&self, model: &Model, how: Exploration, rng: &mut impl Rng) -> Result<Choice, PersonalizerError> {
        self.check()?;
        let context = hash_context(&self.context_features)?;
        let excluded: HashSet<&str> = self.excluded_actions.iter().map(String::as_str).collect();
        choose(model, &context, &hash_actions(&self.actions)?, &excluded, how, None, rng)
            .ok_or_else(|| invalid("Every action is excluded: at least one must be rankable."))
    }
}

impl MultiSlotRankRequest {
    pub fn check(&self) -> Result<(), PersonalizerError> {
        check_actions(&self.actions)?;
        if let Some(id) = &self.event_id {
            check_event_id(id)?;
        }
        if self.slots.is_empty() || self.slots.len() > MAX_SLOTS {
            return Err(invalid(format!("Slot count should be between 1 and {MAX_SLOTS}.")));
        }
        let mut seen = HashSet::new();
        for slot in &self.slots {
            if slot.id.is_empty() || slot.id.chars().count() > MAX_ID_CHARS || !seen.insert(slot.id.as_str()) {
                return Err(invalid(format!("Slot ids must be unique and 1 to {MAX_ID_CHARS} characters.")));
            }
            if !self.actions.iter().any(|a| a.id == slot.baseline_action) {
                return Err(invalid(format!("The baseline action of slot '{}' is not one of the actions.", slot.id)));
            }
        }
        Ok(())
    }

    /// One choice per slot, in slot order (a slot left without an allowed action gets its baseline).
    pub fn rank(
        &self,
        model: &Model,
        how: Exploration,
        rng: &mut impl Rng,
    ) -> Result<Vec<(String, Choice)>, PersonalizerError> {
        self.check()?;
        let actions = hash_actions(&self.actions)?;
        let mut taken: Vec<String> = Vec::new();
        let mut out = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            let mut context_objects = self.context_features.clone();
            context_objects.push(serde_json::json!({ "_slot": { "id": slot.id, "features": slot.features } }));
            let context = hash_context(&context_objects)?;
            let excluded: HashSet<&str> =
                slot.excluded_actions.iter().chain(taken.iter()).map(String::as_str).collect();
            let choice = choose(model, &context, &actions, &excluded, how, Some(&slot.baseline_action), rng)
                .unwrap_or_else(|| {
                    // Nothing allowed is left: the baseline, unless an earlier slot took it, then
                    // the first action no slot took (the baseline again when all are taken).
                    let fallback = std::iter::once(&slot.baseline_action)
                        .chain(self.actions.iter().map(|a| &a.id))
                        .find(|id| !taken.contains(id))
                        .unwrap_or(&slot.baseline_action)
                        .clone();
                    Choice {
                        ranking: vec![(fallback.clone(), 1.0)],
                        chosen: fallback,
                        probability: 1.0,
                        example: Vec::new(),
                    }
                });
            taken.push(choice.chosen.clone());
            out.push((slot.id.clone(), choice));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use serde_json::json;

    use super::*;

    fn online() -> Exploration {
        Exploration { epsilon: 0.2, mode: LearningMode::Online }
    }

    fn request(time: &str) -> RankRequest {
        serde_json::from_value(json!({
            "contextFeatures": [{"time": time}],
            "actions": [
                {"id": "coffee", "features": [{"kind": "hot"}]},
                {"id": "juice", "features": [{"kind": "cold"}]},
                {"id": "tea", "features": [{"kind": "hot", "leaf": true}]}
            ]
        }))
        .unwrap()
    }

    /// The learning the issue asks for: the best action depends on the context, and after a few
    /// hundred rounds the loop picks it at least 70% of the time.
    #[test]
    fn learns_a_context_dependent_best_action() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut model = Model::default();
        let best = |time: &str| if time == "morning" { "coffee" } else { "juice" };
        let mut hits = 0;
        for round in 0..600 {
            let time = if round % 2 == 0 { "morning" } else { "evening" };
            let choice = request(time).rank(&model, online(), &mut rng).unwrap();
            let reward = if choice.chosen == best(time) { 1.0 } else { 0.0 };
            model.learn(&choice.example, reward, choice.probability, 0.5);
            if round >= 400 && choice.chosen == best(time) {
                hits += 1;
            }
        }
        assert!(hits >= 140, "best action chosen {hits} times of the last 200");
    }

    #[test]
    fn probabilities_and_exclusions() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut req = request("morning");
        req.excluded_actions = vec!["tea".into()];
        let choice = req.rank(&Model::default(), online(), &mut rng).unwrap();
        let total: f64 = choice.ranking.iter().map(|r| r.1).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert_eq!(choice.ranking.last().unwrap(), &("tea".to_string(), 0.0));
        assert_eq!(choice.ranking[0].0, choice.chosen);
        req.excluded_actions = vec!["tea".into(), "coffee".into(), "juice".into()];
        assert!(req.rank(&Model::default(), online(), &mut rng).is_err());
        let apprentice = request("x")
            .rank(&Model::default(), Exploration { epsilon: 0.2, mode: LearningMode::Apprentice }, &mut rng)
            .unwrap();
        assert_eq!(apprentice.chosen, "coffee");
    }

    /// Huge feature values and an untrained model: no panic, and tied actions share the
    /// exploitation share (a fresh model's choice is uniform).
    #[test]
    fn huge_values_and_ties() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let req: RankRequest = serde_json::from_value(json!({
            "contextFeatures": [{"x": 1e39, "y": -1e300}],
            "actions": [{"id": "a", "features": [{"z": 1e20}]}, {"id": "b"}, {"id": "c"}]
        }))
        .unwrap();
        let mut model = Model::default();
        let choice = req.rank(&model, online(), &mut rng).unwrap();
        for (_, p) in &choice.ranking {
            assert!((p - 1.0 / 3.0).abs() < 1e-9, "{:?}", choice.ranking);
        }
        for _ in 0..50 {
            let choice = req.rank(&model, online(), &mut rng).unwrap();
            model.learn(&choice.example, 1.0, choice.probability, 0.5);
        }
        let bytes = model.to_bytes();
        assert!(Model::from_bytes(&bytes).is_ok());
    }

    #[test]
    fn slots_take_different_actions() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let req: MultiSlotRankRequest = serde_json::from_value(json!({
            "actions": [{"id": "a", "features": [{"k": 1}]}, {"id": "b", "features": [{"k": 2}]}],
            "slots": [{"id": "Main", "baselineAction": "a"}, {"id": "Side", "positionFeatures": [{"size": "small"}], "baselineAction": "b"}]
        }))
        .unwrap();
        let slots = req.rank(&Model::default(), online(), &mut rng).unwrap();
        assert_eq!(slots.len(), 2);
        assert_ne!(slots[0].1.chosen, slots[1].1.chosen);
    }
}
