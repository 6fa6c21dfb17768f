//! Reviews: queries held for approval (one-time) and time-bound access
//! requests (JIT), with approvers' decisions.
//!
//! States and the transitions [`Reviews::transition`] allows:
//!
//! ```text
//! pending ──► approved ──► executed   (one-time: the held query ran)
//!    │           ├───────► revoked
//!    │           └───────► expired    (JIT: access window over)
//!    ├──► rejected
//!    ├──► revoked                     (withdrawn)
//!    └──► expired                     (nobody decided in time)
//! ```
//!
//! Every change is optimistic: the caller passes the `version` it read and
//! a concurrent change makes the call a `Conflict` (nothing written), so
//! two approvers or two gateway nodes cannot both move a review. Approving
//! a JIT review without an explicit expiry sets it to now plus its
//! `duration_minutes`. [`Reviews::decide`] records one decision per
//! approver on a pending review; whether decisions suffice (quorum) is the
//! review plugins' and the API's call, which then transitions the review.
//! Who may decide (approver groups) is checked by the caller too; the store
//! keeps the groups for filtering. Each change writes an audit row
//! (category `review`) in its transaction.
//!
//! **Runs.** A one-time review opened by exec ([`Reviews::create_with_run`])
//! also queues a *run*: once approved, the gateway runs the held query
//! itself and keeps its output ([`Reviews::finish_run`], once; read back
//! with [`Reviews::run`]). Runs are the record of what the gateway did, so
//! finishing one writes no audit row (the `executed` transition did).

use crate::Store;
use crate::actor::{Actor, Identity};
use crate::audit::{Change, record};
use crate::db::{self, Sql, Tx, get_bool, now_ms, random_hex};
use crate::error::{OnConflict, Result, StoreError};
use crate::page::{self, Page, PageRequest};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

/// What is being reviewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReviewKind {
    /// Hold one query until approved; it then runs once.
    OneTime,
    /// Grant access to a connection for a time after approval.
    Jit,
}

impl ReviewKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewKind::OneTime => "one-time",
            ReviewKind::Jit => "jit",
        }
    }
}

/// Where a review is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewState {
    Pending,
    Approved,
    Rejected,
    Revoked,
    Executed,
    Expired,
}

impl ReviewState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Pending => "pending",
            ReviewState::Approved => "approved",
            ReviewState::Rejected => "rejected",
            ReviewState::Revoked => "revoked",
            ReviewState::Executed => "executed",
            ReviewState::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => ReviewState::Pending,
            "approved" => ReviewState::Approved,
            "rejected" => ReviewState::Rejected,
            "revoked" => ReviewState::Revoked,
            "executed" => ReviewState::Executed,
            "expired" => ReviewState::Expired,
            _ => return None,
        })
    }

    /// Whether a review may move from `self` to `to` (for `kind`).
    pub fn can_become(self, to: ReviewState, kind: ReviewKind) -> bool {
        use ReviewState::*;
        match (self, to) {
            (Pending, Approved | Rejected | Revoked | Expired) => true,
            (Approved, Executed) => kind == ReviewKind::OneTime,
            (Approved, Revoked | Expired) => true,
            _ => false,
        }
    }
}

/// One approver's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub approver: Identity,
    pub approved: bool,
    pub comment: String,
    /// Unix ms.
    pub at: i64,
}

/// A review as stored (mirrors the WIT `review` record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    pub id: String,
    pub kind: ReviewKind,
    pub state: ReviewState,
    pub requester: Identity,
    /// `resource.role`.
    pub connection: String,
    pub session_id: Option<String>,
    /// The held query (one-time reviews).
    pub query: Option<String>,
    /// Hash of the normalized query text, to match a re-sent query.
    pub query_hash: Option<String>,
    pub reason: String,
    pub approver_groups: Vec<String>,
    /// In the order they were made.
    pub decisions: Vec<Decision>,
    /// JIT: minutes of access once approved.
    pub duration_minutes: Option<u32>,
    /// Pending: decide by; approved JIT: access until (Unix ms).
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Changes with every write; pass it back to change the review.
    pub version: i64,
}

/// A review to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReview {
    pub kind: ReviewKind,
    pub requester: Identity,
    pub connection: String,
    pub session_id: Option<String>,
    pub query: Option<String>,
    pub query_hash: Option<String>,
    pub reason: String,
    pub approver_groups: Vec<String>,
    pub duration_minutes: Option<u32>,
    /// When a pending review expires if undecided.
    pub expires_at: Option<i64>,
}

