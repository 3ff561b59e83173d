//! Translator glossaries (table `glossaries`): term lists per language pair, owned by a key.

use crate::db::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Glossary {
    pub key_id: String,
    pub name: String,
    pub from_lang: String,
    pub to_lang: String,
    #[sqlx(try_from = "crate::db::JsonText<Vec<(String, String)>>")]
    pub entries: Vec<(String, String)>,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! columns {
    () => {
        "key_id, name, from_lang, to_lang, entries, created_at, updated_at"
    };
}

pub struct Glossaries<'a> {
    db: &'a Db,
}

impl<'a> Glossaries<'a> {
    pub fn new(db: &'a Db) -> Self {
        Self { db }
    }

    /// The glossary `name` of the owner `key_id`.
    pub async fn get(&self, key_id: &str, name: &str) -> Result<Option<Glossary>, sqlx::Error> {
        sqlx::query_as(concat!("SELECT ", columns!(), " FROM glossaries WHERE key_id = $1 AND name = $2"))
            .bind(key_id)
            .bind(name)
            .fetch_optional(self.db)
            .await
    }

    /// When the glossary was last written (`None`: it does not exist): what a replica's compiled
    /// copy is checked against, since another replica may have replaced it.
    pub async fn version(&self, key_id: &str, name: &str) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT updated_at FROM glossaries WHERE key_id = $1 AND name = $2")
            .bind(key_id)
            .bind(name)
            .fetch_optional(self.db)
            .await
    }

    /// Creates or replaces `key_id`'s glossary `name` (a replacement keeps its creation time).
    pub async fn put(
        &self,
        key_id: &str,
        name: &str,
        from: &str,
        to: &str,
        entries_json: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO glossaries (key_id, name, from_lang, to_lang, entries, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (key_id, name) DO UPDATE SET from_lang = excluded.from_lang, to_lang = excluded.to_lang, \
             entries = excluded.entries, updated_at = excluded.updated_at",
        )
        .bind(key_id)
        .bind(name)
        .bind(from)
        .bind(to)
        .bind(entries_json)
        .bind(now)
        .execute(self.db)
        .await?;
        Ok(())
    }

    /// The glossaries of `key_id`, or every owner's when `all`, by name.
    pub async fn list(&self, key_id: &str, all: bool) -> Result<Vec<Glossary>, sqlx::Error> {
        sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM glossaries WHERE (key_id = $1 OR $2) ORDER BY name, key_id"
        ))
        .bind(key_id)
        .bind(all)
        .fetch_all(self.db)
        .await
    }
}
