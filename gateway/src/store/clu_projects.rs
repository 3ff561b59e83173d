//! Conversational language understanding projects (`clu_projects`), their trained models by label
//! (`clu_models`) and deployments (`clu_deployments`, each holding a copy of the model it serves),
//! owned by a key.

use crate::db::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Project {
    pub name: String,
    pub language: String,
    pub description: String,
    /// JSON (`confidenceThreshold`, ...).
    pub settings: String,
    pub string_index_type: String,
    /// JSON: the imported assets, offsets in `string_index_type`.
    pub assets: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub trained_at: Option<i64>,
    pub deployed_at: Option<i64>,
}

macro_rules! project_columns {
    () => {
        "name, language, description, settings, string_index_type, assets, created_at, updated_at, trained_at, deployed_at"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Deployment {
    pub name: String,
    pub label: String,
    pub model: String,
    pub trained_at: i64,
    pub deployed_at: i64,
}

/// A project as written by import.
pub struct NewProject<'a> {
    pub name: &'a str,
    pub language: &'a str,
    pub description: &'a str,
    pub settings: &'a str,
    pub string_index_type: &'a str,
    pub assets: &'a str,
}

pub struct CluProjects<'a> {
    db: &'a Db,
}

impl<'a> CluProjects<'a> {
    pub fn new(db: &'a Db) -> Self {
        Self { db }
    }

    pub async fn get(&self, key_id: &str, name: &str) -> Result<Option<Project>, sqlx::Error> {
        sqlx::query_as(concat!("SELECT ", project_columns!(), " FROM clu_projects WHERE key_id = $1 AND name = $2"))
            .bind(key_id)
            .bind(name)
            .fetch_optional(self.db)
            .await
    }

    pub async fn list(&self, key_id: &str) -> Result<Vec<Project>, sqlx::Error> {
        sqlx::query_as(concat!("SELECT ", project_columns!(), " FROM clu_projects WHERE key_id = $1 ORDER BY name"))
            .bind(key_id)
            .fetch_all(self.db)
            .await
    }

    /// Creates the project or replaces its settings and assets (its models and deployments stay).
    pub async fn put(&self, key_id: &str, p: &NewProject<'_>, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO clu_projects (key_id, name, language, description, settings, string_index_type, assets, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (key_id, name) DO UPDATE \
             SET language = excluded.language, description = excluded.description, settings = excluded.settings, \
             string_index_type = excluded.string_index_type, assets = excluded.assets, updated_at = excluded.updated_at",
        )
        .bind(key_id)
        .bind(p.name)
        .bind(p.language)
        .bind(p.description)
        .bind(p.settings)
        .bind(p.string_index_type)
        .bind(p.assets)
        .bind(now)
        .execute(self.db)
        .await?;
        Ok(())
    }

    pub async fn delete(&self, key_id: &str, name: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM clu_projects WHERE key_id = $1 AND name = $2")
            .bind(key_id)
            .bind(name)
            .execute(self.db)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Stores a trained model under `label` (replacing one of that label).
    pub async fn save_model(
        &self,
        key_id: &str,
        project: &str,
        label: &str,
        model: &str,
        report: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO clu_models (key_id, project, label, model, report, trained_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (key_id, project, label) DO UPDATE SET model = excluded.model, report = excluded.report, \
             trained_at = excluded.trained_at",
        )
        .bind(key_id)
        .bind(project)
        .bind(label)
        .bind(model)
        .bind(report)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE clu_projects SET trained_at = $1 WHERE key_id = $2 AND name = $3")
            .bind(now)
            .bind(key_id)
            .bind(project)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// The model trained under `label`: (model JSON, trained at).
    pub async fn model(&self, key_id: &str, project: &str, label: &str) -> Result<Option<(String, i64)>, sqlx::Error> {
        sqlx::query_as("SELECT model, trained_at FROM clu_models WHERE key_id = $1 AND project = $2 AND label = $3")
            .bind(key_id)
            .bind(project)
            .bind(label)
            .fetch_optional(self.db)
            .await
    }

    /// Deploys a copy of a trained model under `name`.
    pub async fn deploy(
        &self,
        key_id: &str,
        project: &str,
        name: &str,
        label: &str,
        (model, trained_at): (&str, i64),
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO clu_deployments (key_id, project, name, label, model, trained_at, deployed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key_id, project, name) DO UPDATE SET \
             label = excluded.label, model = excluded.model, trained_at = excluded.trained_at, \
             deployed_at = excluded.deployed_at",
        )
        .bind(key_id)
        .bind(project)
        .bind(name)
        .bind(label)
        .bind(model)
        .bind(trained_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE clu_projects SET deployed_at = $1 WHERE key_id = $2 AND name = $3")
            .bind(now)
            .bind(key_id)
            .bind(project)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    pub async fn deployment(&self, key_id: &str, project: &str, name: &str) -> Result<Option<Deployment>, sqlx::Error> {
        sqlx::query_as(
            "SELECT name, label, model, trained_at, deployed_at FROM clu_deployments \
             WHERE key_id = $1 AND project = $2 AND name = $3",
        )
        .bind(key_id)
        .bind(project)
        .bind(name)
        .fetch_optional(self.db)
        .await
    }
}
