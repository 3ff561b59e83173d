//! Custom text classification projects (table `classification_projects`, the trained model as
//! JSON) and their labelled examples (`classification_examples`), owned by a key.

use crate::db::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Project {
    pub key_id: String,
    pub name: String,
    pub language: String,
    pub description: String,
    pub created_at: i64,
    pub trained_at: Option<i64>,
    pub evaluation: Option<String>,
}

macro_rules! project_columns {
    () => {
        "key_id, name, language, description, created_at, trained_at, evaluation"
    };
}

pub struct ClassificationProjects<'a> {
    db: &'a Db,
}

impl<'a> ClassificationProjects<'a> {
    pub fn new(db: &'a Db) -> Self {
        Self { db }
    }

    pub async fn get(&self, key_id: &str, name: &str) -> Result<Option<Project>, sqlx::Error> {
        sqlx::query_as(concat!(
            "SELECT ",
            project_columns!(),
            " FROM classification_projects WHERE key_id = $1 AND name = $2"
        ))
        .bind(key_id)
        .bind(name)
        .fetch_optional(self.db)
        .await
    }

    /// (label, examples) of a project, by label.
    pub async fn label_counts(&self, key_id: &str, name: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT label, COUNT(*) FROM classification_examples WHERE key_id = $1 AND project = $2 \
             GROUP BY label ORDER BY label",
        )
        .bind(key_id)
        .bind(name)
        .fetch_all(self.db)
        .await
    }

    /// Creates `key_id`'s project `name`, or updates its language and description.
    pub async fn put(
        &self,
        key_id: &str,
        name: &str,
        language: &str,
        description: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO classification_projects (key_id, name, language, description, created_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (key_id, name) DO UPDATE SET language = excluded.language, description = excluded.description",
        )
        .bind(key_id)
        .bind(name)
        .bind(language)
        .bind(description)
        .bind(now)
        .execute(self.db)
        .await?;
        Ok(())
    }

    /// The projects of `key_id`, or every owner's when `all`, by name (at most 1,000).
    pub async fn list(&self, key_id: &str, all: bool) -> Result<Vec<Project>, sqlx::Error> {
        sqlx::query_as(concat!(
            "SELECT ",
            project_columns!(),
            " FROM classification_projects WHERE (key_id = $1 OR $2) ORDER BY name, key_id LIMIT 1000"
        ))
        .bind(key_id)
        .bind(all)
        .fetch_all(self.db)
        .await
    }

    /// Adds labelled examples, all or none.
    pub async fn add_examples(&self, key_id: &str, name: &str, examples: &[(&str, &str)]) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin().await?;
        for (text, label) in examples {
            sqlx::query("INSERT INTO classification_examples (key_id, project, text, label) VALUES ($1, $2, $3, $4)")
                .bind(key_id)
                .bind(name)
                .bind(*text)
                .bind(*label)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    /// (text, label) of every example, in the order they were added.
    pub async fn examples(&self, key_id: &str, name: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
        sqlx::query_as("SELECT text, label FROM classification_examples WHERE key_id = $1 AND project = $2 ORDER BY id")
            .bind(key_id)
            .bind(name)
            .fetch_all(self.db)
            .await
    }

    pub async fn save_model(
        &self,
        key_id: &str,
        name: &str,
        model_json: &str,
        evaluation_json: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE classification_projects SET model = $1, evaluation = $2, trained_at = $3 \
             WHERE key_id = $4 AND name = $5",
        )
        .bind(model_json)
        .bind(evaluation_json)
        .bind(now)
        .bind(key_id)
        .bind(name)
        .execute(self.db)
        .await?;
        Ok(())
    }

    /// The trained model (JSON): `None` without such a project, `Some(None)` before training.
    pub async fn model(&self, key_id: &str, name: &str) -> Result<Option<Option<String>>, sqlx::Error> {
        sqlx::query_scalar("SELECT model FROM classification_projects WHERE key_id = $1 AND name = $2")
            .bind(key_id)
            .bind(name)
            .fetch_optional(self.db)
            .await
    }
}
