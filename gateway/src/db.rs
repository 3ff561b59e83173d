//! The embedded SQLite database: opened (created if missing) and migrated at start.

use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub type Db = SqlitePool;

pub async fn connect(url: &str) -> anyhow::Result<Db> {
    if let Some(path) = url.strip_prefix("sqlite://")
        && let Some(parent) = std::path::Path::new(path.split('?').next().unwrap_or(path)).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("bad database url {url}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(std::time::Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .with_context(|| format!("opening database {url}"))?;
    sqlx::migrate!("./migrations").run(&pool).await.context("migrating the database")?;
    Ok(pool)
}

/// A UNIX time as an RFC 3339 date-time (`2026-11-22T03:50:00Z`), as Azure's APIs write them.
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

/// Seconds since the UNIX epoch.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Migration 0005 gives the rows that existed before owners the owner `''`, and keeps the
    /// classification examples attached to their project.
    #[tokio::test]
    async fn rows_from_before_owners_get_the_legacy_owner() {
        let path = std::env::temp_dir().join(format!("cogway-db-{}.db", uuid::Uuid::new_v4()));
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .expect("url")
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.expect("open");
        let migrator = sqlx::migrate!("./migrations");
        migrator.run_to(4, &pool).await.expect("migrations before owners");
        for sql in [
            "INSERT INTO glossaries (name, from_lang, to_lang, entries, created_at, updated_at) VALUES ('g', 'en', 'es', '[]', 1, 1)",
            "INSERT INTO speech_models (name, base_model, phrases, created_at, updated_at) VALUES ('m', 'whisper-base', '[]', 1, 1)",
            "INSERT INTO speech_lexicons (name, pls, created_at) VALUES ('l', '<lexicon/>', 1)",
            "INSERT INTO classification_projects (name, language, created_at) VALUES ('p', 'en', 1)",
            "INSERT INTO classification_examples (project, text, label) VALUES ('p', 'a', 'x'), ('p', 'b', 'y')",
        ] {
            sqlx::raw_sql(sql).execute(&pool).await.expect(sql);
        }
        migrator.run(&pool).await.expect("owners migration");
        for (sql, name) in [
            ("SELECT key_id FROM glossaries WHERE name = ?", "g"),
            ("SELECT key_id FROM speech_models WHERE name = ?", "m"),
            ("SELECT key_id FROM speech_lexicons WHERE name = ?", "l"),
            ("SELECT key_id FROM classification_projects WHERE name = ?", "p"),
        ] {
            let owner: String = sqlx::query_scalar(sql).bind(name).fetch_one(&pool).await.expect(sql);
            assert_eq!(owner, crate::owners::LEGACY, "{sql}");
        }
        let examples: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM classification_examples WHERE key_id = '' AND project = 'p'")
                .fetch_one(&pool)
                .await
                .expect("examples");
        assert_eq!(examples, 2);
        let broken = sqlx::query("PRAGMA foreign_key_check").fetch_all(&pool).await.expect("check");
        assert!(broken.is_empty());
        // The same name under another owner is a second row, not a conflict.
        sqlx::raw_sql("INSERT INTO glossaries (key_id, name, from_lang, to_lang, entries, created_at, updated_at) VALUES ('k', 'g', 'en', 'es', '[]', 2, 2)")
            .execute(&pool)
            .await
            .expect("a second owner's glossary");
        pool.close().await;
        let _ = std::fs::remove_file(&path);
    }
}
