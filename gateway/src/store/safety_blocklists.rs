//! Content Safety's text blocklists (`safety_blocklists`, one row per key and name) and their
//! items (`safety_blocklist_items`). A list and its items are deleted together.

use crate::db::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Blocklist {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BlocklistItem {
    pub blocklist: String,
    pub item_id: String,
    pub text: String,
    pub description: String,
}

pub struct SafetyBlocklists<'a> {
    db: &'a Db,
}

impl<'a> SafetyBlocklists<'a> {
    pub fn new(db: &'a Db) -> Self {
        Self { db }
    }

    /// Creates the list, or updates its description (`None` keeps it): true when created.
    pub async fn upsert(
        &self,
        key_id: &str,
        name: &str,
        description: Option<&str>,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let updated = sqlx::query(
            "UPDATE safety_blocklists SET description = COALESCE($1, description), updated_at = $2 \
             WHERE key_id = $3 AND name = $4",
        )
        .bind(description)
        .bind(now)
        .bind(key_id)
        .bind(name)
        .execute(self.db)
        .await?
        .rows_affected();
        if updated > 0 {
            return Ok(false);
        }
        let inserted = sqlx::query(
            "INSERT INTO safety_blocklists (key_id, name, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (key_id, name) DO NOTHING",
        )
        .bind(key_id)
        .bind(name)
        .bind(description.unwrap_or_default())
        .bind(now)
        .execute(self.db)
        .await?
        .rows_affected();
        Ok(inserted > 0)
    }

    pub async fn get(&self, key_id: &str, name: &str) -> Result<Option<Blocklist>, sqlx::Error> {
        sqlx::query_as("SELECT name, description FROM safety_blocklists WHERE key_id = $1 AND name = $2")
            .bind(key_id)
            .bind(name)
            .fetch_optional(self.db)
            .await
    }

    pub async fn list(&self, key_id: &str) -> Result<Vec<Blocklist>, sqlx::Error> {
        sqlx::query_as("SELECT name, description FROM safety_blocklists WHERE key_id = $1 ORDER BY name")
            .bind(key_id)
            .fetch_all(self.db)
            .await
    }

    pub async fn count(&self, key_id: &str) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM safety_blocklists WHERE key_id = $1")
            .bind(key_id)
            .fetch_one(self.db)
            .await
    }

    /// Deletes a list with its items: false when there was none.
    pub async fn delete(&self, key_id: &str, name: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM safety_blocklist_items WHERE key_id = $1 AND blocklist = $2")
            .bind(key_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM safety_blocklists WHERE key_id = $1 AND name = $2")
            .bind(key_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn count_items(&self, key_id: &str, blocklist: &str) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM safety_blocklist_items WHERE key_id = $1 AND blocklist = $2")
            .bind(key_id)
            .bind(blocklist)
            .fetch_one(self.db)
            .await
    }

    /// Adds an item, or updates the description of the item with the same text (one statement,
    /// so concurrent adds of one text make one item); returns it.
    pub async fn add_or_update_item(
        &self,
        key_id: &str,
        blocklist: &str,
        text: &str,
        description: &str,
        now: i64,
    ) -> Result<BlocklistItem, sqlx::Error> {
        sqlx::query(
            "INSERT INTO safety_blocklist_items (key_id, blocklist, item_id, text, description, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (key_id, blocklist, text) DO UPDATE SET description = excluded.description",
        )
        .bind(key_id)
        .bind(blocklist)
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(text)
        .bind(description)
        .bind(now)
        .execute(self.db)
        .await?;
        sqlx::query_as(
            "SELECT blocklist, item_id, text, description FROM safety_blocklist_items \
             WHERE key_id = $1 AND blocklist = $2 AND text = $3",
        )
        .bind(key_id)
        .bind(blocklist)
        .bind(text)
        .fetch_one(self.db)
        .await
    }

    pub async fn remove_item(&self, key_id: &str, blocklist: &str, item_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM safety_blocklist_items WHERE key_id = $1 AND blocklist = $2 AND item_id = $3")
            .bind(key_id)
            .bind(blocklist)
            .bind(item_id)
            .execute(self.db)
            .await?;
        Ok(())
    }

    /// A page of a list's items, oldest first.
    pub async fn items(
        &self,
        key_id: &str,
        blocklist: &str,
        skip: i64,
        top: i64,
    ) -> Result<Vec<BlocklistItem>, sqlx::Error> {
        sqlx::query_as(
            "SELECT blocklist, item_id, text, description FROM safety_blocklist_items \
             WHERE key_id = $1 AND blocklist = $2 ORDER BY created_at, item_id LIMIT $3 OFFSET $4",
        )
        .bind(key_id)
        .bind(blocklist)
        .bind(top)
        .bind(skip)
        .fetch_all(self.db)
        .await
    }

    pub async fn item(
        &self,
        key_id: &str,
        blocklist: &str,
        item_id: &str,
    ) -> Result<Option<BlocklistItem>, sqlx::Error> {
        sqlx::query_as(
            "SELECT blocklist, item_id, text, description FROM safety_blocklist_items \
             WHERE key_id = $1 AND blocklist = $2 AND item_id = $3",
        )
        .bind(key_id)
        .bind(blocklist)
        .bind(item_id)
        .fetch_optional(self.db)
        .await
    }

    /// Every item of one list (for matching).
    pub async fn all_items(&self, key_id: &str, blocklist: &str) -> Result<Vec<BlocklistItem>, sqlx::Error> {
        self.items(key_id, blocklist, 0, i64::MAX).await
    }
}
