//! Users: local accounts and users known from the identity provider.
//!
//! A user's email is their login name (`psql -U`), stored lower-cased and
//! unique. An OIDC user also carries `(issuer, subject)`, unique together,
//! which is what sign-in matches on (emails can change at the provider).
//! Group memberships live in `group_members` (see [`crate::groups`]);
//! [`Users::set_groups`] replaces a user's set in one change, creating
//! groups it names that do not exist yet (what an SSO sign-in needs).
//!
//! A user's [`Identity`] uses the store id in decimal as `user_id`, so it
//! survives an email change. Deleting a user deletes their memberships and
//! tokens; their sessions, reviews and audit rows keep the identity
//! snapshot they were written with.

use crate::Store;
use crate::actor::{Actor, Identity, Role};
use crate::audit::{Change, record};
use crate::db::{self, get_bool, now_ms};
use crate::error::{OnConflict, Result, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    /// Lower-cased; the login name.
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// Group names, sorted.
    pub groups: Vec<String>,
    pub oidc: Option<OidcSubject>,
    /// A disabled user cannot authenticate.
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl User {
    /// The identity plugins and audit rows see.
    pub fn identity(&self) -> Identity {
        Identity {
            user_id: self.id.to_string(),
            email: self.email.clone(),
            groups: self.groups.clone(),
            role: self.role,
        }
    }
}

/// Who a user is at their identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcSubject {
    pub issuer: String,
    pub subject: String,
}

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub groups: Vec<String>,
    pub oidc: Option<OidcSubject>,
}

impl NewUser {
    pub fn new(email: impl Into<String>, role: Role) -> Self {
        NewUser {
            email: email.into(),
            display_name: String::new(),
            role,
            groups: Vec::new(),
            oidc: None,
        }
    }
}

/// Fields to change; `None` keeps the stored value (`oidc: Some(None)`
/// unlinks the user from their provider identity).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub oidc: Option<Option<OidcSubject>>,
}

/// What a verified OIDC sign-in says about a person (see
/// [`Users::sync_oidc`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcLogin {
    pub subject: OidcSubject,
    pub email: String,
    pub display_name: String,
    pub groups: Vec<String>,
    pub role: Role,
}

pub(crate) fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    db::check_label("email", &email, 254)?;
    if email.contains(char::is_whitespace) {
        return Err(StoreError::invalid("email must not contain spaces"));
    }
    Ok(email)
}

fn check_oidc(oidc: &OidcSubject) -> Result<()> {
    db::check_label("OIDC issuer", &oidc.issuer, 500)?;
    db::check_label("OIDC subject", &oidc.subject, 500)
}

fn user_from_row(row: &AnyRow, groups: Vec<String>) -> Result<User> {
    let role: String = row.try_get("role")?;
    let issuer: Option<String> = row.try_get("oidc_issuer")?;
    let subject: Option<String> = row.try_get("oidc_subject")?;
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::invalid(format!("stored role {role:?}")))?,
        groups,
        oidc: issuer
            .zip(subject)
            .map(|(issuer, subject)| OidcSubject { issuer, subject }),
        disabled: get_bool(row, "disabled")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(crate) async fn groups_of(conn: &mut AnyConnection, user_id: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT g.name FROM groups g JOIN group_members m ON m.group_id = g.id WHERE m.user_id = $1 ORDER BY g.name",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await?)
}

pub(crate) async fn load(conn: &mut AnyConnection, id: i64) -> Result<User> {
    let row = sqlx::query("SELECT * FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("user {id}")))?;
    let groups = groups_of(conn, id).await?;
    user_from_row(&row, groups)
}

/// Ids of the named groups, creating the missing ones.
pub(crate) async fn ensure_groups(
    conn: &mut AnyConnection,
    names: &[String],
    now: i64,
) -> Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        db::check_label("group name", name, 200)?;
        sqlx::query(
            "INSERT INTO groups (name, description, created_at, updated_at) VALUES ($1, '', $2, $2) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        let id: i64 = sqlx::query_scalar("SELECT id FROM groups WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *conn)
            .await?;
        ids.push(id);
    }
    Ok(ids)
}

