//! The schema's migrations, embedded in the binary, one set per dialect.
//!
//! `migrations/sqlite/NNNN_name.sql` and `migrations/postgres/NNNN_name.sql`
//! describe the same logical schema; `tests/schema.rs` checks that both
//! produce the same tables and columns. They are embedded with
//! `include_str!` and handed to sqlx's [`Migrator`] (the `migrate!` macro
//! would need sqlx's proc-macro crate, which compiles both database drivers
//! a second time). sqlx records applied versions and checksums in
//! `_sqlx_migrations`; an edited, already-applied migration is refused at
//! open, so a schema change is always a new file in *both* folders, added to
//! [`MIGRATIONS`] below. Migrations run at [`Store::open`](crate::Store::open)
//! under sqlx's migration lock, so several nodes starting together apply
//! each migration once.

use crate::db::Backend;
use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// (version, description, SQLite text, PostgreSQL text).
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../migrations/sqlite/0001_initial.sql"),
        include_str!("../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "review runs",
        include_str!("../migrations/sqlite/0002_review_runs.sql"),
        include_str!("../migrations/postgres/0002_review_runs.sql"),
    ),
    (
        3,
        "audit sink leases",
        include_str!("../migrations/sqlite/0003_audit_sink_leases.sql"),
        include_str!("../migrations/postgres/0003_audit_sink_leases.sql"),
    ),
    (
        4,
        "session event query id",
        include_str!("../migrations/sqlite/0004_session_event_query_id.sql"),
        include_str!("../migrations/postgres/0004_session_event_query_id.sql"),
    ),
    (
        5,
        "binding secrets",
        include_str!("../migrations/sqlite/0005_binding_secrets.sql"),
        include_str!("../migrations/postgres/0005_binding_secrets.sql"),
    ),
    (
        6,
        "session events verdict index without allowed",
        include_str!("../migrations/sqlite/0006_session_events_verdict_partial.sql"),
        include_str!("../migrations/postgres/0006_session_events_verdict_partial.sql"),
    ),
];

/// The migrator for `backend`.
pub fn migrator(backend: Backend) -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|&(version, description, sqlite, postgres)| {
                let sql = match backend {
                    Backend::Sqlite => sqlite,
                    Backend::Postgres => postgres,
                };
                Migration::new(
                    version,
                    description.into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// The newest schema version this build knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.iter().map(|m| m.0).max().unwrap_or(0)
}
