//! Rate limits, hourly quotas and load shedding.
//!
//! - [`RateLimits`]: a GCRA limiter (governor) per key: `rps` per second with a burst of `rps`.
//! - [`Usage`]: requests and characters per key, service and hour. The quota check reads the
//!   in-memory total for the current hour; a background task adds the counts to the database
//!   every few seconds (and at shutdown), so usage survives restarts without a write per request.
//! - Load shedding: a semaphore caps requests doing model work at once (`server.max_inflight`);
//!   see `middleware::shed_load`.

use std::num::NonZeroU32;
use std::sync::Arc;

use cogway_core::{Code, ServiceError};
use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Serialize;

use crate::db::{Db, now};
use crate::keys::KeyInfo;

pub struct RateLimits {
    default_rps: u32,
    limiters: DashMap<String, (u32, Arc<DefaultDirectRateLimiter>)>,
}

impl RateLimits {
    pub fn new(default_rps: u32) -> Self {
        Self { default_rps, limiters: DashMap::new() }
    }

    /// Counts one request against the key's rate; 429 + Retry-After when over it.
    pub fn check(&self, key: &KeyInfo) -> Result<(), ServiceError> {
        let rps = key.rps.unwrap_or(self.default_rps).max(1);
        let limiter = {
            let mut entry = self.limiters.entry(key.id.clone()).or_insert_with(|| (rps, Arc::new(limiter(rps))));
            if entry.0 != rps {
                *entry = (rps, Arc::new(limiter(rps)));
            }
            entry.1.clone()
        };
        limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ServiceError::new(
                Code::RateLimited,
                format!("Rate limit is exceeded. Try again in {} seconds.", wait.as_secs().max(1)),
            )
            .with_retry_after(wait.as_secs_f64().ceil() as u64)
        })
    }
}

fn limiter(rps: u32) -> DefaultDirectRateLimiter {
    let n = NonZeroU32::new(rps).unwrap_or(NonZeroU32::MIN);
    RateLimiter::direct(Quota::per_second(n).allow_burst(n))
}

fn current_hour() -> i64 {
    now() / 3600
}

#[derive(Default, Clone, Copy)]
struct Pending {
    requests: u64,
    characters: u64,
    audio_ms: u64,
}

/// One row of the usage report.
#[derive(Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct UsageRow {
    pub service: String,
    /// Start of the hour, UNIX seconds.
    pub hour_start: i64,
    pub requests: i64,
    pub characters: i64,
    /// Seconds of audio recognized.
    pub audio_seconds: f64,
}

pub struct Usage {
    db: Db,
    /// (key id, service, hour) -> counts not yet written.
    pending: DashMap<(String, String, i64), Pending>,
    /// key id -> (hour, characters used in that hour), for the quota check.
    hourly: DashMap<String, (i64, u64)>,
    /// key id -> (hour, milliseconds of audio used in that hour), for the audio quota check.
    hourly_audio: DashMap<String, (i64, u64)>,
}

impl Usage {
    pub fn new(db: Db) -> Self {
        Self { db, pending: DashMap::new(), hourly: DashMap::new(), hourly_audio: DashMap::new() }
    }

    /// This hour's use of one counter (`characters` or `audio_ms`) by a key: the cached value, or
    /// what the database holds (other processes and earlier runs count too).
    async fn used_this_hour(&self, cache: &DashMap<String, (i64, u64)>, column: &str, key_id: &str) -> u64 {
        let hour = current_hour();
        if let Some(entry) = cache.get(key_id)
            && entry.0 == hour
        {
            return entry.1;
        }
        let sql = match column {
            "audio_ms" => "SELECT COALESCE(SUM(audio_ms), 0) FROM usage WHERE key_id = ? AND hour = ?",
            _ => "SELECT COALESCE(SUM(characters), 0) FROM usage WHERE key_id = ? AND hour = ?",
        };
        let stored: i64 = sqlx::query_scalar(sql).bind(key_id).bind(hour).fetch_one(&self.db).await.unwrap_or(0);
        let used = u64::try_from(stored).unwrap_or(0);
        cache.insert(key_id.to_string(), (hour, used));
        used
    }