async fn replace_groups(
    conn: &mut AnyConnection,
    user_id: i64,
    groups: &[String],
    now: i64,
) -> Result<()> {
    let mut names = groups.to_vec();
    names.sort();
    names.dedup();
    let ids = ensure_groups(conn, &names, now).await?;
    sqlx::query("DELETE FROM group_members WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    for group_id in ids {
        sqlx::query(
            "INSERT INTO group_members (group_id, user_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(group_id)
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Applies `update` to user `id`; returns (before, after).
async fn apply_update(
    conn: &mut AnyConnection,
    id: i64,
    update: &UserUpdate,
) -> Result<(User, User)> {
    let email = update.email.as_deref().map(normalize_email).transpose()?;
    if let Some(name) = &update.display_name {
        db::check_text("display name", name, 200)?;
    }
    if let Some(Some(oidc)) = &update.oidc {
        check_oidc(oidc)?;
    }
    let before = load(conn, id).await?;
    let email = email.unwrap_or_else(|| before.email.clone());
    let oidc = update.oidc.clone().unwrap_or_else(|| before.oidc.clone());
    sqlx::query(
        "UPDATE users SET email = $1, display_name = $2, role = $3, disabled = $4, oidc_issuer = $5, oidc_subject = $6, \
         updated_at = $7 WHERE id = $8",
    )
    .bind(&email)
    .bind(update.display_name.as_ref().unwrap_or(&before.display_name))
    .bind(update.role.unwrap_or(before.role).as_str())
    .bind(update.disabled.unwrap_or(before.disabled))
    .bind(oidc.as_ref().map(|o| o.issuer.clone()))
    .bind(oidc.as_ref().map(|o| o.subject.clone()))
    .bind(now_ms())
    .bind(id)
    .execute(&mut *conn)
    .await
    .on_conflict(|| format!("user {email} (or that OIDC identity) already exists"))?;
    let after = load(conn, id).await?;
    Ok((before, after))
}

/// The users repository.
pub struct Users<'s> {
    store: &'s Store,
}

impl<'s> Users<'s> {
    pub(crate) fn new(store: &'s Store) -> Self {
        Users { store }
    }

    pub async fn create(&self, actor: &Actor, new: NewUser) -> Result<User> {
        let email = normalize_email(&new.email)?;
        db::check_text("display name", &new.display_name, 200)?;
        if let Some(oidc) = &new.oidc {
            check_oidc(oidc)?;
        }
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (email, display_name, role, oidc_issuer, oidc_subject, disabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(&email)
        .bind(&new.display_name)
        .bind(new.role.as_str())
        .bind(new.oidc.as_ref().map(|o| o.issuer.clone()))
        .bind(new.oidc.as_ref().map(|o| o.subject.clone()))
        .bind(false)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .on_conflict(|| format!("user {email} already exists"))?;
        replace_groups(&mut tx, id, &new.groups, now).await?;
        let user = load(&mut tx, id).await?;
        record(
            &mut tx,
            self.store.backend,
            actor,
            Change::new("user.create", format!("user:{email}")).after(&user),
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn get(&self, id: i64) -> Result<User> {
        load(&mut *self.store.pool.acquire().await?, id).await
    }

    pub async fn by_email(&self, email: &str) -> Result<User> {
        let email = email.trim().to_lowercase();
        let mut conn = self.store.pool.acquire().await?;
        let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("user {email}")))?;
        load(&mut conn, id).await
    }

    /// The user signed in as `subject` at `issuer`, if known.
    pub async fn by_oidc(&self, issuer: &str, subject: &str) -> Result<Option<User>> {
        let mut conn = self.store.pool.acquire().await?;
        let id: Option<i64> =
            sqlx::query_scalar("SELECT id FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2")
                .bind(issuer)
                .bind(subject)
                .fetch_optional(&mut *conn)
                .await?;
        match id {
            Some(id) => Ok(Some(load(&mut conn, id).await?)),
            None => Ok(None),
        }
    }

    /// Every user, by email.
    pub async fn list(&self) -> Result<Vec<User>> {
        let mut conn = self.store.pool.acquire().await?;
        let members = sqlx::query(
            "SELECT m.user_id, g.name FROM group_members m JOIN groups g ON g.id = m.group_id ORDER BY g.name",
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut groups: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for row in &members {
            groups
                .entry(row.try_get("user_id")?)
                .or_default()
                .push(row.try_get("name")?);
        }
        let rows = sqlx::query("SELECT * FROM users ORDER BY email")
            .fetch_all(&mut *conn)
            .await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("id")?;
                user_from_row(row, groups.remove(&id).unwrap_or_default())
            })
            .collect()
    }

    pub async fn update(&self, actor: &Actor, id: i64, update: UserUpdate) -> Result<User> {
        let mut tx = self.store.begin().await?;
        let (before, after) = apply_update(&mut tx, id, &update).await?;
        record(
            &mut tx,
            self.store.backend,
            actor,
            Change::new("user.update", format!("user:{}", before.email))
                .before(&before)
                .after(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Brings the user of a verified OIDC sign-in up to date, creating
    /// them on first sign-in: matched by `(issuer, subject)`, never by
    /// email. Email, display name, role and groups follow the provider; an
    /// email that belongs to another user is a `Conflict` (an admin links
    /// accounts explicitly with [`UserUpdate::oidc`]). Writes an audit row
    /// only when something changed. A disabled user stays disabled. Two
    /// concurrent first sign-ins of one subject: one gets `Conflict`; retry.
    pub async fn sync_oidc(&self, actor: &Actor, login: OidcLogin) -> Result<User> {
        check_oidc(&login.subject)?;
        let email = normalize_email(&login.email)?;
        let mut tx = self.store.begin().await?;
        let existing: Option<i64> =
            sqlx::query_scalar("SELECT id FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2")
                .bind(&login.subject.issuer)
                .bind(&login.subject.subject)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(id) = existing else {
            drop(tx);
            let new = NewUser {
                email,
                display_name: login.display_name,
                role: login.role,
                groups: login.groups,
                oidc: Some(login.subject),
            };
            return self.create(actor, new).await;
        };
        let update = UserUpdate {
            email: Some(email),
            display_name: Some(login.display_name),
            role: Some(login.role),
            ..Default::default()
        };
        let (before, _) = apply_update(&mut tx, id, &update).await?;
        replace_groups(&mut tx, id, &login.groups, now_ms()).await?;
        let after = load(&mut tx, id).await?;
        let changed = User {
            updated_at: before.updated_at,
            ..after.clone()
        } != before;
        if changed {
            let change = Change::new("user.oidc_sync", format!("user:{}", after.email))
                .before(&before)
                .after(&after);
            record(&mut tx, self.store.backend, actor, change).await?;
            tx.commit().await?;
            Ok(after)
        } else {
            // Unchanged: the transaction rolls back, updated_at untouched.
            Ok(before)
        }
    }

    /// Replaces the user's group memberships with `groups`, creating
    /// groups that do not exist.
    pub async fn set_groups(&self, actor: &Actor, id: i64, groups: &[String]) -> Result<User> {
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let before = load(&mut tx, id).await?;
        replace_groups(&mut tx, id, groups, now).await?;
        let after = load(&mut tx, id).await?;
        if after.groups != before.groups {
            record(
                &mut tx,
                self.store.backend,
                actor,
                Change::new("user.set_groups", format!("user:{}", before.email))
                    .before(&before.groups)
                    .after(&after.groups),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes the user, their memberships and tokens.
    pub async fn delete(&self, actor: &Actor, id: i64) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let before = load(&mut tx, id).await?;
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        record(
            &mut tx,
            self.store.backend,
            actor,
            Change::new("user.delete", format!("user:{}", before.email)).before(&before),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
