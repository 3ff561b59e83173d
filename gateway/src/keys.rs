//! API keys: created at random, stored only as SHA-256 hashes, checked in constant time.
//!
//! A key is 32 hex characters, like Azure's. Its first 8 characters find the candidate rows; the
//! hash of the whole key is then compared with `subtle`, so timing tells nothing about the key.
//! Looked-up keys are cached for a short while so a request costs no database read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cogway_core::{Code, ServiceError};
use dashmap::DashMap;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::db::{Db, now};

/// How long a looked-up key is trusted before it is read again (revocations made by another
/// process take effect within this time; the admin API's take effect at once).
const CACHE_TTL: Duration = Duration::from_secs(30);

/// What a key may do. Never holds the key itself.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    pub id: String,
    pub name: String,
    /// Services the key may call; `["*"]` for all.
    pub services: Vec<String>,
    pub rps: Option<u32>,
    pub chars_per_hour: Option<u64>,
    /// Named as in the create request.
    #[serde(rename = "audioSecondsPerHour")]
    pub audio_secs_per_hour: Option<u64>,
    /// Images analysed per hour (Vision).
    pub images_per_hour: Option<u64>,
    pub is_admin: bool,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl KeyInfo {
    pub fn allows(&self, service: &str) -> bool {
        self.is_admin || self.services.iter().any(|s| s == "*" || s == service)
    }
}

