//! # review
//!
//! Holds queries and connections for approval, and decides when a review
//! has enough approvals. Three hooks:
//!
//! * `on-query`: a query meeting one of the configured **rules**
//!   (statement classes, tables, patterns) gets
//!   `review({reason, approver-groups})`: the gateway holds it as a
//!   *one-time* review. Other queries are allowed (other plugins still
//!   decide them).
//! * `on-connect`: with `jit` configured, connecting gets `review(…)`: the
//!   gateway lets the session in only if the user holds an approved,
//!   unexpired *just-in-time* review for the connection, and otherwise
//!   tells the client to request access.
//! * `on-review` (in the gateway's service instance of this binding):
//!   policy on `requested` (JIT minutes within `jit.max_minutes` …) and
//!   quorum on `decision-added` (one rejection wins, no self-approval,
//!   `min_approvals` distinct approvers from the approver groups). See
//!   `quorum.rs` for the rules, `docs/reviews.md` for the whole flow.
//!
//! ## Configuration
//!
//! ```json
//! {
//!   "approver_groups": ["dba"],
//!   "min_approvals": 1,
//!   "rules": [
//!     { "statements": ["ddl", "delete-without-where", "update-without-where"] },
//!     { "statements": ["dml-write"], "tables": ["billing.invoices", "payments"] },
//!     { "patterns": ["(?i)\\bsalary\\b"] }
//!   ],
//!   "on_unparsed": "review",
//!   "jit": { "max_minutes": 240, "min_approvals": 1 },
//!   "message": "review"
//! }
//! ```
//!
//! The fields are documented in `README.md` and in `config.rs`.
//!
//! ## Failure modes
//!
//! * A plugin fault (panic, deadline) in `on-query`/`on-connect` is a deny
//!   (the host fails closed); in `on-review` the host changes nothing: the
//!   review stays pending (and may expire), never approved.
//! * Rules compile on the first query of a session (`new` stays cheap); a
//!   pattern past the compiled-size limit, which syntax checking cannot
//!   see, then denies every query of the session, naming the pattern.
//! * Statement classes cannot see what procedures, functions or SQL built
//!   at run time do; tables reached through views are not named. Database
//!   privileges remain the real boundary.

mod analyze;
mod classify;
mod config;
mod quorum;
mod tables;

use std::cell::OnceCell;

use gatehouse_sdk::prelude::*;
use gatehouse_sdk::{ConnectionKind, ReviewKind};

pub use analyze::{Compiled, Needed, SqlDialect, needs_review};
pub use classify::{Kind, Kinds, classify};
pub use config::{Config, Jit, OnUnparsed, Rule, StatementClass};
pub use quorum::{Tally, decide};
pub use tables::TableName;

pub struct ReviewPlugin {
    config: Config,
    /// Built on the first query: `new` runs once per session.
    compiled: OnceCell<Result<Compiled, String>>,
}

impl ReviewPlugin {
    /// The dialect SQL on a connection of `kind` is parsed with.
    pub fn dialect_for(kind: ConnectionKind) -> SqlDialect {
        match kind {
            ConnectionKind::Postgres => SqlDialect::Postgres,
            ConnectionKind::Mysql => SqlDialect::MySql,
            ConnectionKind::Tcp | ConnectionKind::Http => SqlDialect::Generic,
        }
    }

    /// The verdict on one query text.
    pub fn check(&self, dialect: SqlDialect, sql: &str) -> QueryVerdict {
        if self.config.rules.is_empty() {
            return QueryVerdict::Allow;
        }
        match self.compiled.get_or_init(|| Compiled::new(&self.config)) {
            Ok(compiled) => match needs_review(&self.config, compiled, dialect, sql) {
                Some(needed) => QueryVerdict::Review(ReviewRequest {
                    reason: needed.reason(self.config.prefix(), &self.config.approver_groups),
                    approver_groups: self.config.approver_groups.clone(),
                }),
                None => QueryVerdict::Allow,
            },
            Err(error) => QueryVerdict::Deny(format!(
                "{}: the review rules could not be built: {error}",
                self.config.prefix()
            )),
        }
    }

    /// The verdict on connecting to `connection`.
    pub fn connect(&self, connection: &str) -> ConnectVerdict {
        match &self.config.jit {
            None => ConnectVerdict::Allow,
            Some(jit) => ConnectVerdict::Review(ReviewRequest {
                reason: format!(
                    "{}: connecting to {connection} needs just-in-time access approved by {} \
                     (at most {} minutes)",
                    self.config.prefix(),
                    self.config.approver_groups.join(" or "),
                    jit.max_minutes
                ),
                approver_groups: self.config.approver_groups.clone(),
            }),
        }
    }
}

#[gatehouse_sdk::plugin]
impl Plugin for ReviewPlugin {
    type Config = Config;
    const DESCRIPTION: &'static str = "Hold queries (by statement class, table or pattern) and connections (just-in-time access) for approval; decide quorum on reviews.";

    fn new(config: Config) -> Result<Self, String> {
        Ok(Self {
            config,
            compiled: OnceCell::new(),
        })
    }

    fn validate(config: &Config) -> Result<(), String> {
        config.validate()
    }

    fn on_connect(&mut self, session: &Session) -> ConnectVerdict {
        self.connect(&session.connection.name)
    }

    fn on_query(&mut self, session: &Session, query: &Query) -> QueryVerdict {
        self.check(Self::dialect_for(session.connection.kind), &query.text)
    }

    fn on_review(&mut self, event: &ReviewEvent) -> ReviewVerdict {
        let tally = decide(&self.config, event);
        let review = &event.review;
        for note in &tally.ignored {
            log::warn(note, &[("review", review.id.as_str())]);
        }
        let kind = match review.kind {
            ReviewKind::OneTime => "one-time",
            ReviewKind::Jit => "jit",
        };
        match &tally.verdict {
            ReviewVerdict::Approve => log::info(
                "review approved by quorum",
                &[("review", review.id.as_str()), ("kind", kind)],
            ),
            ReviewVerdict::Reject(reason) => log::info(
                "review rejected",
                &[
                    ("review", review.id.as_str()),
                    ("kind", kind),
                    ("reason", reason),
                ],
            ),
            ReviewVerdict::NoChange => {}
        }
        tally.verdict
    }
}
