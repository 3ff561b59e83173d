//! The learning pass: every second, each loop whose update interval (`modelExportFrequency`) has
//! passed learns its due rewards (rewarded events, and events past the reward wait with the
//! default reward), then writes the model under the loop's version check. Any replica may run
//! it; a pass that loses the race is simply retried on the next tick.

use std::sync::Arc;
use std::time::Duration;

use cogway_decision::personalizer::config::{LearningMode, PolicyContract, ServiceConfiguration};
use cogway_decision::personalizer::example_from_bytes;
use cogway_decision::personalizer::learner::Model;

use crate::app::AppState;
use crate::db::now;
use crate::store::personalizer::Personalizer;

/// Most events learned in one pass of one loop (an example is at most about 34 KB, so a pass
/// holds at most about 17 MB of them).
const EVENTS_PER_PASS: i64 = 500;
const TICK: Duration = Duration::from_secs(1);

/// Runs the learning passes until the server stops.
pub async fn run(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !state.settings.services.decision {
            continue;
        }
        let due = match Personalizer::new(&state.db).due_loops(now()).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "personalizer: listing loops");
                continue;
            }
        };
        for key_id in due {
            if let Err(e) = learn(&state, &key_id).await {
                tracing::warn!(error = %e, key = %key_id, "personalizer: learning pass");
            }
        }
    }
}

/// One learning pass of one loop.
async fn learn(state: &AppState, key_id: &str) -> anyhow::Result<()> {
    let store = Personalizer::new(&state.db);
    // The model (up to 12 MiB) is read only when there are events to learn.
    let Some((configuration, policy, version)) = store.settings(key_id).await? else { return Ok(()) };
    let configuration: ServiceConfiguration = serde_json::from_str(&configuration)?;
    let policy = serde_json::from_str::<PolicyContract>(&policy)?.parse()?;
    let time = now();
    let earliest = configuration.reward_aggregation != "average";
    let events = store.due_events(key_id, time, earliest, EVENTS_PER_PASS).await?;
    if events.is_empty() {
        store.idle_pass(key_id, time).await?;
        return Ok(());
    }
    // Changed since the settings were read: the next tick learns against the new version.
    let Some(stored) = store.model_at(key_id, version).await? else { return Ok(()) };
    let mode = configuration.learning_mode;
    // The updates run on the blocking pool, off the async workers.
    let (events, bytes) = tokio::task::spawn_blocking(move || {
        let mut model = Model::from_bytes(&stored).unwrap_or_else(|_| Model::new(policy.bits));
        if mode != LearningMode::LoggingOnly {
            for event in &events {
                let example = example_from_bytes(&event.example);
                let reward = event.reward.unwrap_or(configuration.default_reward) as f32;
                model.learn(&example, reward, event.probability as f32, policy.learning_rate);
            }
        }
        (events, model.to_bytes())
    })
    .await?;
    if store.commit_learning(key_id, version, &bytes, &events, time).await? {
        store.idle_pass(key_id, time).await?;
    }
    Ok(())
}
