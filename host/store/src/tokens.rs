//! Access tokens: the passwords clients give the gateway (`ghat_…`).
//!
//! A token is 24 random bytes, hex, after the prefix `ghat_`; it is shown
//! once, by [`Tokens::create`], and only its SHA-256 (hex) is stored, with a
//! short display prefix (`ghat_1a2b`, 16 of 192 random bits), a name unique
//! per user, and created / last-used / expiry times. [`Tokens::authenticate`]
//! looks the digest up by its unique index: the lookup's timing depends
//! only on the digest of what was presented, which tells an attacker
//! nothing about stored tokens. An unknown user, a wrong token, an expired
//! token and a disabled user all give the same `None`. `last_used_at` is
//! written at most once a minute per token, so authentication is not a
//! write per connection. Expired tokens stay listed (as expired) until
//! [`Tokens::delete_expired`] removes them (the gateway's retention task,
//! a week after they expire).

use crate::Store;
use crate::actor::Actor;
use crate::audit::{Change, record};
use crate::crypto::Secret;
use crate::db::{self, now_ms};
use crate::error::{OnConflict, Result, StoreError};
use crate::users::{self, User};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

/// Prefix of Gatehouse access tokens (recognisable in leaks and scanners).
pub const TOKEN_PREFIX: &str = "ghat_";

/// How often `last_used_at` is refreshed, at most.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

/// A token's stored description. Never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    /// The token's first characters, for display (`ghat_1a2b`).
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
}

/// SHA-256 (hex) of a token, as stored.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn from_row(row: &AnyRow) -> Result<AccessToken> {
    Ok(AccessToken {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

const COLUMNS: &str =
    "SELECT id, user_id, name, prefix, created_at, last_used_at, expires_at FROM access_tokens";

async fn load(conn: &mut AnyConnection, id: i64) -> Result<AccessToken> {
    let mut sql = db::Sql::new(COLUMNS);
    sql.push(" WHERE id = ").bind(id);
    let row = sql
        .query()
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("token {id}")))?;
    from_row(&row)
}

/// The access tokens repository.
pub struct Tokens<'s> {
    store: &'s Store,
}

impl<'s> Tokens<'s> {
    pub(crate) fn new(store: &'s Store) -> Self {
        Tokens { store }
    }

