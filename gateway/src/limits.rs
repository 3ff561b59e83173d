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
    images: u64,
}

/// What an hourly quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Counter {
    Characters,
    AudioMs,
    Images,
}

impl Counter {
    fn sum_sql(self) -> &'static str {
        match self {
            Counter::Characters => "SELECT COALESCE(SUM(characters), 0) FROM usage WHERE key_id = ? AND hour = ?",
            Counter::AudioMs => "SELECT COALESCE(SUM(audio_ms), 0) FROM usage WHERE key_id = ? AND hour = ?",
            Counter::Images => "SELECT COALESCE(SUM(images), 0) FROM usage WHERE key_id = ? AND hour = ?",
        }
    }

    fn add_to(self, pending: &mut Pending, amount: u64) {
        match self {
            Counter::Characters => pending.characters += amount,
            Counter::AudioMs => pending.audio_ms += amount,
            Counter::Images => pending.images += amount,
        }
    }
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
    /// Images analysed.
    pub images: i64,
}

pub struct Usage {
    db: Db,
    /// (key id, service, hour) -> counts not yet written.
    pending: DashMap<(String, String, i64), Pending>,
    /// (key id, counter) -> (hour, amount used in that hour), for the quota checks.
    hourly: DashMap<(String, Counter), (i64, u64)>,
}

impl Usage {
    pub fn new(db: Db) -> Self {
        Self { db, pending: DashMap::new(), hourly: DashMap::new() }
    }

    /// Makes sure this hour's use of one counter by a key is in memory: read once per key, counter
    /// and hour from the database (other processes and earlier runs count too). A request that
    /// loaded it concurrently keeps what is already there, so no charge is overwritten.
    async fn load_hour(&self, counter: Counter, key_id: &str, hour: i64) {
        let cache_key = (key_id.to_string(), counter);
        if self.hourly.get(&cache_key).is_some_and(|entry| entry.0 == hour) {
            return;
        }
        let stored: i64 =
            sqlx::query_scalar(counter.sum_sql()).bind(key_id).bind(hour).fetch_one(&self.db).await.unwrap_or(0);
        let stored = u64::try_from(stored).unwrap_or(0);
        let mut entry = self.hourly.entry(cache_key).or_insert((hour, stored));
        if entry.0 != hour {
            *entry = (hour, stored);
        }
    }

    /// Charges one request of `amount` on `counter` to the key, refusing it (429 + Retry-After
    /// until the next hour) when that would pass `quota`; `refusal(quota, used, retry_secs)` words
    /// the message. The check and the charge happen under one lock of the key's counter, so a
    /// burst of concurrent requests cannot all pass on the same remaining quota.
    async fn charge_counter(
        &self,
        key: &KeyInfo,
        service: &str,
        counter: Counter,
        amount: u64,
        quota: Option<u64>,
        refusal: impl Fn(u64, u64, i64) -> String,
    ) -> Result<(), ServiceError> {
        let hour = current_hour();
        self.load_hour(counter, &key.id, hour).await;
        {
            let mut total = self.hourly.entry((key.id.clone(), counter)).or_insert((hour, 0));
            if total.0 != hour {
                // The hour turned between loading and charging.
                *total = (hour, 0);
            }
            if let Some(quota) = quota
                && total.1.saturating_add(amount) > quota
            {
                let retry = (hour + 1) * 3600 - now();
                return Err(ServiceError::new(Code::QuotaExceeded, refusal(quota, total.1, retry))
                    .with_retry_after(u64::try_from(retry).unwrap_or(1)));
            }
            total.1 = total.1.saturating_add(amount);
        }
        let mut pending = self.pending.entry((key.id.clone(), service.to_string(), hour)).or_default();
        pending.requests += 1;
        counter.add_to(&mut pending, amount);
        Ok(())
    }

    /// Refuses at once (429) when the key has no audio quota left this hour: checked before
    /// audio is decoded, so a key over its quota cannot make the server decode.
    pub async fn ensure_audio_left(&self, key: &KeyInfo) -> Result<(), ServiceError> {
        let Some(quota_secs) = key.audio_secs_per_hour else {
            return Ok(());
        };
        let hour = current_hour();
        self.load_hour(Counter::AudioMs, &key.id, hour).await;
        let used =
            self.hourly.get(&(key.id.clone(), Counter::AudioMs)).map_or(0, |e| if e.0 == hour { e.1 } else { 0 });
        if used >= quota_secs.saturating_mul(1000) {
            let retry = (hour + 1) * 3600 - now();
            return Err(ServiceError::new(
                Code::QuotaExceeded,
                format!(
                    "Out of audio quota: this key may use {quota_secs} seconds of audio per hour and has used them. \
                     Quota will be replenished in {retry} seconds."
                ),
            )
            .with_retry_after(u64::try_from(retry).unwrap_or(1)));
        }
        Ok(())
    }

