//! Sessions and their events: recording, filters, pagination, retention.

use crate::common;
use gatehouse_store::sessions::Sessions;
use gatehouse_store::sessions::{
    NewSession, SessionEvent, SessionFilter, SessionSummary, Verb, Verdict,
};
use gatehouse_store::{PageRequest, StoreError};

/// The ids of the sessions `filter` lists (one page of up to 100).
async fn listed_ids(sessions: &Sessions<'_>, filter: &SessionFilter) -> Vec<String> {
    sessions
        .list(filter, &PageRequest::first(100))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|s| s.id)
        .collect()
}

fn new_session(id: &str, email: &str, connection: &str, started_at: i64) -> NewSession {
    NewSession {
        id: id.into(),
        user_id: format!("uid-{email}"),
        email: email.into(),
        connection: connection.into(),
        client_address: "192.0.2.7:50000".into(),
        verb: Verb::Connect,
        started_at,
    }
}

#[tokio::test]
async fn sessions_record_events_and_summaries() {
    common::both(|t| async move {
        let sessions = t.store.sessions();
        let session = sessions
            .start(new_session(
                "s1",
                "Alice@example.com",
                "billing-db.read-only",
                1_000,
            ))
            .await
            .unwrap();
        assert_eq!(
            (session.email.as_str(), session.ended_at, session.queries),
            ("alice@example.com", None, 0)
        );
        assert!(matches!(
            sessions.start(new_session("s1", "a", "c.r", 1)).await,
            Err(StoreError::Conflict { .. })
        ));

        let mut first = SessionEvent::query(1, 1_001, "select 1", Verdict::Allowed);
        first.decided_by = Some("guardrails".into());
        first.duration_us = 420;
        first.rows = 1;
        first.command_tag = Some("SELECT 1".into());
        first.counters.insert("masked.email".into(), 12);
        let mut second = SessionEvent::query(2, 1_002, "drop table t", Verdict::Denied);
        second.reason = Some("DROP is not allowed".into());
        sessions.record("s1", &first).await.unwrap();
        sessions.record_many("s1", &[second.clone()]).await.unwrap();
        assert!(matches!(
            sessions.record("s1", &second).await,
            Err(StoreError::Conflict { .. })
        ));
        assert!(matches!(
            sessions.record("nope", &first).await,
            Err(StoreError::NotFound { .. })
        ));

        let events = sessions.events("s1", 0, 100).await.unwrap();
        assert_eq!(events, vec![first.clone(), second.clone()]);
        assert_eq!(sessions.events("s1", 1, 100).await.unwrap(), vec![second]);

        let summary = SessionSummary {
            queries: 2,
            denied: 1,
            rows: 1,
            duration_ms: 5,
        };
        let ended = sessions.end("s1", summary, 1_005).await.unwrap();
        assert_eq!(
            (
                ended.ended_at,
                ended.queries,
                ended.denied,
                ended.rows,
                ended.duration_ms
            ),
            (Some(1_005), 2, 1, 1, Some(5))
        );
        assert!(matches!(
            sessions.end("nope", summary, 1).await,
            Err(StoreError::NotFound { .. })
        ));
        // Recording is not an admin change: no audit rows.
        assert_eq!(t.store.audit().latest_sequence().await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn sessions_filter_and_page_newest_first() {
    common::both(|t| async move {
        let sessions = t.store.sessions();
        for i in 0..25i64 {
            let (email, connection) = if i % 2 == 0 {
                ("alice@example.com", "db.ro")
            } else {
                ("bob@example.com", "db.admin")
            };
            // Pairs share a start time: the id breaks the tie.
            let id = format!("s{i:02}");
            sessions
                .start(new_session(
                    &id,
                    email,
                    connection,
                    10_000 + (i / 2) * 1_000,
                ))
                .await
                .unwrap();
            let verdict = if i % 5 == 0 {
                Verdict::Denied
            } else {
                Verdict::Allowed
            };
            sessions
                .record(
                    &id,
                    &SessionEvent::query(1, 10_000 + i * 1_000, "select", verdict),
                )
                .await
                .unwrap();
        }

        let mut seen = Vec::new();
        let mut page = PageRequest::first(7);
        loop {
            let result = sessions
                .list(&SessionFilter::default(), &page)
                .await
                .unwrap();
            seen.extend(result.items.iter().map(|s| (s.started_at, s.id.clone())));
            match result.next {
                Some(next) => page = PageRequest::after(7, next),
                None => break,
            }
        }
        assert_eq!(seen.len(), 25);
        let mut expected = seen.clone();
        expected.sort_by(|a, b| b.cmp(a));
        assert_eq!(seen, expected, "newest first, no repeats or gaps");

        let by_user = SessionFilter {
            email: Some("Bob@Example.com".into()),
            ..Default::default()
        };
        assert_eq!(
            sessions
                .list(&by_user, &PageRequest::first(100))
                .await
                .unwrap()
                .items
                .len(),
            12
        );
        let by_connection = SessionFilter {
            connection: Some("db.ro".into()),
            ..Default::default()
        };
        assert_eq!(
            sessions
                .list(&by_connection, &PageRequest::first(100))
                .await
                .unwrap()
                .items
                .len(),
            13
        );
        let by_user_id = SessionFilter {
            user_id: Some("uid-alice@example.com".into()),
            ..Default::default()
        };
        assert_eq!(
            sessions
                .list(&by_user_id, &PageRequest::first(100))
                .await
                .unwrap()
                .items
                .len(),
            13
        );
        let window = SessionFilter {
            since: Some(12_000),
            until: Some(14_000),
            ..Default::default()
        };
        let ids = listed_ids(&sessions, &window).await;
        assert_eq!(ids, ["s07", "s06", "s05", "s04"]);
        let denied = SessionFilter {
            verdict: Some(Verdict::Denied),
            ..Default::default()
        };
        let ids = listed_ids(&sessions, &denied).await;
        assert_eq!(ids, ["s20", "s15", "s10", "s05", "s00"]);
        // Allowed events are not in the verdict index (migration 0006):
        // the filter finds them through the primary key.
        let allowed = SessionFilter {
            verdict: Some(Verdict::Allowed),
            ..Default::default()
        };
        let allowed_ids = listed_ids(&sessions, &allowed).await;
        assert_eq!(allowed_ids.len(), 20);
        assert!(allowed_ids.iter().all(|id| !ids.contains(id)));
        let combined = SessionFilter {
            verdict: Some(Verdict::Denied),
            email: Some("alice@example.com".into()),
            ..Default::default()
        };
        assert_eq!(
            sessions
                .list(&combined, &PageRequest::first(100))
                .await
                .unwrap()
                .items
                .len(),
            3
        );

        assert!(matches!(
            sessions
                .list(&SessionFilter::default(), &PageRequest::after(5, "garbage"))
                .await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            sessions
                .list(&SessionFilter::default(), &PageRequest::first(0))
                .await,
            Err(StoreError::Invalid(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn retention_deletes_old_sessions_with_their_events() {
    common::both(|t| async move {
        let sessions = t.store.sessions();
        sessions
            .start(new_session("old", "a@x", "db.ro", 1_000))
            .await
            .unwrap();
        sessions
            .record(
                "old",
                &SessionEvent::query(1, 1_001, "select", Verdict::Allowed),
            )
            .await
            .unwrap();
        sessions
            .end("old", SessionSummary::default(), 2_000)
            .await
            .unwrap();
        sessions
            .start(new_session("crashed", "a@x", "db.ro", 1_500))
            .await
            .unwrap(); // never ended
        sessions
            .start(new_session("long", "a@x", "db.ro", 1_000))
            .await
            .unwrap();
        sessions
            .end("long", SessionSummary::default(), 9_000)
            .await
            .unwrap();
        sessions
            .start(new_session("new", "a@x", "db.ro", 8_000))
            .await
            .unwrap();

        assert_eq!(sessions.delete_older_than(5_000).await.unwrap(), 2);
        let left: Vec<String> = sessions
            .list(&SessionFilter::default(), &PageRequest::first(10))
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(left, ["new", "long"]);
        let orphans: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM session_events")
            .fetch_one(t.store.pool())
            .await
            .unwrap();
        assert_eq!(orphans, 0);
    })
    .await;
}

#[tokio::test]
async fn a_batch_records_events_of_several_sessions_and_skips_orphans_and_replays() {
    common::both(|t| async move {
        let sessions = t.store.sessions();
        sessions
            .start(new_session("b1", "a@x", "c.r", 1))
            .await
            .unwrap();
        sessions
            .start(new_session("b2", "b@x", "c.r", 2))
            .await
            .unwrap();
        // More rows than one INSERT holds, interleaved, NULLs included.
        let mut batch = Vec::new();
        for seq in 1..=100u64 {
            for id in ["b1", "b2"] {
                let mut event =
                    SessionEvent::query(seq, 10, format!("select {seq}"), Verdict::Allowed);
                if seq % 2 == 0 {
                    event.reason = Some("why".into());
                    event.counters.insert("masked.email".into(), seq);
                }
                batch.push((id.to_string(), event));
            }
        }
        let outcome = sessions.record_batch(batch).await.unwrap();
        assert_eq!((outcome.written, outcome.skipped), (200, 0));
        let events = sessions.events("b2", 0, 1000).await.unwrap();
        assert_eq!(events.len(), 100);
        assert_eq!(events[1].reason.as_deref(), Some("why"));
        assert_eq!(events[0].reason, None);
        assert_eq!(events[99].counters["masked.email"], 100);
        assert_eq!(events[41].query.as_deref(), Some("select 42"));

        assert_eq!(events[3].query_id, Some(4));
        assert_eq!(events[3].counters["masked.email"], 4);
        assert!(events[2].counters.is_empty());

        // An event of an unknown session, or a replay, is skipped; the rest
        // of the batch is written.
        let extra = vec![
            (
                "b1".to_string(),
                SessionEvent::query(101, 10, "select", Verdict::Allowed),
            ),
            (
                "nope".to_string(),
                SessionEvent::query(1, 10, "select", Verdict::Allowed),
            ),
        ];
        let outcome = sessions.record_batch(extra).await.unwrap();
        assert_eq!((outcome.written, outcome.skipped), (1, 1));
        let mut rerun = SessionEvent::query(102, 11, "select 5", Verdict::Allowed);
        rerun.query_id = Some(5);
        let replay = vec![
            (
                "b1".to_string(),
                SessionEvent::query(5, 10, "again", Verdict::Allowed),
            ),
            ("b1".to_string(), rerun),
        ];
        let outcome = sessions.record_batch(replay).await.unwrap();
        assert_eq!((outcome.written, outcome.skipped), (1, 1));
        let events = sessions.events("b1", 0, 1000).await.unwrap();
        assert_eq!(events.len(), 102);
        assert_eq!(events[4].query.as_deref(), Some("select 5"));
        assert_eq!((events[101].seq, events[101].query_id), (102, Some(5)));
    })
    .await;
}

/// An SQLite store in memory has no appender (its one connection is the
/// pool's): batches of events and audit rows go through the pool's
/// statements, skipping orphans and replays the same way.
#[tokio::test]
async fn an_in_memory_store_records_batches_through_its_pool() {
    let store =
        gatehouse_store::Store::open("sqlite::memory:", gatehouse_store::SecretKeys::generate())
            .await
            .unwrap();
    let sessions = store.sessions();
    sessions
        .start(new_session("m1", "m@example.com", "pg.main", 1))
        .await
        .unwrap();
    let batch = |seqs: std::ops::RangeInclusive<u64>, id: &str| {
        seqs.map(|seq| {
            (
                id.to_string(),
                SessionEvent::query(seq, 5, format!("select {seq}"), Verdict::Allowed),
            )
        })
        .collect::<Vec<_>>()
    };
    let outcome = sessions.record_batch(batch(1..=3, "m1")).await.unwrap();
    assert_eq!((outcome.written, outcome.skipped), (3, 0));
    let mut again = batch(3..=4, "m1");
    again.extend(batch(1..=1, "nope"));
    let outcome = sessions.record_batch(again).await.unwrap();
    assert_eq!((outcome.written, outcome.skipped), (1, 2));
    let events = sessions.events("m1", 0, 10).await.unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(events[3].query.as_deref(), Some("select 4"));

    let audit = store.audit();
    let mut event = gatehouse_store::audit::NewAuditEvent::new(
        "query",
        "query.allowed",
        gatehouse_store::audit::Outcome::Success,
    );
    event.attributes = vec![("query.text".into(), "select '\"x\"'".into())];
    let mut lines = Vec::new();
    gatehouse_store::audit::encode_event(&mut lines, &event, "m-1", 0);
    lines.push(b'\n');
    assert_eq!(audit.append_encoded(&lines).await.unwrap().stored, 1);
    assert_eq!(audit.append_encoded(&lines).await.unwrap().stored, 0);
    let stored = audit.after(0, 10).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].attributes, event.attributes);
    assert_eq!(audit.append_many(&[event]).await.unwrap().len(), 1);
}
