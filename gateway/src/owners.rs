//! Who owns a named customization (glossary, custom speech model, pronunciation lexicon,
//! classification project): the key that created it. Names are unique per owner, so two keys can
//! each have a glossary `cars`; a key reaches only its own (another key's is a 404 like a missing
//! one). Admin keys list every owner's, and when an admin key names a resource it does not own,
//! the name resolves to the one of that name that was created first (the lowest rowid on SQLite,
//! `seq` on Postgres: rows are only ever appended, and a replacing PUT keeps its row). Rows from
//! before owners existed belong to [`LEGACY`], which only admin keys reach.
//!
//! Creating or replacing (PUT) always writes the caller's own resource; every other use of a name
//! resolves it with [`Owner::resolve`]. Listings keep the rows `WHERE (key_id = ? OR ?)`, bound
//! to the caller's key id and whether it is an admin key.

use cogway_core::Code;
use serde_json::Value;

use crate::db::{Db, Engine, engine};
use crate::errors::{ApiError, ApiResult};
use crate::keys::KeyInfo;

/// The owner of the rows that existed before owners did (no key has this id).
pub const LEGACY: &str = "";

/// The tables of owned, named customizations (each has `key_id`, `name` and `created_at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Glossaries,
    SpeechModels,
    SpeechLexicons,
    ClassificationProjects,
}

/// The SQL of [`Owner::resolve`] for one table: binds the name, then the caller's key id. The
/// insertion order is `rowid` on SQLite and the `seq` identity column on Postgres.
macro_rules! resolve_sql {
    ($table:literal, $order:literal) => {
        concat!("SELECT key_id FROM ", $table, " WHERE name = $1 ORDER BY key_id = $2 DESC, ", $order, " LIMIT 1")
    };
}

/// The SQL of [`Owner::delete`] for one table: binds the owner's key id, then the name.
macro_rules! delete_sql {
    ($table:literal) => {
        concat!("DELETE FROM ", $table, " WHERE key_id = $1 AND name = $2")
    };
}

impl Table {
    fn resolve_sql(self, engine: Engine) -> &'static str {
        match (self, engine) {
            (Table::Glossaries, Engine::Sqlite) => resolve_sql!("glossaries", "rowid"),
            (Table::SpeechModels, Engine::Sqlite) => resolve_sql!("speech_models", "rowid"),
            (Table::SpeechLexicons, Engine::Sqlite) => resolve_sql!("speech_lexicons", "rowid"),
            (Table::ClassificationProjects, Engine::Sqlite) => resolve_sql!("classification_projects", "rowid"),
            (Table::Glossaries, Engine::Postgres) => resolve_sql!("glossaries", "seq"),
            (Table::SpeechModels, Engine::Postgres) => resolve_sql!("speech_models", "seq"),
            (Table::SpeechLexicons, Engine::Postgres) => resolve_sql!("speech_lexicons", "seq"),
            (Table::ClassificationProjects, Engine::Postgres) => resolve_sql!("classification_projects", "seq"),
        }
    }

    fn delete_sql(self) -> &'static str {
        match self {
            Table::Glossaries => delete_sql!("glossaries"),
            Table::SpeechModels => delete_sql!("speech_models"),
            Table::SpeechLexicons => delete_sql!("speech_lexicons"),
            Table::ClassificationProjects => delete_sql!("classification_projects"),
        }
    }
}

/// The key a request acts for, as far as owned resources go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub key_id: String,
    pub is_admin: bool,
}

impl From<&KeyInfo> for Owner {
    fn from(key: &KeyInfo) -> Self {
        Self { key_id: key.id.clone(), is_admin: key.is_admin }
    }
}

impl Owner {
    /// The owner of the resource `name` in `table` that this caller reaches: its own key, or, for
    /// an admin key that has none of that name, the owner of the first one created. The caller
    /// then reads the row with `key_id = <this> AND name = ?`; a missing row is the usual 404.
    pub async fn resolve(&self, db: &Db, table: Table, name: &str) -> ApiResult<String> {
        if !self.is_admin {
            return Ok(self.key_id.clone());
        }
        let found: Option<String> =
            sqlx::query_scalar(table.resolve_sql(engine(db))).bind(name).bind(&self.key_id).fetch_optional(db).await?;
        Ok(found.unwrap_or_else(|| self.key_id.clone()))
    }

    /// Deletes the resource `name` in `table` that this caller reaches (rows that refer to it go
    /// with it); the owner it belonged to, or `None` when there was none (a 404 for the caller).
    pub async fn delete(&self, db: &Db, table: Table, name: &str) -> ApiResult<Option<String>> {
        let key_id = self.resolve(db, table, name).await?;
        let done = sqlx::query(table.delete_sql()).bind(&key_id).bind(name).execute(db).await?;
        Ok((done.rows_affected() > 0).then_some(key_id))
    }

    /// A listed resource as JSON, with its owner's key id added for admin keys (whose listings
    /// hold every owner's resources).
    pub fn listed(&self, mut item: Value, owner: &str) -> Value {
        if self.is_admin
            && let Value::Object(map) = &mut item
        {
            map.insert("owner".into(), Value::String(owner.to_string()));
        }
        item
    }
}

/// The kinds of customization a key stores, counted by [`ensure_room`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Named(Table),
    VisionProjects,
    QnaProjects,
    CluProjects,
}

/// The SQL counting one key's rows of a table: binds the key id.
macro_rules! count_sql {
    ($table:literal) => {
        concat!("SELECT COUNT(*) FROM ", $table, " WHERE key_id = $1")
    };
}