    /// Charges one request of `characters` to the key, refusing it (429 + Retry-After until the next
    /// hour) when the key's hourly character quota would be exceeded.
    pub async fn charge(&self, key: &KeyInfo, service: &str, characters: u64) -> Result<(), ServiceError> {
        let hour = current_hour();
        if let Some(quota) = key.chars_per_hour {
            let used = self.used_this_hour(&self.hourly, "characters", &key.id).await;
            if used + characters > quota {
                let retry = (hour + 1) * 3600 - now();
                return Err(ServiceError::new(
                    Code::QuotaExceeded,
                    format!(
                        "Out of call volume quota: this key may use {quota} characters per hour and has used \
                         {used}. Quota will be replenished in {retry} seconds."
                    ),
                )
                .with_retry_after(u64::try_from(retry).unwrap_or(1)));
            }
        }
        add_this_hour(&self.hourly, &key.id, hour, characters);
        let mut pending = self.pending.entry((key.id.clone(), service.to_string(), hour)).or_default();
        pending.requests += 1;
        pending.characters += characters;
        Ok(())
    }

    /// Charges `seconds` of audio to the key, refusing it (429 + Retry-After until the next hour)
    /// when the key's hourly audio quota would be exceeded.
    pub async fn charge_audio(&self, key: &KeyInfo, service: &str, seconds: f64) -> Result<(), ServiceError> {
        let hour = current_hour();
        let ms = (seconds.max(0.0) * 1000.0).ceil() as u64;
        if let Some(quota) = key.audio_secs_per_hour {
            let used = self.used_this_hour(&self.hourly_audio, "audio_ms", &key.id).await;
            if used + ms > quota * 1000 {
                let retry = (hour + 1) * 3600 - now();
                return Err(ServiceError::new(
                    Code::QuotaExceeded,
                    format!(
                        "Out of audio quota: this key may use {quota} seconds of audio per hour and has used {:.1}; \
                         this request has {seconds:.1}. Quota will be replenished in {retry} seconds.",
                        used as f64 / 1000.0
                    ),
                )
                .with_retry_after(u64::try_from(retry).unwrap_or(1)));
            }
        }
        add_this_hour(&self.hourly_audio, &key.id, hour, ms);
        let mut pending = self.pending.entry((key.id.clone(), service.to_string(), hour)).or_default();
        pending.requests += 1;
        pending.audio_ms += ms;
        Ok(())
    }

    /// Writes the pending counts to the database.
    pub async fn flush(&self) {
        let keys: Vec<_> = self.pending.iter().map(|e| e.key().clone()).collect();
        for k in keys {
            let Some((k, p)) = self.pending.remove(&k) else {
                continue;
            };
            let result = sqlx::query(
                "INSERT INTO usage (key_id, service, hour, requests, characters, audio_ms) VALUES (?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (key_id, service, hour) DO UPDATE SET \
                 requests = requests + excluded.requests, characters = characters + excluded.characters, \
                 audio_ms = audio_ms + excluded.audio_ms",
            )
            .bind(&k.0)
            .bind(&k.1)
            .bind(k.2)
            .bind(i64::try_from(p.requests).unwrap_or(i64::MAX))
            .bind(i64::try_from(p.characters).unwrap_or(i64::MAX))
            .bind(i64::try_from(p.audio_ms).unwrap_or(i64::MAX))
            .execute(&self.db)
            .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "could not write usage; keeping it for the next flush");
                let mut again = self.pending.entry(k).or_default();
                again.requests += p.requests;
                again.characters += p.characters;
                again.audio_ms += p.audio_ms;
            }
        }
    }

    /// A key's usage per service and hour, newest first (after writing what is pending).
    pub async fn report(&self, key_id: &str) -> Result<Vec<UsageRow>, ServiceError> {
        self.flush().await;
        sqlx::query_as(
            "SELECT service, hour * 3600 AS hour_start, requests, characters, audio_ms / 1000.0 AS audio_seconds FROM usage \
             WHERE key_id = ? ORDER BY hour DESC, service LIMIT 1000",
        )
        .bind(key_id)
        .fetch_all(&self.db)
        .await
        .map_err(|e| ServiceError::internal(format!("database: {e}")))
    }
}

fn add_this_hour(cache: &DashMap<String, (i64, u64)>, key_id: &str, hour: i64, amount: u64) {
    let mut total = cache.entry(key_id.to_string()).or_insert((hour, 0));
    if total.0 != hour {
        *total = (hour, 0);
    }
    total.1 += amount;
}
