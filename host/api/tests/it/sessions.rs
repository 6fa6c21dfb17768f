//! Sessions and the audit log: filters and keyset pages through `next`.

use crate::common::*;
use gatehouse_store::sessions::{NewSession, SessionEvent, Verb, Verdict};
use serde_json::{Value, json};

async fn page_through(api: &Api, tokens: &Tokens, who: Who, first: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut url = first.to_string();
    loop {
        let answer = api.req(tokens, who, "GET", &url, None).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        pages.push(answer.body["items"].as_array().unwrap().clone());
        match answer.body["next"].as_str() {
            Some(next) => {
                let sep = if first.contains('?') { '&' } else { '?' };
                url = format!("{first}{sep}next={next}");
            }
            None => break,
        }
        assert!(pages.len() < 20);
    }
    pages
}

#[tokio::test]
async fn sessions_filter_and_page() {
    let (api, tokens) = Api::start().await;
    let sessions = api.store.sessions();
    for i in 0..5i64 {
        let who = if i % 2 == 0 {
            Who::User
        } else {
            Who::OtherUser
        };
        sessions
            .start(NewSession {
                id: format!("s{i}"),
                user_id: tokens.id(who).to_string(),
                email: who.email().into(),
                connection: if i < 3 { "db.ro" } else { "db.admin" }.into(),
                client_address: "10.0.0.1".into(),
                verb: Verb::Connect,
                started_at: 1_000 + i,
            })
            .await
            .unwrap();
    }
    let events: Vec<SessionEvent> = (1..=3)
        .map(|seq| {
            SessionEvent::query(
                seq,
                2_000 + seq as i64,
                format!("select {seq}"),
                if seq == 2 {
                    Verdict::Denied
                } else {
                    Verdict::Allowed
                },
            )
        })
        .collect();
    sessions.record_many("s2", &events).await.unwrap();

    let pages = page_through(&api, &tokens, Who::Admin, "/api/sessions?limit=2").await;
    let ids: Vec<Vec<&str>> = pages
        .iter()
        .map(|p| p.iter().map(|s| s["id"].as_str().unwrap()).collect())
        .collect();
    assert_eq!(ids, vec![vec!["s4", "s3"], vec!["s2", "s1"], vec!["s0"]]);
    let pages = page_through(&api, &tokens, Who::User, "/api/sessions?limit=1").await;
    let ids: Vec<&str> = pages
        .iter()
        .flatten()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["s4", "s2", "s0"],
        "a user pages through their own only"
    );

    for (query, expected) in [
        ("connection=db.admin", vec!["s4", "s3"]),
        ("verdict=denied", vec!["s2"]),
        ("since=1001&until=1003", vec!["s2", "s1"]),
        ("user=bob@example.com", vec!["s3", "s1"]),
    ] {
        let answer = api
            .req(
                &tokens,
                Who::Admin,
                "GET",
                &format!("/api/sessions?{query}"),
                None,
            )
            .await;
        let ids: Vec<&str> = answer.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, expected, "{query}");
    }

    let shown = api
        .req(&tokens, Who::User, "GET", "/api/sessions/s2?limit=2", None)
        .await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(shown.body["session"]["id"], "s2");
    assert_eq!(shown.body["events"].as_array().unwrap().len(), 2);
    assert_eq!(shown.body["events"][1]["verdict"], "denied");
    assert_eq!(shown.body["next_after"], 2);
    let rest = api
        .req(
            &tokens,
            Who::User,
            "GET",
            "/api/sessions/s2?after=2&limit=2",
            None,
        )
        .await;
    assert_eq!(rest.body["events"][0]["query"], "select 3");
    assert_eq!(rest.body["next_after"], json!(null));
    api.cleanup().await;
}

#[tokio::test]
async fn audit_filters_and_pages() {
    let (api, tokens) = Api::start().await;
    for i in 0..5 {
        let answer = api
            .req(
                &tokens,
                Who::Admin,
                "POST",
                "/api/groups",
                Some(json!({ "name": format!("g{i}") })),
            )
            .await;
        assert_eq!(answer.status, 201);
    }
    let pages = page_through(
        &api,
        &tokens,
        Who::Admin,
        "/api/audit?action=group.create&limit=2",
    )
    .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let targets: Vec<&str> = pages
        .iter()
        .flatten()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        ["group:g4", "group:g3", "group:g2", "group:g1", "group:g0"]
    );
    let first = &pages[0][0];
    let one = api
        .req(
            &tokens,
            Who::Admin,
            "GET",
            &format!("/api/audit/{}", first["sequence"]),
            None,
        )
        .await;
    assert_eq!(&one.body, first);
    let admin_id = tokens.id(Who::Admin);
    let by_actor = api
        .req(
            &tokens,
            Who::Admin,
            "GET",
            &format!("/api/audit?actor={admin_id}&category=admin"),
            None,
        )
        .await;
    assert_eq!(by_actor.body["items"].as_array().unwrap().len(), 5);
    let missing = api
        .req(&tokens, Who::Admin, "GET", "/api/audit/999999", None)
        .await;
    assert_eq!(missing.code(), "not_found");
    api.cleanup().await;
}
