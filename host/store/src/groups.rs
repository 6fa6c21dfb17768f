//! Groups and memberships.
//!
//! Groups are what plugins decide on (access-control's `allowed_groups`)
//! and what reviews name as approvers. A group name is free text (SSO
//! providers use names like `Data Engineers`), one line, at most 200 bytes,
//! unique. Deleting a group removes its memberships; reviews that named it
//! keep the name.

use crate::Store;
use crate::actor::Actor;
use crate::audit::{Change, record};
use crate::db::{self, now_ms};
use crate::error::{OnConflict, Result, StoreError};
use crate::users::{self, User};
use serde::Serialize;
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A group as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// Number of members.
    pub members: u64,
    pub created_at: i64,
    pub updated_at: i64,
}

const SELECT: &str = "SELECT g.id, g.name, g.description, g.created_at, g.updated_at, \
     (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) AS members FROM groups g";

fn from_row(row: &AnyRow) -> Result<Group> {
    Ok(Group {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        members: db::get_u64(row, "members")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

async fn load(conn: &mut AnyConnection, name: &str) -> Result<Group> {
    let mut sql = db::Sql::new(SELECT);
    sql.push(" WHERE g.name = ").bind(name);
    let row = sql
        .query()
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("group {name}")))?;
    from_row(&row)
}

/// The groups repository.
pub struct Groups<'s> {
    store: &'s Store,
}

impl<'s> Groups<'s> {
    pub(crate) fn new(store: &'s Store) -> Self {
        Groups { store }
    }

    pub async fn create(&self, actor: &Actor, name: &str, description: &str) -> Result<Group> {
        db::check_label("group name", name, 200)?;
        db::check_text("description", description, 2000)?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        sqlx::query("INSERT INTO groups (name, description, created_at, updated_at) VALUES ($1, $2, $3, $3)")
            .bind(name)
            .bind(description)
            .bind(now)
            .execute(&mut *tx)
            .await
            .on_conflict(|| format!("group {name} already exists"))?;
        let group = load(&mut tx, name).await?;
        record(
            &mut tx,
            self.store.backend,
            actor,
            Change::new("group.create", format!("group:{name}")).after(&group),
        )
        .await?;
        tx.commit().await?;
        Ok(group)
    }

    pub async fn get(&self, name: &str) -> Result<Group> {
        load(&mut *self.store.pool.acquire().await?, name).await
    }

    /// Every group, by name.
    pub async fn list(&self) -> Result<Vec<Group>> {
        let mut sql = db::Sql::new(SELECT);
        sql.push(" ORDER BY g.name");
        let rows = sql.query().fetch_all(&self.store.pool).await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn set_description(
        &self,
        actor: &Actor,
        name: &str,
        description: &str,
    ) -> Result<Group> {
        db::check_text("description", description, 2000)?;
        let mut tx = self.store.begin().await?;
        let before = load(&mut tx, name).await?;
        sqlx::query("UPDATE groups SET description = $1, updated_at = $2 WHERE id = $3")
            .bind(description)
            .bind(now_ms())
            .bind(before.id)
            .execute(&mut *tx)
            .await?;
        let after = load(&mut tx, name).await?;
        record(
            &mut tx,
            self.store.backend,
            actor,
            Change::new("group.update", format!("group:{name}"))
                .before(&before)
                .after(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes the group and its memberships.
    pub async fn delete(&self, actor: &Actor, name: &str) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let before = load(&mut tx, name).await?;
        sqlx::query("DELETE FROM groups WHERE id = $1")
            .bind(before.id)
            .execute(&mut *tx)
            .await?;
        record(
            &mut tx,
            self.store.backend,
            actor,
            Change::new("group.delete", format!("group:{name}")).before(&before),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds a user to the group (no change if already a member).
    pub async fn add_member(&self, actor: &Actor, name: &str, user_id: i64) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let group = load(&mut tx, name).await?;
        let user = users::load(&mut tx, user_id).await?;
        let added = sqlx::query(
            "INSERT INTO group_members (group_id, user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(group.id)
        .bind(user_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if added > 0 {
            let change = Change::new("group.add_member", format!("group:{name}"))
                .after(&serde_json::json!({ "user": user.email }));
            record(&mut tx, self.store.backend, actor, change).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes a user from the group; not a member is `NotFound`.
    pub async fn remove_member(&self, actor: &Actor, name: &str, user_id: i64) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let group = load(&mut tx, name).await?;
        let user = users::load(&mut tx, user_id).await?;
        let removed = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group.id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if removed == 0 {
            return Err(StoreError::not_found(format!(
                "member {} of group {name}",
                user.email
            )));
        }
        let change = Change::new("group.remove_member", format!("group:{name}"))
            .before(&serde_json::json!({ "user": user.email }));
        record(&mut tx, self.store.backend, actor, change).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The group's members, by email.
    pub async fn members(&self, name: &str) -> Result<Vec<User>> {
        let mut conn = self.store.pool.acquire().await?;
        let group = load(&mut conn, name).await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT u.id FROM users u JOIN group_members m ON m.user_id = u.id WHERE m.group_id = $1 ORDER BY u.email",
        )
        .bind(group.id)
        .fetch_all(&mut *conn)
        .await?;
        let mut members = Vec::with_capacity(ids.len());
        for id in ids {
            members.push(users::load(&mut conn, id).await?);
        }
        Ok(members)
    }
}
