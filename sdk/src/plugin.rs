//! The [`Plugin`] trait: one method per hook, each with a default that
//! leaves the decision to other plugins (allow, pass, no change).

use crate::{
    AuditEvent, Capability, Column, ConnectVerdict, Counter, Hook, Query, QueryVerdict, ResultPlan,
    ResultSummary, ReviewEvent, ReviewVerdict, Rows, Session, SessionSummary,
};
use serde::de::DeserializeOwned;

/// A Gatehouse policy plugin.
///
/// Put `#[gatehouse_sdk::plugin]` on the `impl Plugin for …` block: it fills
/// in [`Plugin::HOOKS`] from the methods you wrote and exports the
/// component. The host calls only those hooks.
///
/// An instance lives for one session (or, for review and audit plugins, for
/// the service that feeds them). [`Plugin::new`] runs once per instance with
/// the admin's config, so keep it cheap: compile expensive things (regexes,
/// parsers) lazily on first use.
///
/// Failing closed is the host's job: if a hook panics, runs past its
/// deadline or exhausts its memory cap, the host treats the answer as a deny.
pub trait Plugin: Sized + 'static {
    /// The per-connection configuration, parsed from the admin's JSON.
    /// Use `#[serde(deny_unknown_fields)]` to catch typos.
    type Config: DeserializeOwned;

    /// One line on what the plugin does, shown to admins.
    const DESCRIPTION: &'static str = "";

    /// Capabilities the plugin needs. An admin must also grant each one on
    /// the binding; until then the host refuses the corresponding calls.
    const CAPABILITIES: &'static [Capability] = &[];

    /// The hooks this plugin implements. Filled in by `#[gatehouse_sdk::plugin]`.
    const HOOKS: &'static [Hook] = &[];

    /// Build an instance from its config.
    fn new(config: Self::Config) -> Result<Self, String>;

    /// Checks beyond what serde enforces (ranges, regex syntax …). Runs when
    /// an admin binds the plugin, so mistakes surface then, not at connect;
    /// it is not repeated for each session (`new` gets an already-validated
    /// config).
    fn validate(config: &Self::Config) -> Result<(), String> {
        let _ = config;
        Ok(())
    }

    /// A user is connecting.
    fn on_connect(&mut self, session: &Session) -> ConnectVerdict {
        let _ = session;
        ConnectVerdict::Allow
    }

    /// A query is about to run. Returning `Rewrite` changes what runs and
    /// what later plugins see.
    fn on_query(&mut self, session: &Session, query: &Query) -> QueryVerdict {
        let _ = (session, query);
        QueryVerdict::Allow
    }

    /// Which query texts [`Plugin::on_query`] must see, asked once per
    /// session after [`Plugin::new`]. `Some(keywords)`: the host calls
    /// `on_query` only for texts that contain one of them as an
    /// ASCII-case-insensitive substring (`"drop"` matches `DROP`, `DrOp`
    /// and `backdrops`), and takes any other text as allowed unchanged, as
    /// if `on_query` had returned `Allow`. So answer `Some` only when that
    /// is true of every text without a keyword, in every way `on_query`
    /// acts: a plugin that counts, logs or rate-limits queries must see
    /// them all. Keywords are 1-64 ASCII letters, digits, `_`, `$` or `-`,
    /// at most 256 ([`is_query_keyword`](crate::is_query_keyword),
    /// [`MAX_QUERY_KEYWORDS`](crate::MAX_QUERY_KEYWORDS)); anything else
    /// fails the session closed. Only the text is scanned, not the
    /// parameters.
    ///
    /// `None` (the default): every query. A cheap `Some` spares each
    /// query that lacks the keywords a call into the plugin (several
    /// microseconds under load).
    fn on_query_keywords(&self, session: &Session) -> Option<Vec<String>> {
        let _ = session;
        None
    }

    /// A result is starting. Return `Inspect` to see its rows. Decide here
    /// whatever can be decided per column, once, rather than per row.
    fn on_result_start(
        &mut self,
        session: &Session,
        query_id: u64,
        columns: &[Column],
    ) -> ResultPlan {
        let _ = (session, query_id, columns);
        ResultPlan::Pass
    }

    /// A batch of rows; replace cells with [`Rows::set`].
    fn on_result_rows(&mut self, session: &Session, rows: &mut Rows<'_>) {
        let _ = (session, rows);
    }

    /// The result ended; counters go into the session record.
    fn on_result_end(&mut self, session: &Session, summary: &ResultSummary) -> Vec<Counter> {
        let _ = (session, summary);
        Vec::new()
    }

    /// The session ended.
    fn on_disconnect(&mut self, session: &Session, summary: &SessionSummary) {
        let _ = (session, summary);
    }

    /// A review changed state. Review plugins decide quorum here;
    /// integration plugins send notices.
    fn on_review(&mut self, event: &ReviewEvent) -> ReviewVerdict {
        let _ = event;
        ReviewVerdict::NoChange
    }

    /// Deliver one audit event (audit sinks). `Err` makes the host retry.
    fn on_audit_event(&mut self, event: &AuditEvent) -> Result<(), String> {
        let _ = event;
        Ok(())
    }
}

/// Most keywords [`Plugin::on_query_keywords`] may name.
pub const MAX_QUERY_KEYWORDS: usize = 256;

/// Whether the host accepts `keyword` from [`Plugin::on_query_keywords`]:
/// 1-64 ASCII letters, digits, `_`, `$` or `-` (the host checks the same).
pub fn is_query_keyword(keyword: &str) -> bool {
    (1..=64).contains(&keyword.len())
        && keyword
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'-'))
}
