//! Custom vision projects, their tags, their labelled images (with the embedding computed at
//! upload), their trained iterations and the iterations' exports: tables `vision_projects`,
//! `vision_tags`, `vision_images`, `vision_iterations`, `vision_exports`.

use crate::db::{Db, now};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub description: String,
    pub key_id: String,
    pub created_at: i64,
    pub domain_id: Option<String>,
}

/// A tag of a project; images carry their tag's name (unique in the project).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Tag {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Regular, Negative or GeneralProduct (Custom Vision's tag types).
    pub kind: String,
    /// Images with this tag (filled by [`VisionProjects::tags`]).
    pub image_count: i64,
}

/// An export of an iteration: its download token and what it holds.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Export {
    pub token: String,
    pub project_id: String,
    pub iteration_id: String,
    pub platform: String,
    pub flavor: String,
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
        sqlx::query_as("SELECT id, name, description, key_id, created_at, domain_id FROM vision_projects WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db)
            .await
    }

    pub async fn insert(&self, p: &Project) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO vision_projects (id, name, description, key_id, created_at, domain_id) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&p.id)
        .bind(&p.name)
        .bind(&p.description)
        .bind(&p.key_id)
        .bind(p.created_at)
        .bind(&p.domain_id)
        .execute(self.db)
        .await?;
        Ok(())
    }

    /// The projects of `key_id`, or every project when `all`, oldest first.
    pub async fn list(&self, key_id: &str, all: bool) -> Result<Vec<Project>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, name, description, key_id, created_at, domain_id FROM vision_projects WHERE key_id = $1 OR $2 \
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

    /// The project's tags with their image counts, by name.
    pub async fn tags(&self, project_id: &str) -> Result<Vec<Tag>, sqlx::Error> {
        sqlx::query_as(
            "SELECT t.id, t.name, t.description, t.kind, \
             (SELECT COUNT(*) FROM vision_images i WHERE i.project_id = t.project_id AND i.tag = t.name) AS image_count \
             FROM vision_tags t WHERE t.project_id = $1 ORDER BY t.name",
        )
        .bind(project_id)
        .fetch_all(self.db)
        .await
    }

    /// Creates a tag; `None` when the project has one of that name already.
    pub async fn insert_tag(
        &self,
        project_id: &str,
        name: &str,
        description: &str,
        kind: &str,
    ) -> Result<Option<Tag>, sqlx::Error> {
        let id = uuid::Uuid::new_v4().to_string();
        let inserted = sqlx::query(
            "INSERT INTO vision_tags (id, project_id, name, description, kind, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (project_id, name) DO NOTHING",
        )
        .bind(&id)
        .bind(project_id)
        .bind(name)
        .bind(description)
        .bind(kind)
        .bind(now())
        .execute(self.db)
        .await?
        .rows_affected();
        Ok((inserted == 1).then(|| Tag {
            id,
            name: name.to_string(),
            description: description.to_string(),
            kind: kind.to_string(),
            image_count: 0,
        }))
    }

    /// The project's tag named `name`, created (Regular, no description) when missing.
    pub async fn tag_named(&self, project_id: &str, name: &str) -> Result<Tag, sqlx::Error> {
        if let Some(tag) = self.insert_tag(project_id, name, "", "Regular").await? {
            return Ok(tag);
        }
        self.tags(project_id).await?.into_iter().find(|t| t.name == name).ok_or(sqlx::Error::RowNotFound)
    }

    /// Deletes a tag and the images that carry it.
    pub async fn delete_tag(&self, project_id: &str, tag: &Tag) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM vision_images WHERE project_id = $1 AND tag = $2")
            .bind(project_id)
            .bind(&tag.name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM vision_tags WHERE id = $1").bind(&tag.id).execute(&mut *tx).await?;
        tx.commit().await
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

    /// The trained model (JSON) of an iteration.
    pub async fn iteration_model(&self, iteration_id: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT model FROM vision_iterations WHERE id = $1")
            .bind(iteration_id)
            .fetch_optional(self.db)
            .await
            .map(Option::flatten)
    }

    /// The export of an iteration to `platform` (and `flavor`), made with `token` unless one
    /// exists already.
    pub async fn export(
        &self,
        project_id: &str,
        iteration_id: &str,
        platform: &str,
        flavor: &str,
        token: &str,
    ) -> Result<Export, sqlx::Error> {
        sqlx::query(
            "INSERT INTO vision_exports (token, project_id, iteration_id, platform, flavor, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (iteration_id, platform, flavor) DO NOTHING",
        )
        .bind(token)
        .bind(project_id)
        .bind(iteration_id)
        .bind(platform)
        .bind(flavor)
        .bind(now())
        .execute(self.db)
        .await?;
        sqlx::query_as(
            "SELECT token, project_id, iteration_id, platform, flavor FROM vision_exports \
             WHERE iteration_id = $1 AND platform = $2 AND flavor = $3",
        )
        .bind(iteration_id)
        .bind(platform)
        .bind(flavor)
        .fetch_one(self.db)
        .await
    }

    pub async fn exports(&self, iteration_id: &str) -> Result<Vec<Export>, sqlx::Error> {
        sqlx::query_as(
            "SELECT token, project_id, iteration_id, platform, flavor FROM vision_exports \
             WHERE iteration_id = $1 ORDER BY created_at, token",
        )
        .bind(iteration_id)
        .fetch_all(self.db)
        .await
    }

    pub async fn export_by_token(&self, token: &str) -> Result<Option<Export>, sqlx::Error> {
        sqlx::query_as("SELECT token, project_id, iteration_id, platform, flavor FROM vision_exports WHERE token = $1")
            .bind(token)
            .fetch_optional(self.db)
            .await
    }
}
