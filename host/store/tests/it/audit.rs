//! The audit log: append and read, admin rows in the change's transaction,
//! delivery to sinks, retention, and sequence order under concurrency.

use crate::common::{self, admin_actor, identity};
use gatehouse_store::audit::{AuditFilter, NewAuditEvent, Outcome, SinkStart};
use gatehouse_store::resources::{NewResource, ResourceKind};
use gatehouse_store::{PageRequest, Role, StoreError};
use std::collections::BTreeSet;

fn event(action: &str) -> NewAuditEvent {
    let mut event = NewAuditEvent::new("query", action, Outcome::Denied);
    event.actor = Some(identity("7", "alice@example.com", &["dev"], Role::User));
    event.connection = Some("billing-db.read-only".into());
    event.session_id = Some("s1".into());
    event.reason = Some("DROP is not allowed".into());
    event.attributes = vec![("statement".into(), "drop".into())];
    event
}

#[tokio::test]
async fn events_append_in_sequence_and_read_back() {
    common::both(|t| async move {
        let audit = t.store.audit();
        let a = audit.append(event("query.denied")).await.unwrap();
        let mut login = NewAuditEvent::new("authentication", "login.failed", Outcome::Failure);
        login.time = Some(5);
        let b = audit.append(login).await.unwrap();
        assert!(b.sequence > a.sequence);
        assert_eq!(audit.get(a.sequence).await.unwrap(), a);
        assert_eq!(
            a.attributes,
            vec![("statement".to_string(), "drop".to_string())]
        );
        assert_eq!(audit.after(a.sequence, 10).await.unwrap(), vec![b.clone()]);
        assert_eq!(audit.latest_sequence().await.unwrap(), b.sequence);
        assert!(matches!(
            audit.get(999_999).await,
            Err(StoreError::NotFound { .. })
        ));

        let filter = AuditFilter {
            category: Some("query".into()),
            actor_id: Some("7".into()),
            ..Default::default()
        };
        assert_eq!(
            audit
                .list(&filter, &PageRequest::first(10))
                .await
                .unwrap()
                .items,
            vec![a.clone()]
        );
        let old = AuditFilter {
            until: Some(10),
            ..Default::default()
        };
        assert_eq!(
            audit
                .list(&old, &PageRequest::first(10))
                .await
                .unwrap()
                .items,
            vec![b.clone()]
        );
        for i in 0..5 {
            audit
                .append(event(&format!("query.denied.{i}")))
                .await
                .unwrap();
        }
        let first = audit
            .list(&AuditFilter::default(), &PageRequest::first(4))
            .await
            .unwrap();
        let second = audit
            .list(
                &AuditFilter::default(),
                &PageRequest::after(4, first.next.unwrap()),
            )
            .await
            .unwrap();
        let sequences: Vec<i64> = first
            .items
            .iter()
            .chain(&second.items)
            .map(|e| e.sequence)
            .collect();
        assert_eq!(sequences.len(), 7);
        assert!(sequences.windows(2).all(|w| w[0] > w[1]), "{sequences:?}");
        assert!(second.next.is_none());
    })
    .await;
}

/// A group commit stores every event in order, in one transaction.
#[tokio::test]
async fn append_many_commits_a_group_in_order() {
    common::both(|t| async move {
        let audit = t.store.audit();
        assert!(audit.append_many(&[]).await.unwrap().is_empty());
        let group = [
            event("query.denied"),
            event("query.rewritten"),
            event("query.held"),
        ];
        let stored = audit.append_many(&group).await.unwrap();
        let actions: Vec<_> = stored.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["query.denied", "query.rewritten", "query.held"]);
        assert!(stored.windows(2).all(|w| w[0].sequence < w[1].sequence));
        assert_eq!(audit.after(0, 10).await.unwrap(), stored);
        assert_eq!(audit.latest_sequence().await.unwrap(), stored[2].sequence);
    })
    .await;
}

#[tokio::test]
async fn admin_rows_commit_with_their_change_only() {
    common::both(|t| async move {
        let admin = admin_actor();
        let resource = NewResource::new("db", ResourceKind::Postgres, "h:1");
        t.store
            .resources()
            .create(&admin, resource.clone())
            .await
            .unwrap();
        // The failed duplicate leaves no audit row.
        assert!(t.store.resources().create(&admin, resource).await.is_err());
        let events = t.store.audit().after(0, 10).await.unwrap();
        assert_eq!(events.len(), 1);
        let row = &events[0];
        assert_eq!(
            (row.category.as_str(), row.action.as_str(), row.outcome),
            ("admin", "resource.create", Outcome::Success)
        );
        assert_eq!(row.target.as_deref(), Some("resource:db"));
        assert_eq!(row.actor.as_ref().unwrap().user_id, "1");
        assert_eq!(row.after.as_ref().unwrap()["address"], "h:1");
        assert!(row.before.is_none());
    })
    .await;
}

