//! The audit log: append and read, admin rows in the change's transaction,
//! delivery to sinks, retention, and sequence order under concurrency.

use crate::common::{self, admin_actor, identity};
use gatehouse_store::audit::{
    Audit, AuditFilter, Fenced, NewAuditEvent, Outcome, RowContext, RowEvent, SinkStart,
    encode_event, encode_row,
};
use gatehouse_store::resources::{NewResource, ResourceKind};
use gatehouse_store::{PageRequest, Role, StoreError};
use std::collections::BTreeSet;
use std::time::Duration;

/// A lease long enough to outlast any test.
const LONG: Duration = Duration::from_secs(600);

/// Whether `holder` gets (or renews) the `siem` sink's lease for `ttl`.
async fn takes_siem(audit: &Audit<'_>, holder: &str, ttl: Duration) -> bool {
    audit.acquire_sink_lease("siem", holder, ttl).await.unwrap()
}

/// Who holds the `siem` sink's lease (there must be one).
async fn siem_holder(audit: &Audit<'_>) -> String {
    audit.sink_lease("siem").await.unwrap().unwrap().holder
}

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

/// A big group round-trips every field (NULLs, JSON states, awkward text)
/// and keeps its order.
#[tokio::test]
async fn a_large_group_round_trips_every_field_in_order() {
    common::both(|t| async move {
        let audit = t.store.audit();
        let group: Vec<_> = (0..600)
            .map(|i| {
                if i % 3 == 0 {
                    let mut bare = NewAuditEvent::new("admin", "group.create", Outcome::Success);
                    bare.time = Some(1_000 + i);
                    bare.target = Some(format!("group:g{i}"));
                    bare.after = Some(serde_json::json!({ "name": format!("g{i}"), "n": i }));
                    bare
                } else {
                    let mut e = event("query.allowed");
                    e.outcome = Outcome::Success;
                    e.attributes.push((
                        "query.text".into(),
                        format!("select 'quote\" back\\slash ünï {i}', $1, null"),
                    ));
                    e
                }
            })
            .collect();
        let stored = audit.append_many(&group).await.unwrap();
        assert_eq!(stored.len(), 600);
        assert!(stored.windows(2).all(|w| w[0].sequence < w[1].sequence));
        let mut read = Vec::new();
        while read.len() < 600 {
            let after = read
                .last()
                .map_or(0, |e: &gatehouse_store::audit::AuditEvent| e.sequence);
            read.extend(audit.after(after, 1000).await.unwrap());
        }
        assert_eq!(read, stored);
        assert_eq!(
            read[4].attributes[1].1,
            "select 'quote\" back\\slash ünï 4', $1, null"
        );
        assert_eq!(read[3].actor, None);
        assert_eq!(read[3].after.as_ref().unwrap()["n"], 3);
    })
    .await;
}

/// A row encoded from a session's context, with a reason or without, is
/// the row of the same event, and encoded rows store as the events they
/// encode, each id once.
#[tokio::test]
async fn encoded_rows_store_as_their_events_once() {
    common::both(|t| async move {
        let audit = t.store.audit();
        let mut lines = Vec::new();
        let mut events = Vec::new();
        for i in 0..3 {
            let mut e = event("query.allowed");
            e.outcome = Outcome::Success;
            // One with a reason that needs escaping, two without.
            e.reason = (i == 1).then(|| "a \"reason\"".to_string());
            e.client_address = Some("127.0.0.1:5000".into());
            e.id = Some(format!("r{i}"));
            e.time = Some(200 + i);
            e.attributes = vec![
                ("query.id".into(), i.to_string()),
                ("query.text".into(), "select '\"quoted\"\n'".into()),
            ];
            let context = RowContext::new(
                e.actor.as_ref(),
                e.connection.as_deref(),
                e.session_id.as_deref(),
                e.client_address.as_deref(),
            );
            let attributes: Vec<(&str, &str)> = e
                .attributes
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let mut row = Vec::new();
            encode_row(
                &mut row,
                &context,
                &RowEvent {
                    id: e.id.as_deref().unwrap(),
                    time: e.time.unwrap(),
                    category: &e.category,
                    action: &e.action,
                    outcome: e.outcome,
                    reason: e.reason.as_deref(),
                    attributes: &attributes,
                },
            );
            let mut same = Vec::new();
            encode_event(&mut same, &e, e.id.as_deref().unwrap(), 0);
            assert_eq!(
                String::from_utf8(row.clone()).unwrap(),
                String::from_utf8(same).unwrap()
            );
            lines.extend_from_slice(&row);
            lines.push(b'\n');
            events.push(e);
        }
        assert_eq!(audit.append_encoded(b"").await.unwrap().stored, 0);
        let first_line = lines.iter().position(|b| *b == b'\n').unwrap() + 1;
        let first = audit.append_encoded(&lines[..first_line]).await.unwrap();
        assert_eq!(first.stored, 1);
        let all = audit.append_encoded(&lines).await.unwrap();
        assert_eq!(all.stored, 2, "the first row was stored already");
        assert!(all.last_sequence > first.last_sequence);
        assert_eq!(
            audit.append_encoded(&lines).await.unwrap().last_sequence,
            None
        );
        let stored = audit.after(0, 10).await.unwrap();
        assert_eq!(stored.len(), 3);
        assert_eq!(stored[2].sequence, all.last_sequence.unwrap());
        for (stored, event) in stored.iter().zip(&events) {
            assert_eq!(Some(&stored.id), event.id.as_ref());
            assert_eq!(Some(stored.time), event.time);
            assert_eq!(stored.actor, event.actor);
            assert_eq!(stored.client_address, event.client_address);
            assert_eq!(stored.attributes, event.attributes);
            assert_eq!(stored.outcome, Outcome::Success);
            assert_eq!(stored.reason, event.reason);
        }
        assert!(audit.append_encoded(b"[\"torn\"").await.is_err());
    })
    .await;
}