    /// Creates a token for a user. The returned [`Secret`] is the token:
    /// show it once; it cannot be recovered.
    pub async fn create(
        &self,
        actor: &Actor,
        user_id: i64,
        name: &str,
        expires_at: Option<i64>,
    ) -> Result<(AccessToken, Secret)> {
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).expect("the operating system's random source");
        let token = Secret::new(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)));
        bytes.fill(0);
        let prefix = token.expose()[..TOKEN_PREFIX.len() + 4].to_string();
        let stored = self
            .insert(
                actor,
                user_id,
                name,
                &prefix,
                &token_sha256(token.expose()),
                expires_at,
            )
            .await?;
        Ok((stored, token))
    }

    /// Stores a token known only by its SHA-256 (hex), e.g. a
    /// `token_sha256` from the configuration file.
    pub async fn import(
        &self,
        actor: &Actor,
        user_id: i64,
        name: &str,
        sha256_hex: &str,
        expires_at: Option<i64>,
    ) -> Result<AccessToken> {
        let digest = sha256_hex.to_ascii_lowercase();
        if digest.len() != 64 || !digest.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(StoreError::invalid("a token digest must be 64 hex digits"));
        }
        self.insert(actor, user_id, name, TOKEN_PREFIX, &digest, expires_at)
            .await
    }

    async fn insert(
        &self,
        actor: &Actor,
        user_id: i64,
        name: &str,
        prefix: &str,
        digest: &str,
        expires_at: Option<i64>,
    ) -> Result<AccessToken> {
        db::check_label("token name", name, 100)?;
        let now = now_ms();
        if expires_at.is_some_and(|at| at <= now) {
            return Err(StoreError::invalid(
                "a token's expiry must be in the future",
            ));
        }
        let mut tx = self.store.begin().await?;
        let user = users::load(&mut tx, user_id).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO access_tokens (user_id, name, prefix, sha256, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(user_id)
        .bind(name)
        .bind(prefix)
        .bind(digest)
        .bind(now)
        .bind(expires_at)
        .fetch_one(&mut *tx)
        .await
        .on_conflict(|| {
            format!(
                "user {} already has a token named {name} (or this token is stored)",
                user.email
            )
        })?;
        let token = load(&mut tx, id).await?;
        record(
            &mut tx,
            self.store.backend,
            actor,
            Change::new("token.create", format!("user:{}", user.email)).after(&token),
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    pub async fn get(&self, id: i64) -> Result<AccessToken> {
        load(&mut *self.store.pool.acquire().await?, id).await
    }

    /// A user's tokens, by name.
    pub async fn list(&self, user_id: i64) -> Result<Vec<AccessToken>> {
        let mut sql = db::Sql::new(COLUMNS);
        sql.push(" WHERE user_id = ")
            .bind(user_id)
            .push(" ORDER BY name");
        let rows = sql.query().fetch_all(&self.store.pool).await?;
        rows.iter().map(from_row).collect()
    }

    /// Deletes a token: it stops working at once.
    pub async fn revoke(&self, actor: &Actor, id: i64) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let token = load(&mut tx, id).await?;
        let user = users::load(&mut tx, token.user_id).await?;
        sqlx::query("DELETE FROM access_tokens WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        record(
            &mut tx,
            self.store.backend,
            actor,
            Change::new("token.revoke", format!("user:{}", user.email)).before(&token),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes tokens that expired before `cutoff` (Unix ms): housekeeping
    /// of dead credentials (every web-console login mints one), not a
    /// revocation, so there is one audit event per run (retention's), not
    /// one per token. Tokens without an expiry are never touched. Returns
    /// how many were deleted.
    pub async fn delete_expired(&self, cutoff: i64) -> Result<u64> {
        Ok(sqlx::query(
            "DELETE FROM access_tokens WHERE expires_at IS NOT NULL AND expires_at < $1",
        )
        .bind(cutoff)
        .execute(&self.store.pool)
        .await?
        .rows_affected())
    }

    /// The user `email` if `token` is one of their live tokens; `None`
    /// says nothing about which part was wrong.
    pub async fn authenticate(&self, email: &str, token: &str) -> Result<Option<User>> {
        let email = email.trim().to_lowercase();
        Ok(self
            .lookup(Some(&email), token)
            .await?
            .map(|(_, user)| user))
    }

    /// The live token `token` and its user, when the caller has no email
    /// to check it against (an API request's `Authorization: Bearer
    /// ghat_…`). The token's 192 random bits identify it alone; the answer
    /// is `None` for an unknown, expired or disabled user's token alike.
    pub async fn authenticate_token(&self, token: &str) -> Result<Option<(AccessToken, User)>> {
        self.lookup(None, token).await
    }

    async fn lookup(
        &self,
        email: Option<&str>,
        token: &str,
    ) -> Result<Option<(AccessToken, User)>> {
        let digest = token_sha256(token);
        let now = now_ms();
        let mut conn = self.store.pool.acquire().await?;
        let row = sqlx::query(
            "SELECT t.id, t.user_id, t.expires_at, t.last_used_at, u.email, u.disabled FROM access_tokens t \
             JOIN users u ON u.id = t.user_id WHERE t.sha256 = $1",
        )
        .bind(&digest)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let owner: String = row.try_get("email")?;
        let expires_at: Option<i64> = row.try_get("expires_at")?;
        if email.is_some_and(|email| owner != email)
            || db::get_bool(&row, "disabled")?
            || expires_at.is_some_and(|at| at <= now)
        {
            return Ok(None);
        }
        let id: i64 = row.try_get("id")?;
        let last_used: Option<i64> = row.try_get("last_used_at")?;
        if last_used.is_none_or(|at| now - at >= LAST_USED_GRANULARITY_MS) {
            sqlx::query("UPDATE access_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        let stored = load(&mut conn, id).await?;
        let user = users::load(&mut conn, row.try_get("user_id")?).await?;
        Ok(Some((stored, user)))
    }
}
