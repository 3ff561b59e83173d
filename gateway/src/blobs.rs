//! Where large job inputs (uploaded audio, the images of Read operations) wait until their job is
//! done: the database by default (`blobs` table, so one SQLite file or one Postgres holds
//! everything), or a directory (`blobs.backend = "directory"`, `blobs.dir`), which replicas share
//! as a network volume so that the database stays small.

use std::path::{Path, PathBuf};

use cogway_core::ServiceError;

use crate::db::{Db, now};
use crate::errors::ApiError;
use crate::settings::{BlobBackend, BlobSettings};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob store database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("blob store directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid blob name {0:?}")]
    Name(String),
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        ApiError(ServiceError::internal(e.to_string()))
    }
}

impl From<BlobError> for ServiceError {
    fn from(e: BlobError) -> Self {
        ServiceError::internal(e.to_string())
    }
}

#[derive(Clone)]
pub enum BlobStore {
    Database(Db),
    Directory(PathBuf),
}

impl BlobStore {
    pub fn new(settings: &BlobSettings, db: &Db) -> anyhow::Result<Self> {
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
        })
    }

    pub fn backend(&self) -> &'static str {
        match self {
            BlobStore::Database(_) => "database",
            BlobStore::Directory(_) => "directory",
        }
    }

    /// Names are `segment/segment` of `[A-Za-z0-9_-]` (they become file paths).
    fn path(dir: &Path, name: &str) -> Result<PathBuf, BlobError> {
        let valid = !name.is_empty()
            && name.split('/').all(|segment| {
                !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !valid {
            return Err(BlobError::Name(name.to_string()));
        }
        Ok(dir.join(name))
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
                let cutoff = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
                while let Ok(Some(entry)) = entries.next_entry().await {
                    let Some(id) = entry.file_name().to_str().map(str::to_string) else { continue };
                    // Only files old enough that their job's insert has surely committed.
                    let old = entry.metadata().await.and_then(|m| m.modified()).is_ok_and(|t| t < cutoff);
                    if !old {
                        continue;
                    }
                    let exists: Result<Option<i64>, _> =
                        sqlx::query_scalar("SELECT 1 FROM jobs WHERE id = $1").bind(&id).fetch_optional(db).await;
                    if let Ok(None) = exists {
                        let _ = tokio::fs::remove_file(entry.path()).await;
                    }
                }
            }
        }
    }
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
