//! Where large job inputs (uploaded audio, the images of Read operations) wait until their job is
//! done: the database by default (`blobs` table, so one SQLite file or one Postgres holds
//! everything), a directory (`blobs.backend = "directory"`, `blobs.dir`), which replicas share
//! as a network volume, or an S3-compatible bucket (`blobs.backend = "s3"`, `blobs.s3`: AWS S3,
//! MinIO, SeaweedFS), so that the database stays small.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};

use cogway_core::ServiceError;

use crate::db::{Db, now};
use crate::errors::ApiError;
use crate::settings::{BlobBackend, BlobSettings, S3Settings};

/// Job inputs older than this whose job row is gone are swept (younger ones may belong to an
/// insert that has not committed yet).
const ORPHAN_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob store database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("blob store directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid blob name {0:?}")]
    Name(String),
    #[error("blob store bucket: {0}")]
    S3(#[from] object_store::Error),
}

impl From<BlobError> for ServiceError {
    /// Clients (and stored job errors) get a generic message: the details name the endpoint,
    /// bucket or path, and go to the log.
    fn from(e: BlobError) -> Self {
        tracing::error!(error = %e, "blob store");
        ServiceError::internal("The store of job inputs failed; see the server log.")
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        ApiError(e.into())
    }
}

#[derive(Clone)]
pub enum BlobStore {
    Database(Db),
    Directory(PathBuf),
    S3(Arc<dyn ObjectStore>),
}

impl BlobStore {
    /// The configured store; a bucket is checked to exist (object stores answer a missing bucket
    /// as a missing object, which would lose every job input silently).
    pub async fn new(settings: &BlobSettings, db: &Db) -> anyhow::Result<Self> {
        Ok(match settings.backend {
            BlobBackend::Database => BlobStore::Database(db.clone()),
            BlobBackend::Directory => {
                let Some(dir) = settings.dir.clone() else {
                    anyhow::bail!("blobs.backend = \"directory\" needs blobs.dir");
                };
                std::fs::create_dir_all(&dir)
                    .map_err(|e| anyhow::anyhow!("creating the blob directory {}: {e}", dir.display()))?;
                BlobStore::Directory(dir)
            }
            BlobBackend::S3 => {
                let store = s3_store(&settings.s3)?;
                store.list_with_delimiter(Some(&ObjectPath::from("jobs"))).await.map_err(|e| {
                    anyhow::anyhow!(
                        "the blob bucket {:?} is not reachable or does not exist: {e}",
                        settings.s3.bucket.as_deref().unwrap_or_default()
                    )
                })?;
                BlobStore::S3(store)
            }
        })
    }

