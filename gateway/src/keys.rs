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
use crate::shared::Shared;

/// How long a looked-up key is trusted before it is read again. Revocations through this
/// process's admin API take effect at once; with Redis (`redis.url`) another replica's reach this
/// one through the revocation channel within milliseconds; without Redis, within this time.
const CACHE_TTL: Duration = Duration::from_secs(30);

/// What a key may do. Never holds the key itself.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
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
    pub fn allows(&self, service: crate::service::Service) -> bool {
        self.is_admin || self.services.iter().any(|s| s == "*" || s == service.as_str())
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
    is_admin: i64,
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
            is_admin: r.is_admin != 0,
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
    /// Redis: the key cache every replica shares, and revocations announced to all.
    shared: Option<Arc<Shared>>,
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
        Self { db, cache: Arc::new(DashMap::new()), shared: None }
    }

    /// Shares the key cache and revocations through Redis.
    pub fn with_shared(mut self, shared: Option<Arc<Shared>>) -> Self {
        self.shared = shared;
        self
    }

    /// Drops a key (revoked on another replica) from this process's cache.
    pub fn forget(&self, id: &str) {
        self.cache.retain(|_, (info, _)| info.id != id);
    }

    /// Drops every cached key (revocation messages may have been missed).
    pub fn forget_all(&self) {
        self.cache.clear();
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
             images_per_hour, is_admin, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
        .bind(i64::from(new.is_admin))
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
        if let Some(shared) = &self.shared {
            match shared.cached_key(&hash).await {
                Ok(Some(json)) => {
                    if let Ok(info) = serde_json::from_str::<KeyInfo>(&json) {
                        self.cache.insert(hash, (info.clone(), Instant::now()));
                        return Ok(Some(info));
                    }
                }
                Ok(None) => {}
                // The database still answers.
                Err(e) => tracing::warn!(error = %e, "redis key cache unavailable"),
            }
        }
        let prefix: String = key.chars().take(8).collect();
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT id, key_hash, name, services, rps, chars_per_hour, audio_secs_per_hour, images_per_hour, is_admin, created_at, revoked_at \
             FROM api_keys WHERE lookup_prefix = $1 AND revoked_at IS NULL",
        )
        .bind(&prefix)
        .fetch_all(&self.db)
        .await
        .map_err(db_error)?;
        let found = rows.into_iter().find(|r| bool::from(r.key_hash.as_bytes().ct_eq(hash.as_bytes())));
        match found {
            Some(row) => {
                let info = KeyInfo::from(row);
                if let (Some(shared), Ok(json)) = (&self.shared, serde_json::to_string(&info))
                    && let Err(e) = shared.cache_key(&hash, &json).await
                {
                    tracing::warn!(error = %e, "redis key cache unavailable");
                }
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
             FROM api_keys WHERE id = $1 AND revoked_at IS NULL",
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
        let hash: Option<String> = sqlx::query_scalar(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING key_hash",
        )
        .bind(now())
        .bind(id)
        .fetch_optional(&self.db)
        .await
        .map_err(db_error)?;
        self.forget(id);
        if let (Some(shared), Some(hash)) = (&self.shared, &hash) {
            // The revocation is stored; replicas that miss the message drop the key within CACHE_TTL.
            if let Err(e) = shared.revoke_key(hash, id).await {
                tracing::warn!(error = %e, key = id, "could not announce a revocation through redis");
            }
        }
        Ok(hash.is_some())
    }

    pub async fn count(&self) -> Result<i64, ServiceError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM api_keys").fetch_one(&self.db).await.map_err(db_error)
    }
}

/// The token-signing key: `auth.jwt_secret` when configured, else derived from the server
/// secret in `secret_file` (32 random bytes, created on first start with mode 0600), else (no
/// file, e.g. an in-memory database) from a secret that lives only in this process. The
/// database never holds it: a copy of the database alone cannot forge tokens. A secret an older
/// version stored in the database is deleted.
pub async fn jwt_secret(
    db: &Db,
    configured: Option<&str>,
    secret_file: Option<&std::path::Path>,
) -> anyhow::Result<Vec<u8>> {
    if let Err(e) = sqlx::query("DELETE FROM server_secrets WHERE name = 'jwt'").execute(db).await {
        tracing::warn!(error = %e, "could not remove the token secret an older version stored");
    }
    let server_secret = match (configured, secret_file) {
        // A configured secret is the HS256 key itself, so other systems that share it can mint tokens.
        (Some(secret), _) => return Ok(secret.as_bytes().to_vec()),
        (None, Some(path)) => read_or_create_secret(path)?,
        (None, None) => random_hex(32),
    };
    Ok(derive_token_key(&server_secret))
}

/// The HS256 key for tokens, derived from the server secret so that the same secret can key
/// other things later without reusing it as is.
fn derive_token_key(server_secret: &str) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(b"cogway token signing key v1\0");
    hasher.update(server_secret.as_bytes());
    hasher.finalize().to_vec()
}

/// Reads the server secret file, or creates it (owner-only permissions) when it does not exist.
fn read_or_create_secret(path: &std::path::Path) -> anyhow::Result<String> {
    use anyhow::Context;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let secret = random_hex(32);
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(mut file) => {
            file.write_all(secret.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let stored = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let stored = stored.trim().to_string();
            anyhow::ensure!(
                stored.len() >= 32,
                "the server secret in {} is shorter than 32 characters",
                path.display()
            );
            Ok(stored)
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
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

#[cfg(test)]
mod secret_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_secret_file_is_created_once_owner_only_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("cogway-secret-{}", random_hex(6)));
        let path = dir.join("cogway.secret");
        let first = read_or_create_secret(&path).expect("created");
        let mode = std::fs::metadata(&path).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read_or_create_secret(&path).expect("read"), first);
        assert_ne!(derive_token_key(&first), first.as_bytes());
        let _ = std::fs::remove_dir_all(dir);
    }
}
