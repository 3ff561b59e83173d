//! Rate limits, hourly quotas and load shedding.
//!
//! - [`RateLimits`]: a GCRA limiter (governor) per key: `rps` per second with a burst of `rps`.
//! - [`Usage`]: requests and characters per key, service and hour. The quota check reads the
//!   in-memory total for the current hour; a background task adds the counts to the database
//!   every few seconds (and at shutdown), so usage survives restarts without a write per request.
//! - With `redis.url` set, both live in Redis instead (`crate::shared`): one atomic script per
//!   check, so the limits hold across replicas. Usage rows still go to the database for reports.
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
use crate::service::Service;
use crate::shared::{QuotaAnswer, Shared, unavailable};

pub struct RateLimits {
    default_rps: u32,
    limiters: DashMap<String, (u32, Arc<DefaultDirectRateLimiter>)>,
    shared: Option<Arc<Shared>>,
}

fn rate_refusal(wait: std::time::Duration) -> ServiceError {
    ServiceError::new(
        Code::RateLimited,
        format!("Rate limit is exceeded. Try again in {} seconds.", wait.as_secs().max(1)),
    )
    .with_retry_after(wait.as_secs_f64().ceil().max(1.0) as u64)
}

impl RateLimits {
    pub fn new(default_rps: u32, shared: Option<Arc<Shared>>) -> Self {
        Self { default_rps, limiters: DashMap::new(), shared }
    }

    /// Counts one request against the key's rate; 429 + Retry-After when over it.
    pub async fn check(&self, key: &KeyInfo) -> Result<(), ServiceError> {
        let rps = key.rps.unwrap_or(self.default_rps).max(1);
        if let Some(shared) = &self.shared {
            return match shared.rate(&key.id, rps).await {
                Ok(None) => Ok(()),
                Ok(Some(wait)) => Err(rate_refusal(wait)),
                Err(e) => Err(unavailable(&e)),
            };
        }
        let limiter = {
            let mut entry = self.limiters.entry(key.id.clone()).or_insert_with(|| (rps, Arc::new(limiter(rps))));
            if entry.0 != rps {
                *entry = (rps, Arc::new(limiter(rps)));
            }
            entry.1.clone()
        };
        limiter.check().map_err(|not_until| rate_refusal(not_until.wait_time_from(DefaultClock::default().now())))
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
            Counter::Characters => {
                "SELECT COALESCE(CAST(SUM(characters) AS BIGINT), 0) FROM usage WHERE key_id = $1 AND hour = $2"
            }
            Counter::AudioMs => {
                "SELECT COALESCE(CAST(SUM(audio_ms) AS BIGINT), 0) FROM usage WHERE key_id = $1 AND hour = $2"
            }
            Counter::Images => {
                "SELECT COALESCE(CAST(SUM(images) AS BIGINT), 0) FROM usage WHERE key_id = $1 AND hour = $2"
            }
        }
    }

    /// The counter's name in Redis keys.
    fn name(self) -> &'static str {
        match self {
            Counter::Characters => "characters",
            Counter::AudioMs => "audio_ms",
            Counter::Images => "images",
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
    pending: DashMap<(String, Service, i64), Pending>,
    /// (key id, counter) -> (hour, amount used in that hour), for the quota checks.
    hourly: DashMap<(String, Counter), (i64, u64)>,
    /// Redis, when the counts are shared by replicas (then `hourly` is unused).
    shared: Option<Arc<Shared>>,
    /// One flush at a time: a flush takes counts out of `pending` before writing them, so a
    /// report that flushed while another flush was writing could read the database too early
    /// (a usage report missing a request just made). Waiting for the other flush closes that.
    flushing: tokio::sync::Mutex<()>,
}

impl Usage {
    pub fn new(db: Db, shared: Option<Arc<Shared>>) -> Self {
        Self { db, pending: DashMap::new(), hourly: DashMap::new(), shared, flushing: tokio::sync::Mutex::new(()) }
    }

    /// What the database holds of a key's use of a counter in an hour.
    async fn stored(&self, counter: Counter, key_id: &str, hour: i64) -> u64 {
        let stored: i64 =
            sqlx::query_scalar(counter.sum_sql()).bind(key_id).bind(hour).fetch_one(&self.db).await.unwrap_or(0);
        u64::try_from(stored).unwrap_or(0)
    }

