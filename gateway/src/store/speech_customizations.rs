//! Custom speech models (a base Whisper model and a phrase list, table `speech_models`) and
//! pronunciation lexicons (W3C PLS documents, table `speech_lexicons`), owned by a key.

use serde::Serialize;

use crate::db::Db;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct CustomModel {
    #[serde(skip)]
    pub key_id: String,
    pub name: String,
    pub base_model: String,
    #[sqlx(try_from = "crate::db::JsonText<Vec<String>>")]
    pub phrases: Vec<String>,
    pub description: String,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! model_columns {
    () => {
        "key_id, name, base_model, phrases, description, created_at, updated_at"
    };
}

pub struct SpeechCustomizations<'a> {
    db: &'a Db,
}

impl<'a> SpeechCustomizations<'a> {
    pub fn new(db: &'a Db) -> Self {
        Self { db }
    }

    /// The custom model `name` of the owner `key_id`.
    pub async fn model(&self, key_id: &str, name: &str) -> Result<Option<CustomModel>, sqlx::Error> {
        sqlx::query_as(concat!("SELECT ", model_columns!(), " FROM speech_models WHERE key_id = $1 AND name = $2"))
            .bind(key_id)
            .bind(name)
            .fetch_optional(self.db)
            .await
    }

    /// Creates or replaces `key_id`'s model `name` (a replacement keeps its creation time).
    pub async fn put_model(
        &self,
        key_id: &str,
        name: &str,
        base_model: &str,
        phrases: &[String],
        description: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO speech_models (key_id, name, base_model, phrases, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (key_id, name) DO UPDATE SET base_model = excluded.base_model, phrases = excluded.phrases, \
             description = excluded.description, updated_at = excluded.updated_at",
        )
        .bind(key_id)
        .bind(name)
        .bind(base_model)
        .bind(serde_json::to_string(phrases).unwrap_or_else(|_| "[]".into()))
        .bind(description)
        .bind(now)
        .execute(self.db)
        .await?;
        Ok(())
    }

    /// The models of `key_id`, or every owner's when `all`, by name (at most 1,000).
    pub async fn models(&self, key_id: &str, all: bool) -> Result<Vec<CustomModel>, sqlx::Error> {
        sqlx::query_as(concat!(
            "SELECT ",
            model_columns!(),
            " FROM speech_models WHERE (key_id = $1 OR $2) ORDER BY name, key_id LIMIT 1000"
        ))
        .bind(key_id)
        .bind(all)
        .fetch_all(self.db)
        .await
    }

    /// The PLS document of the lexicon `name` of the owner `key_id`.
    pub async fn lexicon(&self, key_id: &str, name: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT pls FROM speech_lexicons WHERE key_id = $1 AND name = $2")
            .bind(key_id)
            .bind(name)
            .fetch_optional(self.db)
            .await
    }

    /// Creates or replaces `key_id`'s lexicon `name`.
    pub async fn put_lexicon(&self, key_id: &str, name: &str, pls: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO speech_lexicons (key_id, name, pls, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key_id, name) DO UPDATE SET pls = excluded.pls",
        )
        .bind(key_id)
        .bind(name)
        .bind(pls)
        .bind(now)
        .execute(self.db)
        .await?;
        Ok(())
    }

    /// (name, owner) of the lexicons of `key_id`, or every owner's when `all` (at most 1,000).
    pub async fn lexicons(&self, key_id: &str, all: bool) -> Result<Vec<(String, String)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT name, key_id FROM speech_lexicons WHERE (key_id = $1 OR $2) ORDER BY name, key_id LIMIT 1000",
        )
        .bind(key_id)
        .bind(all)
        .fetch_all(self.db)
        .await
    }
}