/// What `create` needs.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub name: String,
    pub services: Vec<String>,
    pub rps: Option<u32>,
    pub chars_per_hour: Option<u64>,
    pub audio_secs_per_hour: Option<u64>,
    pub images_per_hour: Option<u64>,
    pub is_admin: bool,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    key_hash: String,
    name: String,
    services: String,
    rps: Option<i64>,
    chars_per_hour: Option<i64>,
    audio_secs_per_hour: Option<i64>,
    images_per_hour: Option<i64>,
    is_admin: bool,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl From<KeyRow> for KeyInfo {
    fn from(r: KeyRow) -> Self {
        KeyInfo {
            id: r.id,
            name: r.name,
            services: r.services.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            rps: r.rps.and_then(|v| u32::try_from(v).ok()),
            chars_per_hour: r.chars_per_hour.and_then(|v| u64::try_from(v).ok()),
            audio_secs_per_hour: r.audio_secs_per_hour.and_then(|v| u64::try_from(v).ok()),
            images_per_hour: r.images_per_hour.and_then(|v| u64::try_from(v).ok()),
            is_admin: r.is_admin,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

#[derive(Clone)]
pub struct KeyStore {
    db: Db,
    /// key hash -> (info, when read)
    cache: Arc<DashMap<String, (KeyInfo, Instant)>>,
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

fn db_error(e: sqlx::Error) -> ServiceError {
    ServiceError::internal(format!("database: {e}"))
}

impl KeyStore {
    pub fn new(db: Db) -> Self {
        Self { db, cache: Arc::new(DashMap::new()) }
    }

    /// Creates a key and returns it in clear (the only time it is ever seen) with its info.
    pub async fn create(&self, new: &NewKey) -> Result<(String, KeyInfo), ServiceError> {
        let key = random_hex(16);
        let info = self.insert(&key, new).await?;
        Ok((key, info))
    }

    /// Registers a key chosen by the operator (e.g. the configured admin key) unless it exists.
    pub async fn ensure(&self, key: &str, new: &NewKey) -> Result<KeyInfo, ServiceError> {
        if let Some(info) = self.lookup(key).await? {
            return Ok(info);
        }
        self.insert(key, new).await
    }

    async fn insert(&self, key: &str, new: &NewKey) -> Result<KeyInfo, ServiceError> {
        if new.name.trim().is_empty() || new.name.len() > 100 {
            return Err(ServiceError::invalid("A key needs a name of 1 to 100 characters."));
        }
        let id = random_hex(6);
        let services = if new.services.is_empty() { "*".to_string() } else { new.services.join(",") };
        let created_at = now();
        sqlx::query(
            "INSERT INTO api_keys (id, lookup_prefix, key_hash, name, services, rps, chars_per_hour, audio_secs_per_hour, \
             images_per_hour, is_admin, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(key.chars().take(8).collect::<String>())
        .bind(hash_key(key))
        .bind(&new.name)
        .bind(&services)
        .bind(new.rps.map(i64::from))
        .bind(new.chars_per_hour.and_then(|v| i64::try_from(v).ok()))
        .bind(new.audio_secs_per_hour.and_then(|v| i64::try_from(v).ok()))
        .bind(new.images_per_hour.and_then(|v| i64::try_from(v).ok()))
        .bind(new.is_admin)
        .bind(created_at)
        .execute(&self.db)
        .await
        .map_err(db_error)?;
        Ok(KeyInfo {
            id,
            name: new.name.clone(),
            services: services.split(',').map(str::to_string).collect(),
            rps: new.rps,
            chars_per_hour: new.chars_per_hour,
            audio_secs_per_hour: new.audio_secs_per_hour,
            images_per_hour: new.images_per_hour,
            is_admin: new.is_admin,
            created_at,
            revoked_at: None,
        })
    }

    /// The live (not revoked) key matching `key`, if any.
    pub async fn lookup(&self, key: &str) -> Result<Option<KeyInfo>, ServiceError> {
        let hash = hash_key(key);
        if let Some(entry) = self.cache.get(&hash)
            && entry.1.elapsed() < CACHE_TTL
        {
            return Ok(Some(entry.0.clone()));
        }
        let prefix: String = key.chars().take(8).collect();
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT id, key_hash, name, services, rps, chars_per_hour, audio_secs_per_hour, images_per_hour, is_admin, created_at, revoked_at \
             FROM api_keys WHERE lookup_prefix = ? AND revoked_at IS NULL",
        )
        .bind(&prefix)
        .fetch_all(&self.db)
        .await
        .map_err(db_error)?;
        let found = rows.into_iter().find(|r| bool::from(r.key_hash.as_bytes().ct_eq(hash.as_bytes())));
        match found {
            Some(row) => {
                let info = KeyInfo::from(row);
                self.cache.insert(hash, (info.clone(), Instant::now()));
                Ok(Some(info))
            }
            None => {
                self.cache.remove(&hash);
                Ok(None)
            }
        }
    }

    /// The live key with public id `id` (for tokens, which carry the id, not the key).
    pub async fn by_id(&self, id: &str) -> Result<Option<KeyInfo>, ServiceError> {
        let row: Option<KeyRow> = sqlx::query_as(
            "SELECT id, key_hash, name, services, rps, chars_per_hour, audio_secs_per_hour, images_per_hour, is_admin, created_at, revoked_at \
             FROM api_keys WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(id)
        .fetch_optional(&self.db)
        .await
        .map_err(db_error)?;
        Ok(row.map(KeyInfo::from))
    }

    pub async fn list(&self) -> Result<Vec<KeyInfo>, ServiceError> {
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT id, key_hash, name, services, rps, chars_per_hour, audio_secs_per_hour, images_per_hour, is_admin, created_at, revoked_at \
             FROM api_keys ORDER BY created_at, id",
        )
        .fetch_all(&self.db)
        .await
        .map_err(db_error)?;
        Ok(rows.into_iter().map(KeyInfo::from).collect())
    }

    /// Revokes a key by id; true if a live key was revoked.
    pub async fn revoke(&self, id: &str) -> Result<bool, ServiceError> {
        let done = sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(now())
            .bind(id)
            .execute(&self.db)
            .await
            .map_err(db_error)?;
        self.cache.retain(|_, (info, _)| info.id != id);
        Ok(done.rows_affected() > 0)
    }

    pub async fn count(&self) -> Result<i64, ServiceError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM api_keys").fetch_one(&self.db).await.map_err(db_error)
    }
}

/// The token-signing secret: from config, else from the database, else generated and stored.
pub async fn jwt_secret(db: &Db, configured: Option<&str>) -> Result<Vec<u8>, ServiceError> {
    if let Some(secret) = configured {
        return Ok(secret.as_bytes().to_vec());
    }
    let stored: Option<String> = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = 'jwt'")
        .fetch_optional(db)
        .await
        .map_err(db_error)?;
    if let Some(secret) = stored {
        return Ok(secret.into_bytes());
    }
    let secret = random_hex(32);
    sqlx::query("INSERT OR IGNORE INTO server_secrets (name, value) VALUES ('jwt', ?)")
        .bind(&secret)
        .execute(db)
        .await
        .map_err(db_error)?;
    // Another process may have won the race: read back whichever was stored.
    let stored: String = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = 'jwt'")
        .fetch_one(db)
        .await
        .map_err(db_error)?;
    Ok(stored.into_bytes())
}

/// Checks an admin-created key's requested services against the known ones.
pub fn validate_services(services: &[String], known: &[&str]) -> Result<(), ServiceError> {
    for s in services {
        if s != "*" && !known.contains(&s.as_str()) {
            return Err(ServiceError::new(
                Code::InvalidParameterValue,
                format!("Unknown service '{s}'. Known services: {}.", known.join(", ")),
            ));
        }
    }
    Ok(())
}
