//! Sessions: retention deletes what is older than `[sessions]
//! retention_days` (at startup, then daily), and a session downloads whole
//! as one JSON attachment.

use crate::common::*;
use gatehouse_store::Store;
use gatehouse_store::sessions::{NewSession, SessionEvent, SessionSummary, Verb, Verdict};
use std::time::Duration;

const DAY_MS: i64 = 24 * 3600 * 1000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn session(store: &Store, id: &str, user_id: &str, started_at: i64, ended: bool) {
    store
        .sessions()
        .start(NewSession {
            id: id.into(),
            user_id: user_id.into(),
            email: USER.into(),
            connection: "pg.test".into(),
            client_address: "127.0.0.1:1".into(),
            verb: Verb::Connect,
            started_at,
        })
        .await
        .unwrap();
    if ended {
        store
            .sessions()
            .end(id, SessionSummary::default(), started_at + 1000)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_deletes_sessions_older_than_the_setting_at_startup() {
    let state = tempfile::tempdir().unwrap();
    {
        let store = Store::open_default(state.path()).await.unwrap();
        let now = now_ms();
        session(&store, "old", "1", now - 10 * DAY_MS, true).await;
        session(&store, "old-unended", "1", now - 9 * DAY_MS, false).await;
        session(&store, "recent", "1", now - 2 * DAY_MS, true).await;
        store
            .sessions()
            .record(
                "old",
                &SessionEvent::query(1, now - 10 * DAY_MS, "select 1", Verdict::Allowed),
            )
            .await
            .unwrap();
        store.close().await;
    }
    let gw = TestGateway::start_in(state, "[sessions]\nretention_days = 5\n").await;
    let store = gw.store().clone();
    eventually(Duration::from_secs(30), "retention ran", || async {
        all_events(&store)
            .await
            .iter()
            .any(|e| e.action == "retention.run")
    })
    .await;
    assert!(store.sessions().get("old").await.is_err());
    assert!(store.sessions().get("old-unended").await.is_err());
    assert!(
        store
            .sessions()
            .events("old", 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.sessions().get("recent").await.is_ok());
    let run = all_events(&store)
        .await
        .into_iter()
        .find(|e| e.action == "retention.run")
        .unwrap();
    assert_eq!(run.category, "admin");
    assert_eq!(run.actor.unwrap().user_id, "system:retention");
    assert_eq!(attribute_of(&run.attributes, "sessions_deleted"), Some("2"));
}

fn attribute_of<'a>(attributes: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_downloads_whole_as_a_json_attachment() {
    let gw = TestGateway::start("").await;
    let store = gw.store().clone();
    let alice = store.users().by_email(USER).await.unwrap();
    let now = now_ms();
    session(&store, "long", &alice.id.to_string(), now, true).await;
    // More than one page of events (the download streams 1000 at a time).
    let events: Vec<(String, SessionEvent)> = (1..=2500u64)
        .map(|seq| {
            let verdict = if seq % 100 == 0 {
                Verdict::Denied
            } else {
                Verdict::Allowed
            };
            let mut event = SessionEvent::query(seq, now, format!("select {seq}"), verdict);
            event.rows = 1;
            event.duration_us = seq;
            event.counters.insert("data-masking.email".into(), seq % 3);
            ("long".to_string(), event)
        })
        .collect();
    store.sessions().record_batch(events).await.unwrap();

    for token in [&gw.tokens.admin, &gw.tokens.user] {
        let answer = gw
            .api("GET", "/api/sessions/long/download", token, None)
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        assert_eq!(
            answer.header("content-disposition"),
            Some("attachment; filename=\"session-long.json\"")
        );
        let document = answer.json();
        assert_eq!(document["session"]["id"], "long");
        assert_eq!(document["session"]["email"], USER);
        let downloaded = document["events"].as_array().unwrap();
        assert_eq!(downloaded.len(), 2500);
        for (i, event) in downloaded.iter().enumerate() {
            assert_eq!(event["seq"], i as u64 + 1);
        }
        assert_eq!(downloaded[99]["verdict"], "denied");
        assert_eq!(downloaded[4]["counters"]["data-masking.email"], 2);
        assert_eq!(downloaded[4]["duration_us"], 5);
    }
    // Someone else's session is not found; so is a missing one.
    let other = gw
        .api("GET", "/api/sessions/long/download", &gw.tokens.other, None)
        .await;
    assert_eq!(other.status, 404);
    let missing = gw
        .api("GET", "/api/sessions/nope/download", &gw.tokens.admin, None)
        .await;
    assert_eq!(missing.status, 404);
}