/// A group larger than one statement's rows stores in order, skipping the
/// replayed rows among them, and reports how many were stored and the
/// last sequence (SQLite's appender inserts a group in chunks of rows).
#[tokio::test]
async fn a_group_of_many_rows_with_replays_among_them_stores_each_once_in_order() {
    common::both(|t| async move {
        let audit = t.store.audit();
        let rows = |range: std::ops::Range<i64>| {
            let mut lines = Vec::new();
            for i in range {
                let mut e = event("query.allowed");
                e.time = Some(i);
                e.attributes = vec![("query.id".into(), i.to_string())];
                encode_event(&mut lines, &e, &format!("g{i:03}"), 0);
                lines.push(b'\n');
            }
            lines
        };
        // Ten rows stored first, then 90 with those ten in the middle.
        let first = audit.append_encoded(&rows(40..50)).await.unwrap();
        assert_eq!(first.stored, 10);
        let group = audit.append_encoded(&rows(0..90)).await.unwrap();
        assert_eq!(group.stored, 80);
        let stored = audit
            .after(first.last_sequence.unwrap(), 1000)
            .await
            .unwrap();
        assert_eq!(stored.len(), 80);
        assert_eq!(
            stored.last().unwrap().sequence,
            group.last_sequence.unwrap()
        );
        let times: Vec<i64> = stored.iter().map(|e| e.time).collect();
        let expected: Vec<i64> = (0..40).chain(50..90).collect();
        assert_eq!(times, expected);
        assert!(stored.windows(2).all(|w| w[0].sequence < w[1].sequence));
        assert_eq!(
            stored[79].attributes,
            [("query.id".to_string(), "89".to_string())]
        );
    })
    .await;
}

/// A journal written before rows nested their JSON columns (actor, states,
/// attributes as strings holding JSON) is replayed into the same events.
#[tokio::test]
async fn rows_that_hold_json_columns_as_strings_store_the_same_events() {
    common::both(|t| async move {
        let audit = t.store.audit();
        let mut e = event("query.allowed");
        e.before = Some(serde_json::json!({"name": "a \"b\""}));
        e.attributes = vec![("query.text".into(), "select '\"x\"'".into())];
        let mut nested = Vec::new();
        encode_event(&mut nested, &e, "nested", 0);
        let mut legacy = serde_json::from_slice::<Vec<serde_json::Value>>(&nested).unwrap();
        legacy[0] = "legacy".into();
        for column in [6, 12, 13, 14] {
            if !legacy[column].is_null() {
                legacy[column] = legacy[column].to_string().into();
            }
        }
        assert!(legacy[6].is_string() && legacy[14].is_string());
        let mut lines = nested.clone();
        lines.push(b'\n');
        lines.extend_from_slice(serde_json::to_string(&legacy).unwrap().as_bytes());
        assert_eq!(audit.append_encoded(&lines).await.unwrap().stored, 2);
        let stored = audit.after(0, 10).await.unwrap();
        assert_eq!(stored.len(), 2);
        for stored in &stored {
            assert_eq!(stored.actor, e.actor);
            assert_eq!(stored.before, e.before);
            assert_eq!(stored.after, None);
            assert_eq!(stored.attributes, e.attributes);
        }
    })
    .await;
}

