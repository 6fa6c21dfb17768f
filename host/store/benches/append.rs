//! What the hot appends cost on the embedded SQLite store: the gateway's
//! audit journal ingestion (`Audit::append_encoded`) and the session
//! record's batch (`Sessions::record_batch`), per row, at the group sizes
//! the gateway sees under load. A benchmark, not a test: it prints figures.
//!
//! ```sh
//! cargo bench -p gatehouse-store --bench append
//! APPEND_GROUP=100 APPEND_GROUPS=200 cargo bench -p gatehouse-store --bench append
//! ```
//!
//! Settings (environment): `APPEND_GROUP` rows per group (400),
//! `APPEND_GROUPS` groups (100), `APPEND_PARTS` `audit`, `record` or both
//! (one part alone gives its own instruction count under
//! `valgrind --tool=callgrind`), `APPEND_DDL` statements run on the fresh
//! store first, `;`-separated (schema experiments, e.g. dropping an index).
//!
//! Each figure is wall time per row of one writer appending group after
//! group to a fresh file store (WAL, `synchronous = normal`), so it
//! includes SQLite's page writes and checkpoints; compare figures of one
//! run, not across machines.

use gatehouse_store::audit::{Outcome, RowContext, RowEvent, encode_row};
use gatehouse_store::sessions::{NewSession, SessionEvent, Verb, Verdict};
use gatehouse_store::{Identity, Role, SecretKeys, Store};
use std::time::Instant;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const QUERY: &str = "SELECT abalance FROM pgbench_accounts WHERE aid = 123456;";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let group = setting("APPEND_GROUP", 400);
    // `audit`, `record` or both (default): one part alone, for an
    // instruction count (`valgrind --tool=callgrind`) of its own.
    let parts = std::env::var("APPEND_PARTS").unwrap_or_else(|_| "audit record".into());
    let groups = setting("APPEND_GROUPS", 100);
    let sessions = 8;
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let store = Store::open(&url, SecretKeys::generate())
        .await
        .expect("store opens");
    // Schema experiments: statements run before appending (`;`-separated).
    if let Ok(ddl) = std::env::var("APPEND_DDL") {
        let ddl: &'static str = ddl.leak();
        for statement in ddl.split(';').filter(|s| !s.trim().is_empty()) {
            sqlx::query(statement)
                .execute(store.pool())
                .await
                .expect("APPEND_DDL runs");
        }
    }
    for s in 0..sessions {
        store
            .sessions()
            .start(NewSession {
                id: format!("session-{s}"),
                user_id: "1".into(),
                email: "bench@example.com".into(),
                connection: "pg.guarded".into(),
                client_address: "127.0.0.1:40000".into(),
                verb: Verb::Connect,
                started_at: 0,
            })
            .await
            .expect("session starts");
    }
    let actor = Identity {
        user_id: "1".into(),
        email: "bench@example.com".into(),
        groups: vec!["bench".into()],
        role: Role::User,
    };
    let contexts: Vec<RowContext> = (0..sessions)
        .map(|s| {
            RowContext::new(
                Some(&actor),
                Some("pg.guarded"),
                Some(&format!("session-{s}")),
                Some("127.0.0.1:40000"),
            )
        })
        .collect();

    // Audit rows, as the journal hands them over.
    let mut spent = std::time::Duration::ZERO;
    let mut n = 0u64;
    let audit_groups = if parts.contains("audit") { groups } else { 0 };
    for g in 0..audit_groups {
        let mut lines = Vec::with_capacity(group * 512);
        for i in 0..group {
            let id = format!("{:016x}{:016x}", 0xabcdefu64, n);
            n += 1;
            let query_id = (i as u64).to_string();
            let attributes = [
                ("plugin", "access-control"),
                ("query.id", query_id.as_str()),
                ("query.text", QUERY),
                ("query.protocol", "simple"),
            ];
            encode_row(
                &mut lines,
                &contexts[i % sessions],
                &RowEvent {
                    id: &id,
                    time: 1_700_000_000_000 + g as i64,
                    category: "query",
                    action: "query.allowed",
                    outcome: Outcome::Success,
                    reason: None,
                    attributes: &attributes,
                },
            );
            lines.push(b'\n');
        }
        let started = Instant::now();
        let stored = store
            .audit()
            .append_encoded(&lines)
            .await
            .expect("rows store");
        spent += started.elapsed();
        assert_eq!(stored.stored, group);
    }
    let audit_us = spent.as_secs_f64() * 1e6 / (group * audit_groups.max(1)) as f64;

    // Session record events, as the recorder batches them.
    let mut spent = std::time::Duration::ZERO;
    let mut seq = vec![0u64; sessions];
    let record_groups = if parts.contains("record") { groups } else { 0 };
    for _ in 0..record_groups {
        let events: Vec<(String, SessionEvent)> = (0..group)
            .map(|i| {
                let s = i % sessions;
                seq[s] += 1;
                let mut event = SessionEvent::query(seq[s], 1, QUERY, Verdict::Allowed);
                event.decided_by = Some("access-control".into());
                event.duration_us = 50;
                event.rows = 1;
                event.command_tag = Some("SELECT 1".into());
                (format!("session-{s}"), event)
            })
            .collect();
        let started = Instant::now();
        let outcome = store
            .sessions()
            .record_batch(events)
            .await
            .expect("events store");
        spent += started.elapsed();
        assert_eq!(outcome.written, group as u64);
    }
    let record_us = spent.as_secs_f64() * 1e6 / (group * record_groups.max(1)) as f64;

    println!(
        "{} groups of {group} rows on SQLite: audit append_encoded {audit_us:.2} us/row, \
         session record_batch {record_us:.2} us/row",
        groups
    );
}
