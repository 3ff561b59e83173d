//! The database: SQLite (embedded, the default) or PostgreSQL (several replicas on one database),
//! chosen by the URL's scheme, opened through sqlx's `Any` driver and migrated at start.
//!
//! Every query is written once in the SQL both engines accept (`$1` placeholders, UNIX seconds
//! as integers, `CAST(... AS BIGINT)` where Postgres would widen to NUMERIC); the few places that
//! differ ask [`engine`]. Each engine has its own migrations (`migrations/sqlite`,
//! `migrations/postgres`), numbered in step.

use std::str::FromStr;
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub type Db = AnyPool;

/// Which engine a pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn of_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Engine::Postgres)
        } else {
            anyhow::bail!("database.url must start with sqlite: or postgres:// (got {url:?})")
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// The engine behind a pool.
pub fn engine(db: &Db) -> Engine {
    match db.connect_options().database_url.scheme() {
        "postgres" | "postgresql" => Engine::Postgres,
        _ => Engine::Sqlite,
    }
}

static DRIVERS: Once = Once::new();

/// How many connections a pool holds.
pub struct PoolSize(pub u32);

pub async fn connect(url: &str) -> anyhow::Result<Db> {
    connect_sized(url, PoolSize(8)).await
}

pub async fn connect_sized(url: &str, size: PoolSize) -> anyhow::Result<Db> {
    DRIVERS.call_once(sqlx::any::install_default_drivers);
    let engine = Engine::of_url(url)?;
    let url = match engine {
        Engine::Sqlite => sqlite_url(url)?,
        Engine::Postgres => url.to_string(),
    };
    let options = AnyConnectOptions::from_str(&url).with_context(|| format!("bad database url {}", redact(&url)))?;
    let pool = AnyPoolOptions::new()
        .max_connections(size.0.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if engine == Engine::Sqlite {
                    // WAL lets readers run beside the one writer; foreign keys are off by default.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .with_context(|| format!("opening database {}", redact(&url)))?;
    migrate(&pool, engine).await?;
    Ok(pool)
}

async fn migrate(pool: &Db, engine: Engine) -> anyhow::Result<()> {
    match engine {
        Engine::Sqlite => sqlx::migrate!("./migrations/sqlite").run(pool).await,
        Engine::Postgres => sqlx::migrate!("./migrations/postgres").run(pool).await,
    }
    .with_context(|| format!("migrating the {} database", engine.name()))
}

/// `sqlite://PATH` with the file's directory created and `mode=rwc` (create if missing).
fn sqlite_url(url: &str) -> anyhow::Result<String> {
    if url.contains(":memory:") {
        return Ok(url.to_string());
    }
    let Some(rest) = url.strip_prefix("sqlite://") else {
        anyhow::bail!("a SQLite database.url is sqlite://PATH or sqlite::memory: (got {url:?})");
    };
    let path = rest.split('?').next().unwrap_or(rest);
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(if rest.contains("mode=") {
        url.to_string()
    } else if rest.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// A JSON document kept in a TEXT column (the `Any` driver has no JSON type). Rows read it with
/// `#[sqlx(try_from = "JsonText<T>")]`, for the `T`s that have a `From<JsonText<T>>` below.
pub struct JsonText<T>(pub T);

impl<T> sqlx::Type<sqlx::Any> for JsonText<T> {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <String as sqlx::Type<sqlx::Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <String as sqlx::Type<sqlx::Any>>::compatible(ty)
    }
}

impl<'r, T: serde::de::DeserializeOwned> sqlx::Decode<'r, sqlx::Any> for JsonText<T> {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <String as sqlx::Decode<sqlx::Any>>::decode(value)?;
        Ok(JsonText(serde_json::from_str(&text)?))
    }
}

impl From<JsonText<Vec<String>>> for Vec<String> {
    fn from(v: JsonText<Vec<String>>) -> Self {
        v.0
    }
}

impl From<JsonText<Vec<(String, String)>>> for Vec<(String, String)> {
    fn from(v: JsonText<Vec<(String, String)>>) -> Self {
        v.0
    }
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
    use std::str::FromStr;

    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

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
        let migrator = sqlx::migrate!("./migrations/sqlite");
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
            ("SELECT key_id FROM glossaries WHERE name = $1", "g"),
            ("SELECT key_id FROM speech_models WHERE name = $1", "m"),
            ("SELECT key_id FROM speech_lexicons WHERE name = $1", "l"),
            ("SELECT key_id FROM classification_projects WHERE name = $1", "p"),
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