/// A query the gateway runs itself once its review is approved (exec).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewRun {
    pub review_id: String,
    /// The exec session that ran it, once run.
    pub session_id: Option<String>,
    /// What the run produced (the gateway's exec output), once run.
    pub output: Option<serde_json::Value>,
    pub created_at: i64,
    /// `None` while waiting for approval (or for the gateway to run it).
    pub finished_at: Option<i64>,
}

/// Whose reviews [`Reviews::list`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ReviewScope {
    #[default]
    All,
    /// Opened by this `user_id`.
    RequestedBy(String),
    /// Naming any of these approver groups.
    AssignedTo(Vec<String>),
    /// Either (what an approver or user sees: theirs and their groups').
    RequestedByOrAssignedTo {
        user_id: String,
        groups: Vec<String>,
    },
}

/// Which reviews [`Reviews::list`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewFilter {
    pub scope: ReviewScope,
    /// Any of these states (empty: all).
    pub states: Vec<ReviewState>,
    pub connection: Option<String>,
    pub kind: Option<ReviewKind>,
}

fn review_from_row(
    row: &AnyRow,
    approver_groups: Vec<String>,
    decisions: Vec<Decision>,
) -> Result<Review> {
    let kind: String = row.try_get("kind")?;
    let state: String = row.try_get("state")?;
    let duration: Option<i64> = row.try_get("duration_minutes")?;
    Ok(Review {
        id: row.try_get("id")?,
        kind: if kind == "jit" {
            ReviewKind::Jit
        } else {
            ReviewKind::OneTime
        },
        state: ReviewState::parse(&state)
            .ok_or_else(|| StoreError::invalid(format!("stored review state {state:?}")))?,
        requester: db::get_json(row, "requester")?,
        connection: row.try_get("connection")?,
        session_id: row.try_get("session_id")?,
        query: row.try_get("query_text")?,
        query_hash: row.try_get("query_hash")?,
        reason: row.try_get("reason")?,
        approver_groups,
        decisions,
        duration_minutes: duration.map(|d| d.clamp(0, u32::MAX as i64) as u32),
        expires_at: row.try_get("expires_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        version: row.try_get("version")?,
    })
}

async fn complete(conn: &mut AnyConnection, row: &AnyRow) -> Result<Review> {
    let id: String = row.try_get("id")?;
    let groups: Vec<String> = sqlx::query_scalar(
        "SELECT group_name FROM review_approver_groups WHERE review_id = $1 ORDER BY group_name",
    )
    .bind(&id)
    .fetch_all(&mut *conn)
    .await?;
    let rows = sqlx::query("SELECT approver, approved, comment, at FROM review_decisions WHERE review_id = $1 ORDER BY at, approver_id")
        .bind(&id)
        .fetch_all(&mut *conn)
        .await?;
    let decisions = rows
        .iter()
        .map(|r| {
            Ok(Decision {
                approver: db::get_json(r, "approver")?,
                approved: get_bool(r, "approved")?,
                comment: r.try_get("comment")?,
                at: r.try_get("at")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    review_from_row(row, groups, decisions)
}

async fn load(conn: &mut AnyConnection, id: &str) -> Result<Review> {
    let row = sqlx::query("SELECT * FROM reviews WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("review {id}")))?;
    complete(conn, &row).await
}

/// Moves a review to `to` if it is still at `expected_version`.
async fn set_state(
    tx: &mut Tx,
    review: &Review,
    expected_version: i64,
    to: ReviewState,
    expires_at: Option<i64>,
) -> Result<()> {
    let updated = sqlx::query(
        "UPDATE reviews SET state = $1, expires_at = $2, updated_at = $3, version = version + 1 \
         WHERE id = $4 AND version = $5",
    )
    .bind(to.as_str())
    .bind(expires_at)
    .bind(now_ms())
    .bind(&review.id)
    .bind(expected_version)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(StoreError::conflict(format!(
            "review {} changed meanwhile; reload it",
            review.id
        )));
    }
    Ok(())
}

/// The reviews repository.
pub struct Reviews<'s> {
    store: &'s Store,
}

impl<'s> Reviews<'s> {
    pub(crate) fn new(store: &'s Store) -> Self {
        Reviews { store }
    }

    /// Opens a pending review.
    pub async fn create(&self, actor: &Actor, new: NewReview) -> Result<Review> {
        self.create_inner(actor, new, false).await
    }

    /// Opens a pending one-time review whose query the gateway will run
    /// itself once approved (exec), with its waiting run, in one
    /// transaction.
    pub async fn create_with_run(&self, actor: &Actor, new: NewReview) -> Result<Review> {
        if new.kind != ReviewKind::OneTime {
            return Err(StoreError::invalid(
                "only one-time reviews hold a query to run",
            ));
        }
        self.create_inner(actor, new, true).await
    }

    async fn create_inner(&self, actor: &Actor, new: NewReview, with_run: bool) -> Result<Review> {
        crate::connections::split_name(&new.connection)?;
        db::check_text("reason", &new.reason, 4000)?;
        if new.kind == ReviewKind::Jit && new.duration_minutes.is_none_or(|m| m == 0) {
            return Err(StoreError::invalid(
                "a JIT review needs duration_minutes > 0",
            ));
        }
        if new.kind == ReviewKind::OneTime && new.query.is_none() {
            return Err(StoreError::invalid("a one-time review holds a query"));
        }
        let mut groups = new.approver_groups.clone();
        groups.sort();
        groups.dedup();
        for group in &groups {
            db::check_label("approver group", group, 200)?;
        }
        let id = random_hex(16);
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        sqlx::query(
            "INSERT INTO reviews (id, kind, state, requester_id, requester, connection, session_id, query_text, query_hash, \
             reason, duration_minutes, expires_at, created_at, updated_at, version) \
             VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, 1)",
        )
        .bind(&id)
        .bind(new.kind.as_str())
        .bind(&new.requester.user_id)
        .bind(db::to_json(&new.requester))
        .bind(&new.connection)
        .bind(&new.session_id)
        .bind(&new.query)
        .bind(&new.query_hash)
        .bind(&new.reason)
        .bind(new.duration_minutes.map(i64::from))
        .bind(new.expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for group in &groups {
            sqlx::query(
                "INSERT INTO review_approver_groups (review_id, group_name) VALUES ($1, $2)",
            )
            .bind(&id)
            .bind(group)
            .execute(&mut *tx)
            .await?;
        }
        if with_run {
            sqlx::query("INSERT INTO review_runs (review_id, created_at) VALUES ($1, $2)")
                .bind(&id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        let review = load(&mut tx, &id).await?;
        record(
            &mut tx,
            self.store.backend,
            actor,
            Change::new("review.requested", format!("review:{id}")).after(&review),
        )
        .await?;
        tx.commit().await?;
        Ok(review)
    }

    pub async fn get(&self, id: &str) -> Result<Review> {
        load(&mut *self.store.pool.acquire().await?, id).await
    }

    /// Reviews matching `filter`, newest first.
    pub async fn list(&self, filter: &ReviewFilter, page: &PageRequest) -> Result<Page<Review>> {
        let limit = db::check_limit(page.limit)?;
        let mut sql = Sql::new("SELECT * FROM reviews r WHERE 1 = 1");
        if let Some(cursor) = &page.cursor {
            let (created_at, id) = page::decode(cursor)?;
            sql.push(" AND (r.created_at < ")
                .bind(created_at)
                .push(" OR (r.created_at = ")
                .bind(created_at)
                .push(" AND r.id < ")
                .bind(id)
                .push("))");
        }
        let assigned = |sql: &mut Sql, groups: &[String]| {
            if groups.is_empty() {
                sql.push("1 = 0");
            } else {
                sql.push("EXISTS (SELECT 1 FROM review_approver_groups g WHERE g.review_id = r.id AND g.group_name IN ")
                    .bind_list(groups.iter().map(String::as_str))
                    .push(")");
            }
        };
        match &filter.scope {
            ReviewScope::All => {}
            ReviewScope::RequestedBy(user_id) => {
                sql.push(" AND r.requester_id = ").bind(user_id.as_str());
            }
            ReviewScope::AssignedTo(groups) => {
                sql.push(" AND ");
                assigned(&mut sql, groups);
            }
            ReviewScope::RequestedByOrAssignedTo { user_id, groups } => {
                sql.push(" AND (r.requester_id = ")
                    .bind(user_id.as_str())
                    .push(" OR ");
                assigned(&mut sql, groups);
                sql.push(")");
            }
        }
        if !filter.states.is_empty() {
            sql.push(" AND r.state IN ")
                .bind_list(filter.states.iter().map(|s| s.as_str()));
        }
        if let Some(connection) = &filter.connection {
            sql.push(" AND r.connection = ").bind(connection.as_str());
        }
        if let Some(kind) = filter.kind {
            sql.push(" AND r.kind = ").bind(kind.as_str());
        }
        sql.push(" ORDER BY r.created_at DESC, r.id DESC LIMIT ")
            .bind(limit + 1);
        let mut conn = self.store.pool.acquire().await?;
        let rows = sql.query().fetch_all(&mut *conn).await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows.iter().take(limit as usize) {
            items.push(complete(&mut conn, row).await?);
        }
        let next = if rows.len() as i64 > limit {
            items.last().map(|r| page::encode(r.created_at, &r.id))
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// Records `actor`'s decision on a pending review (one per approver).
    pub async fn decide(
        &self,
        actor: &Actor,
        id: &str,
        approved: bool,
        comment: &str,
    ) -> Result<Review> {
        db::check_text("comment", comment, 4000)?;
        let mut tx = self.store.begin().await?;
        let before = load(&mut tx, id).await?;
        if before.state != ReviewState::Pending {
            return Err(StoreError::conflict(format!(
                "review {id} is {}, not pending",
                before.state.as_str()
            )));
        }
        // Bump the version first, only while pending: on PostgreSQL this
        // row lock orders the decision against a concurrent transition.
        let bumped = sqlx::query(
            "UPDATE reviews SET updated_at = $1, version = version + 1 WHERE id = $2 AND state = 'pending'",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if bumped == 0 {
            return Err(StoreError::conflict(format!(
                "review {id} is no longer pending"
            )));
        }
        let approver = &actor.identity;
        sqlx::query(
            "INSERT INTO review_decisions (review_id, approver_id, approver, approved, comment, at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(&approver.user_id)
        .bind(db::to_json(approver))
        .bind(approved)
        .bind(comment)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .on_conflict(|| format!("{} already decided on review {id}", approver.email))?;
        let after = load(&mut tx, id).await?;
        let change = Change::new("review.decision", format!("review:{id}"))
            .after(&serde_json::json!({ "approved": approved, "comment": comment }));
        record(&mut tx, self.store.backend, actor, change).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Moves a review to `to` if it is still at `expected_version` and the
    /// transition is allowed. `expires_at` overrides the stored expiry
    /// (approving a JIT review without one starts its window now).
    pub async fn transition(
        &self,
        actor: &Actor,
        id: &str,
        expected_version: i64,
        to: ReviewState,
        expires_at: Option<i64>,
    ) -> Result<Review> {
        let mut tx = self.store.begin().await?;
        let before = load(&mut tx, id).await?;
        if before.version != expected_version {
            return Err(StoreError::conflict(format!(
                "review {id} changed meanwhile; reload it"
            )));
        }
        if !before.state.can_become(to, before.kind) {
            return Err(StoreError::conflict(format!(
                "review {id} cannot go from {} to {}",
                before.state.as_str(),
                to.as_str()
            )));
        }
        let expires_at = match (expires_at, to, before.kind) {
            (Some(at), _, _) => Some(at),
            (None, ReviewState::Approved, ReviewKind::Jit) => {
                Some(now_ms() + i64::from(before.duration_minutes.unwrap_or(0)) * 60_000)
            }
            _ => before.expires_at,
        };
        set_state(&mut tx, &before, expected_version, to, expires_at).await?;
        let after = load(&mut tx, id).await?;
        let action = match to {
            ReviewState::Pending => "review.pending",
            ReviewState::Approved => "review.approved",
            ReviewState::Rejected => "review.rejected",
            ReviewState::Revoked => "review.revoked",
            ReviewState::Executed => "review.executed",
            ReviewState::Expired => "review.expired",
        };
        let change = Change::new(action, format!("review:{id}"))
            .before(&serde_json::json!({ "state": before.state, "expires_at": before.expires_at }))
            .after(&serde_json::json!({ "state": after.state, "expires_at": after.expires_at }));
        record(&mut tx, self.store.backend, actor, change).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// An approved one-time review of this requester for this query (by
    /// normalized-text hash) on this connection, oldest first: what lets a
    /// re-sent held query run once.
    pub async fn find_approved_query(
        &self,
        requester_id: &str,
        connection: &str,
        query_hash: &str,
    ) -> Result<Option<Review>> {
        let mut conn = self.store.pool.acquire().await?;
        let row = sqlx::query(
            "SELECT * FROM reviews WHERE requester_id = $1 AND connection = $2 AND query_hash = $3 \
             AND kind = 'one-time' AND state = 'approved' ORDER BY created_at, id LIMIT 1",
        )
        .bind(requester_id)
        .bind(connection)
        .bind(query_hash)
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            Some(row) => Ok(Some(complete(&mut conn, &row).await?)),
            None => Ok(None),
        }
    }

    /// The approved JIT review giving this requester access to this
    /// connection at `now`, if any (latest expiry first).
    pub async fn active_jit(
        &self,
        requester_id: &str,
        connection: &str,
        now: i64,
    ) -> Result<Option<Review>> {
        let mut conn = self.store.pool.acquire().await?;
        let row = sqlx::query(
            "SELECT * FROM reviews WHERE requester_id = $1 AND connection = $2 AND kind = 'jit' \
             AND state = 'approved' AND expires_at > $3 ORDER BY expires_at DESC LIMIT 1",
        )
        .bind(requester_id)
        .bind(connection)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            Some(row) => Ok(Some(complete(&mut conn, &row).await?)),
            None => Ok(None),
        }
    }

    /// The oldest one-time review of this requester for this query (by
    /// normalized-text hash) on this connection in `state`: an approved one
    /// lets a re-sent query run, a pending one is reused rather than
    /// opening another.
    pub async fn find_query(
        &self,
        requester_id: &str,
        connection: &str,
        query_hash: &str,
        state: ReviewState,
    ) -> Result<Option<Review>> {
        let mut conn = self.store.pool.acquire().await?;
        let row = sqlx::query(
            "SELECT * FROM reviews WHERE requester_id = $1 AND connection = $2 AND query_hash = $3 \
             AND kind = 'one-time' AND state = $4 ORDER BY created_at, id LIMIT 1",
        )
        .bind(requester_id)
        .bind(connection)
        .bind(query_hash)
        .bind(state.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            Some(row) => Ok(Some(complete(&mut conn, &row).await?)),
            None => Ok(None),
        }
    }

    /// The run of review `id`, if it has one (it was opened by exec).
    pub async fn run(&self, id: &str) -> Result<Option<ReviewRun>> {
        let row = sqlx::query("SELECT * FROM review_runs WHERE review_id = $1")
            .bind(id)
            .fetch_optional(&self.store.pool)
            .await?;
        row.map(|row| {
            Ok(ReviewRun {
                review_id: row.try_get("review_id")?,
                session_id: row.try_get("session_id")?,
                output: db::get_json_opt(&row, "output")?,
                created_at: row.try_get("created_at")?,
                finished_at: row.try_get("finished_at")?,
            })
        })
        .transpose()
    }

    /// Stores the output of review `id`'s run; a run finishes once
    /// (`Conflict` after that, `NotFound` without a run).
    pub async fn finish_run(
        &self,
        id: &str,
        session_id: Option<&str>,
        output: &serde_json::Value,
    ) -> Result<ReviewRun> {
        let updated = sqlx::query(
            "UPDATE review_runs SET session_id = $1, output = $2, finished_at = $3 \
             WHERE review_id = $4 AND finished_at IS NULL",
        )
        .bind(session_id)
        .bind(db::to_json(output))
        .bind(now_ms())
        .bind(id)
        .execute(&self.store.pool)
        .await?
        .rows_affected();
        if updated == 0 {
            return match self.run(id).await? {
                None => Err(StoreError::not_found(format!("run of review {id}"))),
                Some(_) => Err(StoreError::conflict(format!(
                    "the run of review {id} already finished"
                ))),
            };
        }
        self.run(id)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("run of review {id}")))
    }

    /// Ids of approved reviews whose run has not finished, oldest first
    /// (what the gateway still owes a requester).
    pub async fn waiting_runs(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT r.id FROM reviews r JOIN review_runs x ON x.review_id = r.id \
             WHERE r.state = 'approved' AND x.finished_at IS NULL ORDER BY r.updated_at, r.id",
        )
        .fetch_all(&self.store.pool)
        .await?)
    }

    /// Expires pending and approved reviews whose `expires_at` is at or
    /// before `now`; returns the ids expired.
    pub async fn expire_due(&self, actor: &Actor, now: i64) -> Result<Vec<String>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM reviews WHERE state IN ('pending', 'approved') AND expires_at IS NOT NULL AND expires_at <= $1 \
             ORDER BY expires_at",
        )
        .bind(now)
        .fetch_all(&self.store.pool)
        .await?;
        let mut expired = Vec::with_capacity(ids.len());
        for id in ids {
            let review = self.get(&id).await?;
            match self
                .transition(actor, &id, review.version, ReviewState::Expired, None)
                .await
            {
                Ok(_) => expired.push(id),
                // Someone else moved it meanwhile: theirs stands.
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(expired)
    }
}
