//! # guardrails
//!
//! Denies dangerous SQL on a connection: statement classes (`DROP`,
//! `TRUNCATE`, `DELETE` without `WHERE` …), words and regexes, set per
//! connection by an admin. Statement classes are decided on **parsed** SQL,
//! not by substring matching: `select 'drop table'` is allowed (the words
//! are a string), `DrOp/**/TABLE x` is denied (case, comments and
//! whitespace do not matter).
//!
//! ## Configuration
//!
//! ```json
//! {
//!   "deny_statements": ["drop", "truncate", "alter", "grant", "revoke",
//!                       "delete-without-where", "update-without-where",
//!                       "copy-program", "create-or-replace", "role-management"],
//!   "deny_words": ["pg_sleep", "pg_read_file"],
//!   "deny_patterns": ["(?i)\\bpassword\\b"],
//!   "strict": false,
//!   "message": "DBA policy"
//! }
//! ```
//!
//! Every field is optional; `{}` denies nothing. Unknown fields and unknown
//! statement classes are refused (the error lists the valid classes).
//!
//! * `deny_statements`: statement classes to deny.
//!   - `drop`: any `DROP …` (table, view, index, schema, database, function,
//!     procedure, trigger, sequence, type, extension, role, user …);
//!   - `truncate`: `TRUNCATE`;
//!   - `alter`: any `ALTER …` (table, index, view, schema, function, type,
//!     role, user, default privileges …) and MySQL `RENAME TABLE`;
//!   - `grant`: `GRANT` of privileges or roles (also MS SQL `DENY` and
//!     `ALTER DEFAULT PRIVILEGES … GRANT`);
//!   - `revoke`: `REVOKE` of privileges or roles;
//!   - `delete-without-where` / `update-without-where`: a `DELETE` or
//!     `UPDATE` with no `WHERE`, or with a `WHERE` made only of constants
//!     and parameters (`WHERE 1=1`, `WHERE true`, `WHERE $1`). A `LIMIT`
//!     does not count as a `WHERE`;
//!   - `copy-program`: PostgreSQL `COPY … TO PROGRAM` / `FROM PROGRAM`
//!     (runs a shell command on the database server);
//!   - `create-or-replace`: `CREATE OR REPLACE …` / `CREATE OR ALTER …`,
//!     which silently replace an existing view, function, procedure,
//!     trigger or table;
//!   - `role-management`: `CREATE`/`ALTER`/`DROP` of a `ROLE`, `USER` or
//!     `GROUP`.
//!
//!   Wrappers that run another statement are looked through:
//!   `PREPARE p AS <stmt>`, MySQL `PREPARE p FROM '<stmt>'`,
//!   `EXPLAIN ANALYZE <stmt>` and `EXPLAIN (ANALYZE) <stmt>`,
//!   data-modifying CTEs (`WITH d AS (DELETE FROM t RETURNING *) …`),
//!   `INSERT … SELECT`, `CREATE TABLE … AS`, `COPY (<query>) TO …`. A plain
//!   `EXPLAIN` only plans, so `EXPLAIN DELETE FROM t` is allowed.
//! * `deny_words`: words denied anywhere in the SQL, matched
//!   case-insensitively against whole **identifier and keyword tokens**
//!   (quoted identifiers included, `"pg_sleep"`, `` `pg_sleep` ``). Words
//!   inside string literals and comments do **not** match:
//!   `select 'pg_sleep'` is allowed by `deny_words: ["pg_sleep"]`. A word is
//!   one identifier: `pg_catalog.pg_sleep` is refused by validation (write
//!   `pg_sleep`, which matches the qualified name too).
//! * `deny_patterns`: regexes (Rust `regex` syntax, linear time) matched
//!   against the **raw query text**, string literals and comments included.
//!   Use `(?i)` for case-insensitivity. Use them for text that must not
//!   appear anywhere; an invalid or empty pattern is refused by validation,
//!   with its index and text.
//! * `strict` (default `false`): deny SQL that cannot be parsed, since it
//!   cannot be checked. When `false`, unparseable statements pass the
//!   statement-class checks (words and patterns still apply to them).
//! * `message`: prefix of deny reasons instead of `guardrails`.
//!
//! Deny reasons name the rule and the statement, e.g.
//! `guardrails: DROP statements are not allowed on this connection (statement 2)`.
//!
//! ## Behaviour
//!
//! The dialect follows the connection's kind: PostgreSQL, MySQL (backtick
//! identifiers, `#` comments), or a generic dialect for other kinds. A text
//! of several statements (`select 1; drop table t`) is denied if any of
//! them is. Checks run in this order, and the first failure is the reason:
//! patterns, words, statement classes (statement by statement), strict.
//!
//! ## Failure modes
//!
//! * **Unparseable SQL** (syntax the parser does not know, e.g. PL/pgSQL
//!   `DO` blocks, or nesting deeper than the parser's limit of 50): with
//!   `strict: false` it is allowed through the class checks; set
//!   `strict: true` on connections where that is not acceptable. When the
//!   whole text does not parse, each `;`-separated statement is parsed on
//!   its own, so an unknown statement does not hide the others.
//! * **Untokenisable SQL** (an unterminated string or comment): words are
//!   then matched on the raw text, literals and comments included (matching
//!   more, not less); strict mode denies it.
//! * **SQL built at run time** (a function body, `EXECUTE` of a string in
//!   PL/pgSQL, MySQL `PREPARE … FROM @variable`) is not seen. Guardrails
//!   protect against mistakes and casual misuse; database privileges remain
//!   the real boundary.
//! * **Cost**: `validate` (which the SDK runs at bind time *and* at every
//!   session's init) only parses the patterns; `new` stores the config.
//!   Regexes and the keyword scanner are built on the first query of the
//!   session and kept: in the sandbox, the first query with two
//!   `(?i)`/`\b` patterns took about 2 ms, later parsed queries about
//!   0.15 ms; most queries are not parsed at all (see the fast path
//!   below). If the regex compile fails (a pattern past the 1 MiB
//!   compiled-size limit, which syntax checking cannot see) every query of
//!   the session is denied, with the pattern named, rather than allowed.
//! * A panic or timeout in the plugin is turned into a deny by the host.
//!
//! ## Fast path
//!
//! Outside strict mode, a query is tokenised only if a configured word
//! occurs in its raw text (ASCII case aside), and parsed only if the
//! keywords of a configured class do (`drop` for `drop`, `copy` and
//! `program` for `copy-program` …), or `prepare`. A statement cannot belong
//! to a class without its keywords as tokens, so skipping the parser then
//! cannot change the decision; `select id from invoices where …` is decided
//! by one substring scan (in the sandbox, about 0.3 µs on top of an empty
//! plugin's call, against about 30 µs for a parse), while
//! `select 'drop table'` still goes to the parser and is still allowed.
//! Patterns always run on the raw text. Strict mode parses every query.
//! The argument in full, and the keyword lists, are in `src/prefilter.rs`.
//!
//! The same keywords (the scan's needles) are the plugin's answer to the
//! host's query filter (`on_query_keywords`), so a text holding none of them
//! is allowed by the host without a call into the plugin at all: a call
//! spared costs several microseconds under load. With patterns, strict mode,
//! or a word the scan cannot vouch for, the answer is `None` and every text
//! comes to the plugin, as before.

