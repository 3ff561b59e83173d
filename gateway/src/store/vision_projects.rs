//! Custom vision projects, their labelled images (with the embedding computed at upload) and
//! their trained iterations: tables `vision_projects`, `vision_images`, `vision_iterations`.

use crate::db::{Db, now};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub description: String,
    pub key_id: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Iteration {
    pub id: String,
    pub project_id: String,
    pub status: String,
    pub evaluation: Option<String>,
    pub published_name: Option<String>,
    pub created_at: i64,
    pub trained_at: Option<i64>,
}

/// A labelled image to store.
pub struct NewImage<'a> {
    pub project_id: &'a str,
    pub tag: &'a str,
    pub data: &'a [u8],
    /// Little-endian f32s.
    pub embedding: &'a [u8],
    pub width: u32,
    pub height: u32,
}

/// What publishing a name did.
#[derive(Debug, PartialEq, Eq)]
pub enum Published {
    Done,
    /// Another project publishes under that name.
    TakenByAnotherProject,
}

/// A published iteration: its project, id, model (JSON) and the project's owner.
pub struct PublishedModel {
    pub project_id: String,
    pub iteration_id: String,
    pub model: Option<String>,
    pub owner: String,
}

pub struct VisionProjects<'a> {
    db: &'a Db,
}

impl<'a> VisionProjects<'a> {
    pub fn new(db: &'a Db) -> Self {
        Self { db }
    }

    pub async fn get(&self, id: &str) -> Result<Option<Project>, sqlx::Error> {
        sqlx::query_as("SELECT id, name, description, key_id, created_at FROM vision_projects WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db)
            .await
    }

    pub async fn insert(&self, p: &Project) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO vision_projects (id, name, description, key_id, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&p.id)
        .bind(&p.name)
        .bind(&p.description)
        .bind(&p.key_id)
        .bind(p.created_at)
        .execute(self.db)
        .await?;
        Ok(())
    }

    /// The projects of `key_id`, or every project when `all`, oldest first.
    pub async fn list(&self, key_id: &str, all: bool) -> Result<Vec<Project>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, name, description, key_id, created_at FROM vision_projects WHERE key_id = $1 OR $2 \
             ORDER BY created_at, id",
        )
        .bind(key_id)
        .bind(all)
        .fetch_all(self.db)
        .await
    }

    /// Deletes a project; its images and iterations go with it (ON DELETE CASCADE).
    pub async fn delete(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM vision_projects WHERE id = $1").bind(id).execute(self.db).await?;
        Ok(())
    }

    pub async fn image_count(&self, project_id: &str) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM vision_images WHERE project_id = $1")
            .bind(project_id)
            .fetch_one(self.db)
            .await
    }

    /// Stores a labelled image; returns its id.
    pub async fn insert_image(&self, image: NewImage<'_>) -> Result<String, sqlx::Error> {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO vision_images (id, project_id, tag, data, embedding, width, height, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(image.project_id)
        .bind(image.tag)
        .bind(image.data)
        .bind(image.embedding)
        .bind(i64::from(image.width))
        .bind(i64::from(image.height))
        .bind(now())
        .execute(self.db)
        .await?;
        Ok(id)
    }

    /// The project's tags with their image counts, by tag.
    pub async fn tag_counts(&self, project_id: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query_as("SELECT tag, COUNT(*) FROM vision_images WHERE project_id = $1 GROUP BY tag ORDER BY tag")
            .bind(project_id)
            .fetch_all(self.db)
            .await
    }

    /// (image id, tag, embedding) of every image, by tag then id.
    pub async fn embeddings(&self, project_id: &str) -> Result<Vec<(String, String, Vec<u8>)>, sqlx::Error> {
        sqlx::query_as("SELECT id, tag, embedding FROM vision_images WHERE project_id = $1 ORDER BY tag, id")
            .bind(project_id)
            .fetch_all(self.db)
            .await
    }

    pub async fn insert_iteration(&self, it: &Iteration, model: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO vision_iterations (id, project_id, status, model, evaluation, created_at, trained_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&it.id)
        .bind(&it.project_id)
        .bind(&it.status)
        .bind(model)
        .bind(&it.evaluation)
        .bind(it.created_at)
        .bind(it.trained_at)
        .execute(self.db)
        .await?;
        Ok(())
    }

    pub async fn iteration(&self, project_id: &str, id: &str) -> Result<Option<Iteration>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, project_id, status, evaluation, published_name, created_at, trained_at FROM vision_iterations \
             WHERE id = $1 AND project_id = $2",
        )
        .bind(id)
        .bind(project_id)
        .fetch_optional(self.db)
        .await
    }

    pub async fn iterations(&self, project_id: &str) -> Result<Vec<Iteration>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, project_id, status, evaluation, published_name, created_at, trained_at FROM vision_iterations \
             WHERE project_id = $1 ORDER BY created_at, id",
        )
        .bind(project_id)
        .fetch_all(self.db)
        .await
    }

    /// Publishes iteration `iteration_id` of `project_id` under `name`, taking the name from
    /// another iteration of the same project; refused when another project has it. One
    /// transaction, so two replicas publishing at once cannot both move the name.
    pub async fn publish(&self, project_id: &str, iteration_id: &str, name: &str) -> Result<Published, sqlx::Error> {
        let mut tx = self.db.begin().await?;
        let taken: Option<String> =
            sqlx::query_scalar("SELECT project_id FROM vision_iterations WHERE published_name = $1 AND id != $2")
                .bind(name)
                .bind(iteration_id)
                .fetch_optional(&mut *tx)
                .await?;
        match taken {
            Some(other) if other != project_id => return Ok(Published::TakenByAnotherProject),
            Some(_) => {
                sqlx::query("UPDATE vision_iterations SET published_name = NULL WHERE published_name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            }
            None => {}
        }
        sqlx::query("UPDATE vision_iterations SET published_name = $1 WHERE id = $2")
            .bind(name)
            .bind(iteration_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Published::Done)
    }

    pub async fn published(&self, name: &str) -> Result<Option<PublishedModel>, sqlx::Error> {
        let row: Option<(String, String, Option<String>, String)> = sqlx::query_as(
            "SELECT i.project_id, i.id, i.model, p.key_id FROM vision_iterations i \
             JOIN vision_projects p ON p.id = i.project_id WHERE i.published_name = $1",
        )
        .bind(name)
        .fetch_optional(self.db)
        .await?;
        Ok(row.map(|(project_id, iteration_id, model, owner)| PublishedModel {
            project_id,
            iteration_id,
            model,
            owner,
        }))
    }
}
