//! Question answering projects (table `qna_projects`: settings and the QnAs and synonyms as one
//! JSON document) and their deployments (`qna_deployments`: a snapshot with its vectors). Both
//! belong to a key; the authoring API's jobs are in [`super::authoring_jobs`].

use crate::db::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Project {
    pub name: String,
    pub language: String,
    pub description: String,
    pub default_answer: Option<String>,
    pub multilingual: i64,
    /// The QnAs, synonyms and next QnA id, as JSON.
    pub assets: String,
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub deployed_at: Option<i64>,
}

macro_rules! project_columns {
    () => {
        "name, language, description, default_answer, multilingual, assets, revision, created_at, updated_at, deployed_at"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Deployment {
    pub name: String,
    pub deployed_at: i64,
}

pub struct QnaProjects<'a> {
    db: &'a Db,
}

impl<'a> QnaProjects<'a> {
    pub fn new(db: &'a Db) -> Self {
        Self { db }
    }

    pub async fn get(&self, key_id: &str, name: &str) -> Result<Option<Project>, sqlx::Error> {
        sqlx::query_as(concat!("SELECT ", project_columns!(), " FROM qna_projects WHERE key_id = $1 AND name = $2"))
            .bind(key_id)
            .bind(name)
            .fetch_optional(self.db)
            .await
    }

    /// The key's projects by name, `skip` then at most `top`.
    pub async fn list(&self, key_id: &str, skip: i64, top: i64) -> Result<Vec<Project>, sqlx::Error> {
        sqlx::query_as(concat!(
            "SELECT ",
            project_columns!(),
            " FROM qna_projects WHERE key_id = $1 ORDER BY name LIMIT $2 OFFSET $3"
        ))
        .bind(key_id)
        .bind(top)
        .bind(skip)
        .fetch_all(self.db)
        .await
    }

    /// Creates the project, or updates its settings (keeping its QnAs): true when created.
    #[allow(clippy::too_many_arguments)]
    pub async fn put(
        &self,
        key_id: &str,
        name: &str,
        language: &str,
        description: &str,
        default_answer: Option<&str>,
        multilingual: bool,
        empty_assets: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let updated = sqlx::query(
            "UPDATE qna_projects SET language = $3, description = $4, default_answer = $5, multilingual = $6, \
             updated_at = $7 WHERE key_id = $1 AND name = $2",
        )
        .bind(key_id)
        .bind(name)
        .bind(language)
        .bind(description)
        .bind(default_answer)
        .bind(i64::from(multilingual))
        .bind(now)
        .execute(self.db)
        .await?
        .rows_affected();
        if updated > 0 {
            return Ok(false);
        }
        let inserted = sqlx::query(
            "INSERT INTO qna_projects (key_id, name, language, description, default_answer, multilingual, assets, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (key_id, name) DO NOTHING",
        )
        .bind(key_id)
        .bind(name)
        .bind(language)
        .bind(description)
        .bind(default_answer)
        .bind(i64::from(multilingual))
        .bind(empty_assets)
        .bind(now)
        .execute(self.db)
        .await?
        .rows_affected();
        Ok(inserted > 0)
    }

    /// Replaces the project's assets if it is still at `revision`: false when another writer
    /// changed them first (read again and retry).
    pub async fn save_assets(
        &self,
        key_id: &str,
        name: &str,
        revision: i64,
        assets: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE qna_projects SET assets = $1, revision = revision + 1, updated_at = $2 \
             WHERE key_id = $3 AND name = $4 AND revision = $5",
        )
        .bind(assets)
        .bind(now)
        .bind(key_id)
        .bind(name)
        .bind(revision)
        .execute(self.db)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a project with its deployments: false when there was none.
    pub async fn delete(&self, key_id: &str, name: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM qna_projects WHERE key_id = $1 AND name = $2")
            .bind(key_id)
            .bind(name)
            .execute(self.db)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Stores a deployment (replacing one of the same name).
    pub async fn deploy(
        &self,
        key_id: &str,
        project: &str,
        name: &str,
        knowledge_base: &str,
        vectors: &[u8],
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO qna_deployments (key_id, project, name, knowledge_base, vectors, deployed_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key_id, project, name) DO UPDATE SET \
             knowledge_base = excluded.knowledge_base, vectors = excluded.vectors, deployed_at = excluded.deployed_at",
        )
        .bind(key_id)
        .bind(project)
        .bind(name)
        .bind(knowledge_base)
        .bind(vectors)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE qna_projects SET deployed_at = $1 WHERE key_id = $2 AND name = $3")
            .bind(now)
            .bind(key_id)
            .bind(project)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    pub async fn deployments(&self, key_id: &str, project: &str) -> Result<Vec<Deployment>, sqlx::Error> {
        sqlx::query_as("SELECT name, deployed_at FROM qna_deployments WHERE key_id = $1 AND project = $2 ORDER BY name")
            .bind(key_id)
            .bind(project)
            .fetch_all(self.db)
            .await
    }

    /// When the deployment was made (to tell whether a cached copy is current).
    pub async fn deployed_at(&self, key_id: &str, project: &str, name: &str) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT deployed_at FROM qna_deployments WHERE key_id = $1 AND project = $2 AND name = $3")
            .bind(key_id)
            .bind(project)
            .bind(name)
            .fetch_optional(self.db)
            .await
    }

    /// The deployment's knowledge base (JSON), vectors and time.
    pub async fn deployment(
        &self,
        key_id: &str,
        project: &str,
        name: &str,
    ) -> Result<Option<(String, Vec<u8>, i64)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT knowledge_base, vectors, deployed_at FROM qna_deployments \
             WHERE key_id = $1 AND project = $2 AND name = $3",
        )
        .bind(key_id)
        .bind(project)
        .bind(name)
        .fetch_optional(self.db)
        .await
    }
}