#[tokio::test]
async fn sinks_deliver_in_order_retry_and_dead_letter() {
    common::both(|t| async move {
        let audit = t.store.audit();
        let e1 = audit.append(event("one")).await.unwrap();
        let sink = audit
            .register_sink("siem", SinkStart::Beginning)
            .await
            .unwrap();
        assert_eq!(sink.delivered_through, 0);
        let late = audit.register_sink("late", SinkStart::Now).await.unwrap();
        assert_eq!(late.delivered_through, e1.sequence);
        // Registering again keeps the state.
        assert_eq!(
            audit
                .register_sink("siem", SinkStart::Now)
                .await
                .unwrap()
                .delivered_through,
            0
        );
        let e2 = audit.append(event("two")).await.unwrap();
        let e3 = audit.append(event("three")).await.unwrap();

        let due = audit.due("siem", 0, 10).await.unwrap();
        assert_eq!(
            due.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            [e1.sequence, e2.sequence, e3.sequence]
        );
        audit.mark_delivered("siem", e1.sequence).await.unwrap();
        assert!(matches!(
            audit.mark_delivered("siem", 0).await,
            Err(StoreError::Conflict { .. })
        ));

        // e2 fails twice: not due before its retry time, then dead-lettered.
        assert!(matches!(
            audit.mark_failed("siem", e3.sequence, "x", 0).await,
            Err(StoreError::Conflict { .. })
        ));
        let state = audit
            .mark_failed("siem", e2.sequence, "503 from SIEM", 1_000)
            .await
            .unwrap();
        assert_eq!(
            (
                state.attempts,
                state.next_attempt_at,
                state.last_error.as_deref()
            ),
            (1, Some(1_000), Some("503 from SIEM"))
        );
        assert!(audit.due("siem", 999, 10).await.unwrap().is_empty());
        assert_eq!(
            audit.due("siem", 1_000, 10).await.unwrap()[0].sequence,
            e2.sequence
        );
        let state = audit
            .mark_failed("siem", e2.sequence, "timeout", 2_000)
            .await
            .unwrap();
        assert_eq!(state.attempts, 2);
        let state = audit
            .dead_letter("siem", e2.sequence, "gave up: timeout")
            .await
            .unwrap();
        assert_eq!(
            (
                state.delivered_through,
                state.attempts,
                state.next_attempt_at
            ),
            (e2.sequence, 0, None)
        );
        let dead = audit.dead_letters("siem", 10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(
            (
                dead[0].event.sequence,
                dead[0].attempts,
                dead[0].last_error.as_str()
            ),
            (e2.sequence, 2, "gave up: timeout")
        );
        assert_eq!(
            audit.due("siem", 0, 10).await.unwrap()[0].sequence,
            e3.sequence
        );
        audit.mark_delivered("siem", e3.sequence).await.unwrap();
        assert!(audit.due("siem", 0, 10).await.unwrap().is_empty());
        assert!(matches!(
            audit.mark_delivered("siem", e3.sequence + 100).await,
            Err(StoreError::Invalid(_))
        ));

        // Retention waits for the slowest sink ("late" is at e1).
        let future = gatehouse_store_now() + 60_000;
        assert_eq!(audit.delete_older_than(future).await.unwrap(), 1);
        audit.mark_delivered("late", e3.sequence).await.unwrap();
        assert_eq!(audit.delete_older_than(future).await.unwrap(), 2);
        assert!(audit.dead_letters("siem", 10).await.unwrap().is_empty());
        assert_eq!(audit.sinks().await.unwrap().len(), 2);
        audit.remove_sink("late").await.unwrap();
        assert!(matches!(
            audit.sink("late").await,
            Err(StoreError::NotFound { .. })
        ));
    })
    .await;
}

fn gatehouse_store_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Writers append concurrently (plain events and admin changes) while a
/// reader follows "after my cursor": sequences are unique, and the reader
/// sees every committed row, none after it has passed its number.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sequences_are_monotonic_under_concurrent_writers() {
    common::both(|t| async move {
        const WRITERS: usize = 6;
        const EACH: usize = 15;
        let reader_store = t.store.clone();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader_done = done.clone();
        let reader = tokio::spawn(async move {
            let mut cursor = 0;
            let mut seen = Vec::new();
            loop {
                let finished = reader_done.load(std::sync::atomic::Ordering::SeqCst);
                let batch = reader_store.audit().after(cursor, 50).await.unwrap();
                for event in &batch {
                    assert!(event.sequence > cursor);
                    cursor = event.sequence;
                    seen.push(event.sequence);
                }
                if finished && batch.is_empty() {
                    return seen;
                }
            }
        });
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let store = t.store.clone();
            writers.push(tokio::spawn(async move {
                let admin = admin_actor();
                for i in 0..EACH {
                    if i % 5 == 0 {
                        store
                            .groups()
                            .create(&admin, &format!("g{w}-{i}"), "")
                            .await
                            .unwrap();
                    } else {
                        store
                            .audit()
                            .append(event(&format!("w{w}.{i}")))
                            .await
                            .unwrap();
                    }
                }
            }));
        }
        for writer in writers {
            writer.await.unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let seen = reader.await.unwrap();
        let all: Vec<i64> = t
            .store
            .audit()
            .after(0, 1000)
            .await
            .unwrap()
            .iter()
            .map(|e| e.sequence)
            .collect();
        assert_eq!(all.len(), WRITERS * EACH);
        assert_eq!(
            all.iter().collect::<BTreeSet<_>>().len(),
            all.len(),
            "unique"
        );
        assert_eq!(seen, all, "the follower saw every row, in order");
    })
    .await;
}