    /// Charges one request of `characters` to the key, refusing it (429 + Retry-After until the next
    /// hour) when the key's hourly character quota would be exceeded.
    pub async fn charge(&self, key: &KeyInfo, service: &str, characters: u64) -> Result<(), ServiceError> {
        self.charge_counter(key, service, Counter::Characters, characters, key.chars_per_hour, |quota, used, retry| {
            format!(
                "Out of call volume quota: this key may use {quota} characters per hour and has used \
                 {used}. Quota will be replenished in {retry} seconds."
            )
        })
        .await
    }

    /// Charges `seconds` of audio to the key, refusing it (429 + Retry-After until the next hour)
    /// when the key's hourly audio quota would be exceeded.
    pub async fn charge_audio(&self, key: &KeyInfo, service: &str, seconds: f64) -> Result<(), ServiceError> {
        let ms = (seconds.max(0.0) * 1000.0).ceil() as u64;
        let quota_ms = key.audio_secs_per_hour.map(|q| q.saturating_mul(1000));
        self.charge_counter(key, service, Counter::AudioMs, ms, quota_ms, |quota, used, retry| {
            format!(
                "Out of audio quota: this key may use {} seconds of audio per hour and has used {:.1}; \
                 this request has {seconds:.1}. Quota will be replenished in {retry} seconds.",
                quota / 1000,
                used as f64 / 1000.0
            )
        })
        .await
    }

    /// Charges `images` analysed images to the key, refusing them (429 + Retry-After until the
    /// next hour) when the key's hourly image quota would be exceeded.
    pub async fn charge_images(&self, key: &KeyInfo, service: &str, images: u64) -> Result<(), ServiceError> {
        self.charge_counter(key, service, Counter::Images, images, key.images_per_hour, |quota, used, retry| {
            format!(
                "Out of call volume quota: this key may analyse {quota} images per hour and has used {used}. \
                 Quota will be replenished in {retry} seconds."
            )
        })
        .await
    }

    /// Writes the pending counts to the database.
    pub async fn flush(&self) {
        let keys: Vec<_> = self.pending.iter().map(|e| e.key().clone()).collect();
        for k in keys {
            let Some((k, p)) = self.pending.remove(&k) else {
                continue;
            };
            let result = sqlx::query(
                "INSERT INTO usage (key_id, service, hour, requests, characters, audio_ms, images) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key_id, service, hour) DO UPDATE SET \
                 requests = requests + excluded.requests, characters = characters + excluded.characters, \
                 audio_ms = audio_ms + excluded.audio_ms, images = images + excluded.images",
            )
            .bind(&k.0)
            .bind(&k.1)
            .bind(k.2)
            .bind(i64::try_from(p.requests).unwrap_or(i64::MAX))
            .bind(i64::try_from(p.characters).unwrap_or(i64::MAX))
            .bind(i64::try_from(p.audio_ms).unwrap_or(i64::MAX))
            .bind(i64::try_from(p.images).unwrap_or(i64::MAX))
            .execute(&self.db)
            .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "could not write usage; keeping it for the next flush");
                let mut again = self.pending.entry(k).or_default();
                again.requests += p.requests;
                again.characters += p.characters;
                again.audio_ms += p.audio_ms;
                again.images += p.images;
            }
        }
    }

    /// A key's usage per service and hour, newest first (after writing what is pending).
    pub async fn report(&self, key_id: &str) -> Result<Vec<UsageRow>, ServiceError> {
        self.flush().await;
        sqlx::query_as(
            "SELECT service, hour * 3600 AS hour_start, requests, characters, audio_ms / 1000.0 AS audio_seconds, images FROM usage \
             WHERE key_id = ? ORDER BY hour DESC, service LIMIT 1000",
        )
        .bind(key_id)
        .fetch_all(&self.db)
        .await
        .map_err(|e| ServiceError::internal(format!("database: {e}")))
    }
}