impl Stored {
    fn count_sql(self) -> &'static str {
        match self {
            Stored::Named(Table::Glossaries) => count_sql!("glossaries"),
            Stored::Named(Table::SpeechModels) => count_sql!("speech_models"),
            Stored::Named(Table::SpeechLexicons) => count_sql!("speech_lexicons"),
            Stored::Named(Table::ClassificationProjects) => count_sql!("classification_projects"),
            Stored::VisionProjects => count_sql!("vision_projects"),
            Stored::QnaProjects => count_sql!("qna_projects"),
            Stored::CluProjects => count_sql!("clu_projects"),
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Stored::Named(Table::Glossaries) => "glossaries",
            Stored::Named(Table::SpeechModels) => "custom speech models",
            Stored::Named(Table::SpeechLexicons) => "lexicons",
            Stored::Named(Table::ClassificationProjects) => "classification projects",
            Stored::VisionProjects => "custom vision projects",
            Stored::QnaProjects => "question answering projects",
            Stored::CluProjects => "conversational language understanding projects",
        }
    }
}

/// Refuses a new customization of `kind` when `key` already stores `limit` of them, so that no
/// key can fill the disk (and the caches of compiled customizations) with them. Admin keys are
/// not limited. Checked before the insert, not in it: concurrent creations of one key can pass
/// the limit by at most its in-flight share.
pub async fn ensure_room(db: &Db, kind: Stored, key: &KeyInfo, limit: u32) -> ApiResult<()> {
    if key.is_admin {
        return Ok(());
    }
    let count: i64 = sqlx::query_scalar(kind.count_sql()).bind(&key.id).fetch_one(db).await?;
    if count >= i64::from(limit) {
        return Err(ApiError::new(
            Code::InvalidRequest,
            format!(
                "This key already stores {count} {}, the most it may (limits.max_customizations_per_key): \
                 delete one first.",
                kind.plural()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    async fn db() -> Db {
        let dir = std::env::temp_dir().join(format!("cogway-owners-{}-{}", std::process::id(), crate::db::now()));
        let path = dir.join(format!("{}.db", uuid::Uuid::new_v4()));
        crate::db::connect(&format!("sqlite://{}", path.display())).await.expect("database")
    }

    async fn lexicon(db: &Db, key_id: &str, name: &str) {
        sqlx::query("INSERT INTO speech_lexicons (key_id, name, pls, created_at) VALUES ($1, $2, $3, 1)")
            .bind(key_id)
            .bind(name)
            .bind(format!("{key_id}/{name}"))
            .execute(db)
            .await
            .expect("insert");
    }

    fn owner(key_id: &str, is_admin: bool) -> Owner {
        Owner { key_id: key_id.into(), is_admin }
    }

    #[tokio::test]
    async fn a_key_resolves_only_to_itself_and_an_admin_falls_back_to_the_first_created() {
        let db = db().await;
        // All in the same second: creation order, not the clock, decides.
        lexicon(&db, LEGACY, "shared").await;
        lexicon(&db, "b", "shared").await;
        lexicon(&db, "a", "own").await;
        let table = Table::SpeechLexicons;
        // A non-admin key never reaches another owner's row, whatever exists.
        assert_eq!(owner("a", false).resolve(&db, table, "shared").await.expect("resolve"), "a");
        assert_eq!(owner("b", false).resolve(&db, table, "own").await.expect("resolve"), "b");
        // An admin key: its own first, else the first created of that name, else itself.
        assert_eq!(owner("root", true).resolve(&db, table, "shared").await.expect("resolve"), LEGACY);
        assert_eq!(owner("root", true).resolve(&db, table, "own").await.expect("resolve"), "a");
        assert_eq!(owner("root", true).resolve(&db, table, "none").await.expect("resolve"), "root");
        lexicon(&db, "root", "shared").await;
        assert_eq!(owner("root", true).resolve(&db, table, "shared").await.expect("resolve"), "root");
        // The same name under two owners is two rows: names are unique per owner only.
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM speech_lexicons WHERE name = 'shared'")
            .fetch_one(&db)
            .await
            .expect("count");
        assert_eq!(count, 3);
    }

    #[tokio::test]
    async fn classification_examples_belong_to_their_owners_project() {
        let db = db().await;
        for key in ["a", "b"] {
            sqlx::query(
                "INSERT INTO classification_projects (key_id, name, language, created_at) VALUES ($1, 'p', 'en', 1)",
            )
            .bind(key)
            .execute(&db)
            .await
            .expect("project");
            sqlx::query(
                "INSERT INTO classification_examples (key_id, project, text, label) VALUES ($1, 'p', 't', 'l')",
            )
            .bind(key)
            .execute(&db)
            .await
            .expect("example");
        }
        // An example of a project its key does not have is refused.
        let orphan = sqlx::query(
            "INSERT INTO classification_examples (key_id, project, text, label) VALUES ('c', 'p', 't', 'l')",
        )
        .execute(&db)
        .await;
        assert!(orphan.is_err());
        // Deleting a's project takes a's examples only.
        sqlx::query("DELETE FROM classification_projects WHERE key_id = 'a' AND name = 'p'")
            .execute(&db)
            .await
            .expect("delete");
        let left: Vec<String> =
            sqlx::query_scalar("SELECT key_id FROM classification_examples").fetch_all(&db).await.expect("examples");
        assert_eq!(left, vec!["b".to_string()]);
    }

    #[test]
    fn only_admin_listings_name_the_owner() {
        let item = json!({ "name": "cars" });
        assert_eq!(owner("a", false).listed(item.clone(), "a"), json!({ "name": "cars" }));
        assert_eq!(owner("root", true).listed(item, "a"), json!({ "name": "cars", "owner": "a" }));
    }
}
