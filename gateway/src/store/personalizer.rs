//! Personalizer's learning loops (table `personalizer_loops`, one per key: configuration, policy
//! and model, versioned) and the ranked events waiting for rewards (`personalizer_events`).
//! Learning reads the due events and the model, then writes the new model only if the loop is
//! still at the version it read, deleting the learned events in the same transaction: two
//! replicas may race, but an event is learned once.

use crate::db::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoopRow {
    pub configuration: String,
    pub policy: String,
    pub model: Vec<u8>,
    pub version: i64,
    pub model_created_at: i64,
    pub model_updated_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub event_id: String,
    pub slot_id: String,
    pub example: Vec<u8>,
    pub probability: f64,
    pub reward: Option<f64>,
}

/// A new loop's contents.
pub struct NewLoop<'a> {
    pub configuration: &'a str,
    pub policy: &'a str,
    pub model: &'a [u8],
    pub update_every_secs: i64,
}

/// One ranked (slot's) choice to remember.
pub struct NewEvent<'a> {
    pub event_id: &'a str,
    pub slot_id: &'a str,
    pub example: &'a [u8],
    pub probability: f64,
    pub active: bool,
    pub expires_at: i64,
}

pub struct Personalizer<'a> {
    db: &'a Db,
}

impl<'a> Personalizer<'a> {
    pub fn new(db: &'a Db) -> Self {
        Self { db }
    }

