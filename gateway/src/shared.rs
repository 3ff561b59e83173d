//! Redis, for what every replica must see at once (`redis.url`): rate limits, hourly quotas, the
//! key cache and key revocations. Each check is one Lua script, which Redis runs atomically, so
//! concurrent requests on different replicas cannot pass the same limit together.
//!
//! Keys (all under `redis.prefix`, default `cogway`):
//! - `{p}:rate:{key id}`: the GCRA "theoretical arrival time" of the key, in microseconds;
//! - `{p}:quota:{key id}:{counter}:{hour}`: what the key used of a counter in that hour (kept 2 h);
//! - `{p}:key:{sha256 of the key}`: a looked-up key's info (JSON, kept [`KEY_TTL_SECS`]);
//! - channel `{p}:revoked`: ids of revoked keys, so every replica drops them from its cache.
//!
//! A Redis that cannot be reached makes limit checks fail closed (503 + Retry-After): a
//! deployment that configured shared limits never silently runs with N times the limit.

use std::sync::Arc;
use std::time::Duration;

use cogway_core::{Code, ServiceError};
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

/// How long a key's info stays in Redis's key cache.
pub const KEY_TTL_SECS: u64 = 60;

/// GCRA: refuses when the key's arrival time is more than `burst - 1` intervals ahead of now;
/// returns 0 when allowed, else the microseconds to wait. Redis's own clock, so the replicas'
/// clocks do not matter.
const RATE_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local ahead = tat - now
local allowed_ahead = interval * (burst - 1)
if ahead > allowed_ahead then
  return ahead - allowed_ahead
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
";

/// Charges `amount` to an hourly counter unless that passes `quota` (-1: none). A counter Redis
/// does not have (first use this hour, or Redis lost it) is seeded with ARGV[4], the database's
/// count; without a seed (-1) the script answers {-1, 0} and the caller asks again with one.
/// Answers {1, used after} when charged, {0, used} when refused.
const QUOTA_SCRIPT: &str = r"
local used = redis.call('GET', KEYS[1])
if not used then
  local seed = tonumber(ARGV[4])
  if seed < 0 then return {-1, 0} end
  redis.call('SET', KEYS[1], seed, 'EX', tonumber(ARGV[3]), 'NX')
  used = redis.call('GET', KEYS[1])
end
used = tonumber(used)
local amount = tonumber(ARGV[1])
local quota = tonumber(ARGV[2])
if quota >= 0 and used + amount > quota then return {0, used} end
if amount > 0 then used = redis.call('INCRBY', KEYS[1], amount) end
return {1, used}
";

/// What a quota check answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaAnswer {
    /// Charged; the counter now holds this much.
    Charged(u64),
    /// Refused; the counter holds this much.
    Refused(u64),
    /// Redis has no count for this hour: call again with the database's.
    NeedsSeed,
}

pub struct Shared {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
    rate: Script,
    quota: Script,
}

/// A Redis failure as the client sees it: the limits cannot be checked now.
pub fn unavailable(e: &redis::RedisError) -> ServiceError {
    tracing::warn!(error = %e, "redis is unavailable");
    ServiceError::new(Code::Overloaded, "The shared limit store is unavailable; retry shortly.").with_retry_after(1)
}

impl Shared {
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Arc<Self>> {
        let client = redis::Client::open(url).map_err(|e| anyhow::anyhow!("bad redis.url: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(|e| anyhow::anyhow!("connecting to redis: {e}"))?;
        Ok(Arc::new(Self {
            client,
            conn,
            prefix: prefix.to_string(),
            rate: Script::new(RATE_SCRIPT),
            quota: Script::new(QUOTA_SCRIPT),
        }))
    }

    /// Counts one request of `key_id` at `rps` per second with a burst of `rps`; `Some(wait)`
    /// when over it.
    pub async fn rate(&self, key_id: &str, rps: u32) -> Result<Option<Duration>, redis::RedisError> {
        let rps = rps.max(1);
        let interval_us = 1_000_000 / u64::from(rps);
        let mut conn = self.conn.clone();
        let wait_us: i64 = self
            .rate
            .key(format!("{}:rate:{key_id}", self.prefix))
            .arg(interval_us.max(1))
            .arg(rps)
            .invoke_async(&mut conn)
            .await?;
        Ok((wait_us > 0).then(|| Duration::from_micros(u64::try_from(wait_us).unwrap_or(0))))
    }

    /// Charges `amount` on `counter` of `key_id` for `hour` against `quota` (see [`QUOTA_SCRIPT`]).
    pub async fn quota(
        &self,
        key_id: &str,
        counter: &str,
        hour: i64,
        amount: u64,
        quota: Option<u64>,
        seed: Option<u64>,
    ) -> Result<QuotaAnswer, redis::RedisError> {
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let mut conn = self.conn.clone();
        let (status, used): (i64, i64) = self
            .quota
            .key(format!("{}:quota:{key_id}:{counter}:{hour}", self.prefix))
            .arg(clamp(amount))
            .arg(quota.map_or(-1, clamp))
            .arg(7200)
            .arg(seed.map_or(-1, clamp))
            .invoke_async(&mut conn)
            .await?;
        let used = u64::try_from(used).unwrap_or(0);
        Ok(match status {
            1 => QuotaAnswer::Charged(used),
            0 => QuotaAnswer::Refused(used),
            _ => QuotaAnswer::NeedsSeed,
        })
    }

    fn key_cache_name(&self, hash: &str) -> String {
        format!("{}:key:{hash}", self.prefix)
    }

    /// A key's info from the shared cache (by the SHA-256 of the key).
    pub async fn cached_key(&self, hash: &str) -> Result<Option<String>, redis::RedisError> {
        let mut conn = self.conn.clone();
        conn.get(self.key_cache_name(hash)).await
    }

    pub async fn cache_key(&self, hash: &str, info_json: &str) -> Result<(), redis::RedisError> {
        let mut conn = self.conn.clone();
        conn.set_ex(self.key_cache_name(hash), info_json, KEY_TTL_SECS).await
    }

    /// Drops a revoked key from the shared cache and tells every replica to drop it from theirs.
    pub async fn revoke_key(&self, hash: &str, id: &str) -> Result<(), redis::RedisError> {
        let mut conn = self.conn.clone();
        let _: () = conn.del(self.key_cache_name(hash)).await?;
        let _: i64 = conn.publish(format!("{}:revoked", self.prefix), id).await?;
        Ok(())
    }

    /// Calls `on_revoked(key id)` for every revocation any replica announces, for the life of the
    /// process; reconnects after a lost connection (and then `on_reconnect()`, since messages sent
    /// meanwhile are lost: the caller should drop its whole cache).
    pub async fn watch_revocations(self: Arc<Self>, on_revoked: impl Fn(&str), on_reconnect: impl Fn()) {
        let channel = format!("{}:revoked", self.prefix);
        let mut first = true;
        loop {
            let subscribed = async {
                let mut pubsub = self.client.get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                Ok::<_, redis::RedisError>(pubsub)
            }
            .await;
            match subscribed {
                Ok(mut pubsub) => {
                    if !first {
                        on_reconnect();
                    }
                    first = false;
                    let mut messages = pubsub.on_message();
                    while let Some(msg) = messages.next().await {
                        if let Ok(id) = msg.get_payload::<String>() {
                            on_revoked(&id);
                        }
                    }
                    tracing::warn!("lost the redis revocation channel; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "cannot subscribe to key revocations; retrying"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