    pub fn backend(&self) -> &'static str {
        match self {
            BlobStore::Database(_) => "database",
            BlobStore::Directory(_) => "directory",
            BlobStore::S3(_) => "s3",
        }
    }

    /// Names are `segment/segment` of `[A-Za-z0-9_-]` (they become file paths and object keys).
    fn check_name(name: &str) -> Result<&str, BlobError> {
        let valid = !name.is_empty()
            && name.split('/').all(|segment| {
                !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if valid { Ok(name) } else { Err(BlobError::Name(name.to_string())) }
    }

    fn path(dir: &Path, name: &str) -> Result<PathBuf, BlobError> {
        Ok(dir.join(Self::check_name(name)?))
    }

    fn key(name: &str) -> Result<ObjectPath, BlobError> {
        Ok(ObjectPath::from(Self::check_name(name)?))
    }

    pub async fn put(&self, name: &str, data: &[u8]) -> Result<(), BlobError> {
        match self {
            BlobStore::Database(db) => {
                sqlx::query(
                    "INSERT INTO blobs (name, data, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET data = excluded.data, created_at = excluded.created_at",
                )
                .bind(name)
                .bind(data)
                .bind(now())
                .execute(db)
                .await?;
            }
            BlobStore::Directory(dir) => {
                let path = Self::path(dir, name)?;
                let data = data.to_vec();
                tokio::task::spawn_blocking(move || write_atomically(&path, &data))
                    .await
                    .map_err(|e| BlobError::Io(std::io::Error::other(e)))??;
            }
            BlobStore::S3(store) => {
                // One PUT: readers see the whole object or none.
                store.put(&Self::key(name)?, PutPayload::from(data.to_vec())).await?;
            }
        }
        Ok(())
    }

    pub async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, BlobError> {
        match self {
            BlobStore::Database(db) => {
                Ok(sqlx::query_scalar("SELECT data FROM blobs WHERE name = $1").bind(name).fetch_optional(db).await?)
            }
            BlobStore::Directory(dir) => {
                let path = Self::path(dir, name)?;
                match tokio::fs::read(&path).await {
                    Ok(data) => Ok(Some(data)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }
            BlobStore::S3(store) => match store.get(&Self::key(name)?).await {
                Ok(found) => Ok(Some(found.bytes().await?.to_vec())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e.into()),
            },
        }
    }

    /// Deletes a blob; a missing one is not an error, a failure is logged (the sweep retries).
    pub async fn delete(&self, name: &str) {
        let result = match self {
            BlobStore::Database(db) => sqlx::query("DELETE FROM blobs WHERE name = $1")
                .bind(name)
                .execute(db)
                .await
                .map(|_| ())
                .map_err(Into::into),
            BlobStore::Directory(dir) => match Self::path(dir, name) {
                Ok(path) => match tokio::fs::remove_file(&path).await {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(BlobError::Io(e)),
                    _ => Ok(()),
                },
                Err(e) => Err(e),
            },
            BlobStore::S3(store) => match Self::key(name) {
                Ok(key) => match store.delete(&key).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(e.into()),
                },
                Err(e) => Err(e),
            },
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, blob = name, "could not delete a blob");
        }
    }

    /// Deletes the job inputs whose job no longer exists (a crash between the two deletes).
    pub async fn sweep_orphans(&self, db: &Db) {
        match self {
            BlobStore::Database(db) => {
                let result = sqlx::query(
                    "DELETE FROM blobs WHERE name LIKE 'jobs/%' \
                     AND NOT EXISTS (SELECT 1 FROM jobs WHERE 'jobs/' || jobs.id = blobs.name)",
                )
                .execute(db)
                .await;
                if let Err(e) = result {
                    tracing::warn!(error = %e, "could not sweep orphaned blobs");
                }
            }
            BlobStore::Directory(dir) => {
                let Ok(mut entries) = tokio::fs::read_dir(dir.join("jobs")).await else { return };
                let cutoff = std::time::SystemTime::now() - ORPHAN_AGE;
                while let Ok(Some(entry)) = entries.next_entry().await {
                    let Some(id) = entry.file_name().to_str().map(str::to_string) else { continue };
                    // Only files old enough that their job's insert has surely committed.
                    let old = entry.metadata().await.and_then(|m| m.modified()).is_ok_and(|t| t < cutoff);
                    if !old {
                        continue;
                    }
                    if job_is_gone(db, &id).await {
                        let _ = tokio::fs::remove_file(entry.path()).await;
                    }
                }
            }
            BlobStore::S3(store) => {
                // Object stores cannot filter a listing by age: every `jobs/` key is looked at.
                let cutoff = orphan_cutoff();
                let mut listing = store.list(Some(&ObjectPath::from("jobs")));
                while let Some(item) = listing.next().await {
                    let meta = match item {
                        Ok(meta) => meta,
                        Err(e) => {
                            tracing::warn!(error = %e, "could not list the blob bucket to sweep orphans");
                            break;
                        }
                    };
                    if meta.last_modified.timestamp() >= cutoff {
                        continue;
                    }
                    let Some(id) = meta.location.filename().map(str::to_string) else { continue };
                    if job_is_gone(db, &id).await {
                        let _ = store.delete(&meta.location).await;
                    }
                }
            }
        }
    }
}

/// The Unix time before which an orphan is old enough to sweep.
fn orphan_cutoff() -> i64 {
    now() - ORPHAN_AGE.as_secs() as i64
}

/// True when the database answers that no job `id` exists (an error is not an answer).
async fn job_is_gone(db: &Db, id: &str) -> bool {
    let exists: Result<Option<i64>, _> =
        sqlx::query_scalar("SELECT 1 FROM jobs WHERE id = $1").bind(id).fetch_optional(db).await;
    matches!(exists, Ok(None))
}

/// The bucket of `settings`, under its prefix. A request (a whole upload or download) may take
/// `timeout_secs` (300 s) and is retried at most three times within that time (the crate's
/// default, ten retries over three minutes, would hold requests long after the store is down).
fn s3_store(settings: &S3Settings) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let nonempty = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
    let endpoint = nonempty(&settings.endpoint);
    // Client options first: setting them replaces allow_http.
    let timeout = Duration::from_secs(settings.timeout_secs.unwrap_or(300).max(1));
    let client = ClientOptions::new()
        .with_timeout(timeout)
        .with_connect_timeout(Duration::from_secs(5))
        .with_allow_http(endpoint.as_deref().is_some_and(|e| e.starts_with("http://")));
    let retry = RetryConfig { max_retries: 3, retry_timeout: timeout, ..RetryConfig::default() };
    let mut builder = AmazonS3Builder::new()
        .with_client_options(client)
        .with_retry(retry)
        .with_virtual_hosted_style_request(false)
        .with_bucket_name(nonempty(&settings.bucket).unwrap_or_default())
        .with_region(nonempty(&settings.region).unwrap_or_else(|| "us-east-1".into()))
        .with_access_key_id(nonempty(&settings.access_key_id).unwrap_or_default())
        .with_secret_access_key(nonempty(&settings.secret_access_key).unwrap_or_default());
    if let Some(endpoint) = endpoint {
        builder = builder.with_endpoint(endpoint.trim_end_matches('/'));
    }
    let bucket = builder.build().map_err(|e| anyhow::anyhow!("blobs.s3: {e}"))?;
    let prefix = nonempty(&settings.prefix).unwrap_or_else(|| "cogway".into());
    Ok(Arc::new(PrefixStore::new(bucket, prefix.trim_matches('/').to_string())))
}