    /// Creates the key's loop with `fresh` unless it has one.
    pub async fn ensure(&self, key_id: &str, fresh: &NewLoop<'_>, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO personalizer_loops (key_id, configuration, policy, model, version, update_every_secs, \
             model_created_at, model_updated_at, learned_at) VALUES ($1, $2, $3, $4, 0, $5, $6, $6, $6) \
             ON CONFLICT (key_id) DO NOTHING",
        )
        .bind(key_id)
        .bind(fresh.configuration)
        .bind(fresh.policy)
        .bind(fresh.model)
        .bind(fresh.update_every_secs)
        .bind(now)
        .execute(self.db)
        .await?;
        Ok(())
    }

    pub async fn version(&self, key_id: &str) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT version FROM personalizer_loops WHERE key_id = $1")
            .bind(key_id)
            .fetch_optional(self.db)
            .await
    }

    pub async fn load(&self, key_id: &str) -> Result<Option<LoopRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT configuration, policy, model, version, model_created_at, model_updated_at \
             FROM personalizer_loops WHERE key_id = $1",
        )
        .bind(key_id)
        .fetch_optional(self.db)
        .await
    }

    /// A loop's configuration, policy and version, without its model (what a learning pass needs
    /// to decide whether there is anything to learn).
    pub async fn settings(&self, key_id: &str) -> Result<Option<(String, String, i64)>, sqlx::Error> {
        sqlx::query_as("SELECT configuration, policy, version FROM personalizer_loops WHERE key_id = $1")
            .bind(key_id)
            .fetch_optional(self.db)
            .await
    }

    /// The model's bytes if the loop is still at `version`.
    pub async fn model_at(&self, key_id: &str, version: i64) -> Result<Option<Vec<u8>>, sqlx::Error> {
        sqlx::query_scalar("SELECT model FROM personalizer_loops WHERE key_id = $1 AND version = $2")
            .bind(key_id)
            .bind(version)
            .fetch_optional(self.db)
            .await
    }

    /// Replaces the service configuration (and how often the loop learns).
    pub async fn set_configuration(
        &self,
        key_id: &str,
        configuration: &str,
        update_every_secs: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE personalizer_loops SET configuration = $1, update_every_secs = $2, version = version + 1 \
             WHERE key_id = $3",
        )
        .bind(configuration)
        .bind(update_every_secs)
        .bind(key_id)
        .execute(self.db)
        .await?;
        Ok(())
    }

    pub async fn set_policy(&self, key_id: &str, policy: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE personalizer_loops SET policy = $1, version = version + 1 WHERE key_id = $2")
            .bind(policy)
            .bind(key_id)
            .execute(self.db)
            .await?;
        Ok(())
    }

    /// Replaces the model (import or reset): a new model from now on.
    pub async fn replace_model(&self, key_id: &str, model: &[u8], now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE personalizer_loops SET model = $1, model_created_at = $2, model_updated_at = $2, \
             version = version + 1 WHERE key_id = $3",
        )
        .bind(model)
        .bind(now)
        .bind(key_id)
        .execute(self.db)
        .await?;
        Ok(())
    }

    /// Remembers a ranked choice; false when the key already has an event of that id and slot.
    pub async fn insert_event(&self, key_id: &str, event: &NewEvent<'_>, now: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "INSERT INTO personalizer_events (key_id, event_id, slot_id, example, probability, active, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key_id, event_id, slot_id) DO NOTHING",
        )
        .bind(key_id)
        .bind(event.event_id)
        .bind(event.slot_id)
        .bind(event.example)
        .bind(event.probability)
        .bind(i64::from(event.active))
        .bind(now)
        .bind(event.expires_at)
        .execute(self.db)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a reward: the first one counts (`earliest`), or all are averaged. Returns how many
    /// events it reached (0: unknown, already learned or expired).
    pub async fn reward(
        &self,
        key_id: &str,
        event_id: &str,
        slot_id: &str,
        value: f64,
        average: bool,
    ) -> Result<u64, sqlx::Error> {
        let sql = if average {
            "UPDATE personalizer_events SET reward = (COALESCE(reward, 0) * reward_count + $1) / (reward_count + 1), \
             reward_count = reward_count + 1 WHERE key_id = $2 AND event_id = $3 AND slot_id = $4"
        } else {
            "UPDATE personalizer_events SET reward = $1, reward_count = 1 \
             WHERE key_id = $2 AND event_id = $3 AND slot_id = $4 AND reward IS NULL"
        };
        let done = sqlx::query(sql).bind(value).bind(key_id).bind(event_id).bind(slot_id).execute(self.db).await?;
        Ok(done.rows_affected())
    }

    /// Activates a deferred event (every slot of it).
    pub async fn activate(&self, key_id: &str, event_id: &str) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("UPDATE personalizer_events SET active = 1 WHERE key_id = $1 AND event_id = $2")
            .bind(key_id)
            .bind(event_id)
            .execute(self.db)
            .await?;
        Ok(done.rows_affected())
    }

    /// Keys whose loop is due to learn.
    pub async fn due_loops(&self, now: i64) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT key_id FROM personalizer_loops WHERE learned_at + update_every_secs <= $1")
            .bind(now)
            .fetch_all(self.db)
            .await
    }

    /// Active events ready to learn: rewarded (when the first reward counts) or past their wait.
    pub async fn due_events(
        &self,
        key_id: &str,
        now: i64,
        earliest: bool,
        limit: i64,
    ) -> Result<Vec<EventRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT event_id, slot_id, example, probability, reward FROM personalizer_events \
             WHERE key_id = $1 AND active = 1 AND (expires_at <= $2 OR ($3 = 1 AND reward IS NOT NULL)) \
             ORDER BY created_at LIMIT $4",
        )
        .bind(key_id)
        .bind(now)
        .bind(i64::from(earliest))
        .bind(limit)
        .fetch_all(self.db)
        .await
    }

    /// Writes the learned model if the loop is still at `version`, and deletes the learned events
    /// with it; false when another writer got there first (nothing is written).
    pub async fn commit_learning(
        &self,
        key_id: &str,
        version: i64,
        model: &[u8],
        learned: &[EventRow],
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.db.begin().await?;
        let done = sqlx::query(
            "UPDATE personalizer_loops SET model = $1, version = version + 1, model_updated_at = $2, learned_at = $2 \
             WHERE key_id = $3 AND version = $4",
        )
        .bind(model)
        .bind(now)
        .bind(key_id)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        for event in learned {
            sqlx::query("DELETE FROM personalizer_events WHERE key_id = $1 AND event_id = $2 AND slot_id = $3")
                .bind(key_id)
                .bind(&event.event_id)
                .bind(&event.slot_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Marks a learning pass with nothing to learn, and forgets deferred events never activated.
    pub async fn idle_pass(&self, key_id: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE personalizer_loops SET learned_at = $1 WHERE key_id = $2")
            .bind(now)
            .bind(key_id)
            .execute(self.db)
            .await?;
        sqlx::query("DELETE FROM personalizer_events WHERE key_id = $1 AND active = 0 AND expires_at <= $2")
            .bind(key_id)
            .bind(now)
            .execute(self.db)
            .await?;
        Ok(())
    }

    /// Deletes every event of the key waiting for a reward.
    pub async fn delete_events(&self, key_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM personalizer_events WHERE key_id = $1").bind(key_id).execute(self.db).await?;
        Ok(())
    }

    /// The creation times of the oldest and newest waiting events.
    pub async fn event_range(&self, key_id: &str) -> Result<(Option<i64>, Option<i64>), sqlx::Error> {
        sqlx::query_as("SELECT MIN(created_at), MAX(created_at) FROM personalizer_events WHERE key_id = $1")
            .bind(key_id)
            .fetch_one(self.db)
            .await
    }
}