/// Journaled events keep their ids, and a replay stores each once.
#[tokio::test]
async fn replayed_events_keep_their_ids_and_are_stored_once() {
    common::both(|t| async move {
        let audit = t.store.audit();
        let journaled: Vec<_> = (0..3)
            .map(|i| {
                let mut e = event("query.allowed");
                e.id = Some(format!("j{i}"));
                e.time = Some(100 + i);
                e
            })
            .collect();
        let rows = |events: &[NewAuditEvent]| {
            let mut lines = Vec::new();
            for e in events {
                encode_event(&mut lines, e, e.id.as_deref().unwrap(), 0);
                lines.push(b'\n');
            }
            lines
        };
        assert!(
            audit.append_many(&journaled[..1]).await.is_err(),
            "ids are the store's to give, outside a replay"
        );
        let first = audit.append_encoded(&rows(&journaled[..2])).await.unwrap();
        assert_eq!(first.stored, 2);
        // A crash after the commit, before the journal file went: replayed
        // again with what came after.
        let again = audit.append_encoded(&rows(&journaled)).await.unwrap();
        assert_eq!(again.stored, 1);
        assert!(again.last_sequence > first.last_sequence);
        let stored = audit.after(0, 10).await.unwrap();
        let ids: Vec<_> = stored.iter().map(|e| (e.id.as_str(), e.time)).collect();
        assert_eq!(ids, [("j0", 100), ("j1", 101), ("j2", 102)]);
        assert_eq!(stored[2].sequence, again.last_sequence.unwrap());
        assert_eq!(stored[1].sequence, first.last_sequence.unwrap());
        assert_eq!(stored[2].attributes, journaled[2].attributes);
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
        for sink in ["siem", "late"] {
            assert!(audit.acquire_sink_lease(sink, "n1", LONG).await.unwrap());
        }

        let due = audit.due("siem", 0, 10).await.unwrap();
        assert_eq!(
            due.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            [e1.sequence, e2.sequence, e3.sequence]
        );
        audit
            .mark_delivered("siem", "n1", e1.sequence)
            .await
            .unwrap()
            .held()
            .unwrap();
        assert!(matches!(
            audit.mark_delivered("siem", "n1", 0).await,
            Err(StoreError::Conflict { .. })
        ));

        // e2 fails twice: not due before its retry time, then dead-lettered.
        assert!(matches!(
            audit.mark_failed("siem", "n1", e3.sequence, "x", 0).await,
            Err(StoreError::Conflict { .. })
        ));
        let state = audit
            .mark_failed("siem", "n1", e2.sequence, "503 from SIEM", 1_000)
            .await
            .unwrap()
            .held()
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
            .mark_failed("siem", "n1", e2.sequence, "timeout", 2_000)
            .await
            .unwrap()
            .held()
            .unwrap();
        assert_eq!(state.attempts, 2);
        let state = audit
            .dead_letter("siem", "n1", e2.sequence, "gave up: timeout")
            .await
            .unwrap()
            .held()
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
        audit
            .mark_delivered("siem", "n1", e3.sequence)
            .await
            .unwrap()
            .held()
            .unwrap();
        assert!(audit.due("siem", 0, 10).await.unwrap().is_empty());
        assert!(matches!(
            audit.mark_delivered("siem", "n1", e3.sequence + 100).await,
            Err(StoreError::Invalid(_))
        ));

        // Retention waits for the slowest sink ("late" is at e1).
        let future = gatehouse_store_now() + 60_000;
        assert_eq!(audit.delete_older_than(future).await.unwrap(), 1);
        audit
            .mark_delivered("late", "n1", e3.sequence)
            .await
            .unwrap()
            .held()
            .unwrap();
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

#[tokio::test]
async fn one_of_two_contending_holders_gets_a_sink_lease_and_renews_it() {
    common::both(|t| async move {
        let audit = t.store.audit();
        audit
            .register_sink("siem", SinkStart::Beginning)
            .await
            .unwrap();
        assert_eq!(audit.sink_lease("siem").await.unwrap(), None);
        // Both ask at once: exactly one wins.
        let (a, b) = tokio::join!(
            audit.acquire_sink_lease("siem", "node-a", LONG),
            audit.acquire_sink_lease("siem", "node-b", LONG),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a ^ b, "exactly one holder: a={a} b={b}");
        let (winner, loser) = if a {
            ("node-a", "node-b")
        } else {
            ("node-b", "node-a")
        };
        let first = audit.sink_lease("siem").await.unwrap().unwrap();
        assert_eq!(first.holder, winner);
        // The loser keeps asking in vain; the winner renews (later expiry).
        assert!(!takes_siem(&audit, loser, LONG).await);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(takes_siem(&audit, winner, LONG).await);
        let renewed = audit.sink_lease("siem").await.unwrap().unwrap();
        assert_eq!(renewed.holder, winner);
        assert!(renewed.until > first.until, "{renewed:?} after {first:?}");
        // Only the holder can release it; then the other gets it at once.
        assert!(!audit.release_sink_lease("siem", loser).await.unwrap());
        assert!(audit.release_sink_lease("siem", winner).await.unwrap());
        assert_eq!(audit.sink_lease("siem").await.unwrap(), None);
        assert!(takes_siem(&audit, loser, LONG).await);
        // A lease on a sink nobody registered is not invented.
        assert!(matches!(
            audit.acquire_sink_lease("nope", winner, LONG).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            audit.acquire_sink_lease("siem", "", LONG).await,
            Err(StoreError::Invalid(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn many_holders_racing_for_a_sink_lease_yield_one() {
    common::both(|t| async move {
        t.store
            .audit()
            .register_sink("siem", SinkStart::Beginning)
            .await
            .unwrap();
        let racers: Vec<_> = (0..8)
            .map(|n| {
                let store = t.store.clone();
                tokio::spawn(async move {
                    store
                        .audit()
                        .acquire_sink_lease("siem", &format!("node-{n}"), LONG)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut won = 0;
        for racer in racers {
            won += usize::from(racer.await.unwrap());
        }
        assert_eq!(won, 1);
    })
    .await;
}

#[tokio::test]
async fn an_expired_sink_lease_passes_to_another_holder() {
    common::both(|t| async move {
        let audit = t.store.audit();
        audit
            .register_sink("siem", SinkStart::Beginning)
            .await
            .unwrap();
        let ttl = Duration::from_millis(150);
        assert!(takes_siem(&audit, "node-a", ttl).await);
        assert!(!takes_siem(&audit, "node-b", ttl).await);
        tokio::time::sleep(Duration::from_millis(250)).await;
        // Expired but not yet taken: still node-a's (it may renew).
        assert_eq!(siem_holder(&audit).await, "node-a");
        assert!(takes_siem(&audit, "node-b", LONG).await);
        assert_eq!(siem_holder(&audit).await, "node-b");
        assert!(!takes_siem(&audit, "node-a", ttl).await);
    })
    .await;
}

#[tokio::test]
async fn a_holder_that_lost_its_lease_cannot_move_the_cursor() {
    common::both(|t| async move {
        let audit = t.store.audit();
        audit
            .register_sink("siem", SinkStart::Beginning)
            .await
            .unwrap();
        let e1 = audit.append(event("one")).await.unwrap();
        let e2 = audit.append(event("two")).await.unwrap();
        let e3 = audit.append(event("three")).await.unwrap();
        // Without any lease, nothing moves.
        assert_eq!(
            audit
                .mark_delivered("siem", "node-a", e1.sequence)
                .await
                .unwrap(),
            Fenced::LeaseLost
        );
        // node-a holds the lease, reads a batch (e1..e3) and stalls past
        // its expiry; node-b takes over and delivers e1 and e2.
        let ttl = Duration::from_millis(100);
        assert!(takes_siem(&audit, "node-a", ttl).await);
        let batch = audit.due("siem", 0, 10).await.unwrap();
        assert_eq!(batch.len(), 3);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(takes_siem(&audit, "node-b", LONG).await);
        let state = audit
            .mark_delivered("siem", "node-b", e2.sequence)
            .await
            .unwrap()
            .held()
            .unwrap();
        assert_eq!(state.delivered_through, e2.sequence);

        // node-a's late writes are refused and change nothing: it can
        // neither move the cursor back (e1) nor past what node-b
        // delivered (e3), nor count failures or park dead letters.
        for through in [e1.sequence, e3.sequence] {
            assert_eq!(
                audit
                    .mark_delivered("siem", "node-a", through)
                    .await
                    .unwrap(),
                Fenced::LeaseLost
            );
        }
        assert_eq!(
            audit
                .mark_failed("siem", "node-a", e3.sequence, "503", 0)
                .await
                .unwrap(),
            Fenced::LeaseLost
        );
        assert_eq!(
            audit
                .dead_letter("siem", "node-a", e3.sequence, "gave up")
                .await
                .unwrap(),
            Fenced::LeaseLost
        );
        assert!(!audit.release_sink_lease("siem", "node-a").await.unwrap());
        let state = audit.sink("siem").await.unwrap();
        assert_eq!(
            (state.delivered_through, state.attempts, state.last_error),
            (e2.sequence, 0, None)
        );
        assert!(audit.dead_letters("siem", 10).await.unwrap().is_empty());
        assert_eq!(siem_holder(&audit).await, "node-b");
        // node-b goes on from its own cursor.
        assert!(matches!(
            audit
                .mark_failed("siem", "node-b", e3.sequence, "503", 0)
                .await
                .unwrap(),
            Fenced::Held(state) if state.attempts == 1
        ));
        assert!(matches!(
            audit
                .dead_letter("siem", "node-b", e3.sequence, "gave up")
                .await
                .unwrap(),
            Fenced::Held(state) if state.delivered_through == e3.sequence
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