/// Writes through a temporary file and a rename, so a reader never sees half a blob.
fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn directory_store_round_trips_and_refuses_paths() {
        let dir = std::env::temp_dir().join(format!("cogway-blobs-{}", uuid::Uuid::new_v4()));
        let store = BlobStore::Directory(dir.clone());
        store.put("jobs/abc-1", b"audio").await.expect("put");
        assert_eq!(store.get("jobs/abc-1").await.expect("get").as_deref(), Some(&b"audio"[..]));
        store.delete("jobs/abc-1").await;
        assert!(store.get("jobs/abc-1").await.expect("get").is_none());
        for bad in ["../x", "jobs/../../etc", "/abs", "", "jobs//x", "a b"] {
            assert!(matches!(store.put(bad, b"x").await, Err(BlobError::Name(_))), "{bad}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Against a real S3-compatible server: `COGWAY_TEST_S3=http://host:port/bucket` (an existing
    /// bucket; `make test-cluster` starts moto and sets it). Skipped without it.
    #[tokio::test]
    async fn s3_store_round_trips_sweeps_and_refuses_a_missing_bucket() {
        let Ok(url) = std::env::var("COGWAY_TEST_S3") else {
            eprintln!("skipped: COGWAY_TEST_S3 is not set (make test-cluster sets it)");
            return;
        };
        let (endpoint, bucket) = url.rsplit_once('/').expect("COGWAY_TEST_S3 is http://host:port/bucket");
        let mut settings = BlobSettings { backend: BlobBackend::S3, ..BlobSettings::default() };
        settings.s3 = S3Settings {
            endpoint: Some(endpoint.to_string()),
            bucket: Some(bucket.to_string()),
            access_key_id: Some("unit-test".into()),
            secret_access_key: Some("unit-test-secret".into()),
            prefix: Some(format!("unit-{}", uuid::Uuid::new_v4().simple())),
            region: None,
            timeout_secs: Some(30),
        };
        let path = std::env::temp_dir().join(format!("cogway-blobs-{}.db", uuid::Uuid::new_v4()));
        let db = crate::db::connect(&format!("sqlite://{}", path.display())).await.expect("db");
        let store = BlobStore::new(&settings, &db).await.expect("bucket");
        assert_eq!(store.backend(), "s3");
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        store.put("jobs/s3-1", &big).await.expect("put");
        assert_eq!(store.get("jobs/s3-1").await.expect("get").as_deref(), Some(&big[..]));
        store.put("jobs/s3-1", b"replaced").await.expect("replace");
        assert_eq!(store.get("jobs/s3-1").await.expect("get").as_deref(), Some(&b"replaced"[..]));
        assert!(store.get("jobs/none").await.expect("get").is_none());
        assert!(matches!(store.put("../x", b"x").await, Err(BlobError::Name(_))));
        // Too young to sweep (its job's insert may not have committed yet), then deleted.
        store.sweep_orphans(&db).await;
        assert!(store.get("jobs/s3-1").await.expect("get").is_some());
        store.delete("jobs/s3-1").await;
        store.delete("jobs/s3-1").await; // a missing blob is not an error
        assert!(store.get("jobs/s3-1").await.expect("get").is_none());

        settings.s3.bucket = Some(format!("no-such-bucket-{}", uuid::Uuid::new_v4().simple()));
        let missing = BlobStore::new(&settings, &db).await.err().expect("a missing bucket is refused");
        assert!(missing.to_string().contains("does not exist"), "{missing}");
        db.close().await;
        let _ = std::fs::remove_file(&path);
    }

    #[tokio::test]
    async fn database_store_round_trips() {
        let path = std::env::temp_dir().join(format!("cogway-blobs-{}.db", uuid::Uuid::new_v4()));
        let db = crate::db::connect(&format!("sqlite://{}", path.display())).await.expect("db");
        let store = BlobStore::Database(db.clone());
        store.put("jobs/x", &[1, 2, 3]).await.expect("put");
        store.put("jobs/x", &[4]).await.expect("replace");
        assert_eq!(store.get("jobs/x").await.expect("get"), Some(vec![4]));
        store.sweep_orphans(&db).await; // no job `x`: removed
        assert!(store.get("jobs/x").await.expect("get").is_none());
        db.close().await;
        let _ = std::fs::remove_file(&path);
    }
}
