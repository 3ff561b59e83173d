//! The finished jobs of the Language authoring APIs' long-running operations, kept so that the
//! SDKs' pollers can read them: question answering's (`qna_jobs`) and conversational language
//! understanding's (`clu_jobs`). The work is done before the job is recorded, so a job is
//! written once, as it ends.

use crate::db::Db;

/// Which API's jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobTable {
    Qna,
    Clu,
}

macro_rules! job_sql {
    ($table:literal) => {
        (
            concat!("DELETE FROM ", $table, " WHERE expires_at < $1"),
            concat!(
                "INSERT INTO ",
                $table,
                " (id, key_id, project, kind, status, errors, result, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ),
            concat!(
                "SELECT id, project, kind, status, errors, result, created_at, expires_at FROM ",
                $table,
                " WHERE key_id = $1 AND id = $2"
            ),
        )
    };
}

impl JobTable {
    /// (forget expired, insert, select one).
    fn sql(self) -> (&'static str, &'static str, &'static str) {
        match self {
            JobTable::Qna => job_sql!("qna_jobs"),
            JobTable::Clu => job_sql!("clu_jobs"),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: String,
    pub project: String,
    pub kind: String,
    pub status: String,
    /// JSON array.
    pub errors: String,
    /// What the job made (an export), JSON.
    pub result: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

pub struct AuthoringJobs<'a> {
    db: &'a Db,
    table: JobTable,
}

impl<'a> AuthoringJobs<'a> {
    pub fn new(db: &'a Db, table: JobTable) -> Self {
        Self { db, table }
    }

    /// Records a finished job (and forgets expired ones).
    pub async fn insert(&self, key_id: &str, job: &Job) -> Result<(), sqlx::Error> {
        let (forget, insert, _) = self.table.sql();
        sqlx::query(forget).bind(job.created_at).execute(self.db).await?;
        sqlx::query(insert)
            .bind(&job.id)
            .bind(key_id)
            .bind(&job.project)
            .bind(&job.kind)
            .bind(&job.status)
            .bind(&job.errors)
            .bind(&job.result)
            .bind(job.created_at)
            .bind(job.expires_at)
            .execute(self.db)
            .await?;
        Ok(())
    }

    pub async fn get(&self, key_id: &str, id: &str) -> Result<Option<Job>, sqlx::Error> {
        let (_, _, select) = self.table.sql();
        sqlx::query_as(select).bind(key_id).bind(id).fetch_optional(self.db).await
    }
}