mod classify;
mod config;
mod decide;
mod prefilter;
mod rules;

#[cfg(test)]
mod tests;

use std::cell::OnceCell;

use gatehouse_sdk::ConnectionKind;
use gatehouse_sdk::prelude::*;

pub use classify::{Finding, classify};
pub use config::{Config, StatementClass};
pub use decide::{Denial, SqlDialect, decide};
pub use prefilter::{Prefilter, Scan};
pub use rules::Compiled;

pub struct Guardrails {
    config: Config,
    /// Built on the first query: `new` runs once per session and must stay
    /// cheap.
    compiled: OnceCell<Result<Compiled, String>>,
}

impl Guardrails {
    /// The dialect SQL on a connection of `kind` is parsed with.
    pub fn dialect_for(kind: ConnectionKind) -> SqlDialect {
        match kind {
            ConnectionKind::Postgres => SqlDialect::Postgres,
            ConnectionKind::Mysql => SqlDialect::MySql,
            ConnectionKind::Tcp | ConnectionKind::Http => SqlDialect::Generic,
        }
    }

    /// Keywords without which [`Guardrails::check`] allows any text (the
    /// host's query filter), or `None` when every text must be checked:
    /// patterns always run, and rules that do not build deny everything.
    pub fn query_keywords(&self) -> Option<Vec<String>> {
        if self.config.is_empty() {
            return Some(Vec::new());
        }
        if !self.config.deny_patterns.is_empty() {
            return None;
        }
        let compiled = self.compiled.get_or_init(|| Compiled::new(&self.config));
        let rules = compiled.as_ref().ok()?;
        rules.prefilter.host_keywords().map(<[String]>::to_vec)
    }

    /// The decision on one query text: `Err` holds the deny reason.
    pub fn check(&self, dialect: SqlDialect, sql: &str) -> Result<(), String> {
        if self.config.is_empty() {
            return Ok(());
        }
        let compiled = self.compiled.get_or_init(|| Compiled::new(&self.config));
        let result = match compiled {
            Ok(rules) => decide(&self.config, rules, dialect, sql),
            Err(error) => Err(Denial::Rules {
                error: error.clone(),
            }),
        };
        result.map_err(|denial| denial.reason(self.config.prefix()))
    }
}

#[gatehouse_sdk::plugin]
impl Plugin for Guardrails {
    type Config = Config;
    const DESCRIPTION: &'static str = "Deny dangerous SQL (DROP, TRUNCATE, DELETE/UPDATE without WHERE …), words and patterns, decided on parsed SQL.";

    fn new(config: Config) -> Result<Self, String> {
        Ok(Self {
            config,
            compiled: OnceCell::new(),
        })
    }

    fn validate(config: &Config) -> Result<(), String> {
        config.validate()
    }

    fn on_query_keywords(&self, _session: &Session) -> Option<Vec<String>> {
        self.query_keywords()
    }

    fn on_query(&mut self, session: &Session, query: &Query) -> QueryVerdict {
        match self.check(Self::dialect_for(session.connection.kind), &query.text) {
            Ok(()) => QueryVerdict::Allow,
            Err(reason) => QueryVerdict::Deny(reason),
        }
    }
}