    /// Charges `amount` in Redis, seeding the hour's counter from the database when Redis has
    /// none (first use this hour, or Redis lost its data).
    async fn charge_shared(
        &self,
        shared: &Shared,
        counter: Counter,
        key_id: &str,
        hour: i64,
        amount: u64,
        quota: Option<u64>,
    ) -> Result<QuotaAnswer, ServiceError> {
        let answer =
            shared.quota(key_id, counter.name(), hour, amount, quota, None).await.map_err(|e| unavailable(&e))?;
        if answer != QuotaAnswer::NeedsSeed {
            return Ok(answer);
        }
        let seed = self.stored(counter, key_id, hour).await;
        shared.quota(key_id, counter.name(), hour, amount, quota, Some(seed)).await.map_err(|e| unavailable(&e))
    }

    /// Makes sure this hour's use of one counter by a key is in memory: read once per key, counter
    /// and hour from the database (other processes and earlier runs count too). A request that
    /// loaded it concurrently keeps what is already there, so no charge is overwritten.
    async fn load_hour(&self, counter: Counter, key_id: &str, hour: i64) {
        let cache_key = (key_id.to_string(), counter);
        if self.hourly.get(&cache_key).is_some_and(|entry| entry.0 == hour) {
            return;
        }
        let stored = self.stored(counter, key_id, hour).await;
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
        service: Service,
        counter: Counter,
        amount: u64,
        quota: Option<u64>,
        refusal: impl Fn(u64, u64, i64) -> String,
    ) -> Result<(), ServiceError> {
        let hour = current_hour();
        if let (Some(shared), Some(limit)) = (&self.shared, quota) {
            if let QuotaAnswer::Refused(used) =
                self.charge_shared(shared, counter, &key.id, hour, amount, Some(limit)).await?
            {
                let retry = (hour + 1) * 3600 - now();
                return Err(ServiceError::new(Code::QuotaExceeded, refusal(limit, used, retry))
                    .with_retry_after(u64::try_from(retry).unwrap_or(1)));
            }
        } else {
            self.load_hour(counter, &key.id, hour).await;
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
        let mut pending = self.pending.entry((key.id.clone(), service, hour)).or_default();
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
        let used = match &self.shared {
            Some(shared) => match self.charge_shared(shared, Counter::AudioMs, &key.id, hour, 0, None).await? {
                QuotaAnswer::Charged(used) | QuotaAnswer::Refused(used) => used,
                QuotaAnswer::NeedsSeed => 0,
            },
            None => {
                self.load_hour(Counter::AudioMs, &key.id, hour).await;
                self.hourly.get(&(key.id.clone(), Counter::AudioMs)).map_or(0, |e| if e.0 == hour { e.1 } else { 0 })
            }
        };
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
    pub async fn charge(&self, key: &KeyInfo, service: Service, characters: u64) -> Result<(), ServiceError> {
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
    pub async fn charge_audio(&self, key: &KeyInfo, service: Service, seconds: f64) -> Result<(), ServiceError> {
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
    pub async fn charge_images(&self, key: &KeyInfo, service: Service, images: u64) -> Result<(), ServiceError> {
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
        let _one_at_a_time = self.flushing.lock().await;
        let keys: Vec<_> = self.pending.iter().map(|e| e.key().clone()).collect();
        for k in keys {
            let Some((k, p)) = self.pending.remove(&k) else {
                continue;
            };
            let result = sqlx::query(
                "INSERT INTO usage (key_id, service, hour, requests, characters, audio_ms, images) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key_id, service, hour) DO UPDATE SET \
                 requests = usage.requests + excluded.requests, characters = usage.characters + excluded.characters, \
                 audio_ms = usage.audio_ms + excluded.audio_ms, images = usage.images + excluded.images",
            )
            .bind(&k.0)
            .bind(k.1.as_str())
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
            "SELECT service, hour * 3600 AS hour_start, requests, characters, CAST(audio_ms AS DOUBLE PRECISION) / 1000 AS audio_seconds, images FROM usage \
             WHERE key_id = $1 ORDER BY hour DESC, service LIMIT 1000",
        )
        .bind(key_id)
        .fetch_all(&self.db)
        .await
        .map_err(|e| ServiceError::internal(format!("database: {e}")))
    }
}
