//! The real binary, killed with SIGKILL while clients and admins are being
//! answered: after a restart on the same store every event that had been
//! acknowledged (a denied query answered with 42501, an allowed query
//! whose rows arrived, an admin change answered 201) is in the audit log, and the audit-jsonl sink gets each of
//! them (resuming from its cursor).

use crate::common::*;
use gatehouse_store::Store;
use gatehouse_store::audit::AuditEvent;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::process::{Child, Command};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Running {
    child: Child,
    pg_port: u16,
    api: String,
}

/// Start `gatehouse serve` on fresh ports and wait until its API answers.
async fn start(state: &Path, sink_dir: &Path, tokens: &Tokens, log: &Path) -> Running {
    let (pg_port, api_port) = (free_port(), free_port());
    let api = format!("127.0.0.1:{api_port}");
    let sink = format!(
        r#"
[[audit.sinks]]
plugin = "audit-jsonl"
grants = {{ files = "{}" }}
"#,
        sink_dir.display()
    );
    let text = config_text(state, &format!("127.0.0.1:{pg_port}"), &api, tokens, &sink);
    let path = state.join("gatehouse.toml");
    std::fs::write(&path, text).unwrap();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .env("GATEHOUSE_LOG", "warn")
        .env_remove("GATEHOUSE_STORE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("the gatehouse binary starts");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        if let Ok(answer) = http(&api, "GET", "/api/whoami", Some(&tokens.admin), None).await
            && answer.status == 200
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gateway did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Running {
        child,
        pg_port,
        api,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_loses_no_acknowledged_event() {
    let state = tempfile::tempdir().unwrap();
    let sink_dir = tempfile::tempdir().unwrap();
    let log = state.path().join("gateway.log");
    let tokens = Tokens::new();
    let mut first = start(state.path(), sink_dir.path(), &tokens, &log).await;

    let denied_acks = Arc::new(Mutex::new(BTreeSet::new()));
    let group_acks = Arc::new(Mutex::new(BTreeSet::new()));
    let mut traffic = Vec::new();
    for client in 0..3 {
        let (port, token, acks) = (first.pg_port, tokens.user.clone(), denied_acks.clone());
        traffic.push(tokio::spawn(async move {
            let Ok(db) = connect(port, &token).await else {
                return;
            };
            for n in 0.. {
                let text = format!("drop table t_{client}_{n}");
                match db.simple_query(&text).await {
                    Err(err)
                        if err.code()
                            == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) =>
                    {
                        acks.lock().unwrap().insert(text);
                    }
                    _ => return,
                }
            }
        }));
    }
    let allowed_acks = Arc::new(Mutex::new(BTreeSet::new()));
    for client in 0..2 {
        let (port, token, acks) = (first.pg_port, tokens.user.clone(), allowed_acks.clone());
        traffic.push(tokio::spawn(async move {
            let Ok(db) = connect(port, &token).await else {
                return;
            };
            for n in 0.. {
                let text = format!("select {client}{n:06}");
                match db.simple_query(&text).await {
                    Ok(messages) if messages.len() > 1 => {
                        acks.lock().unwrap().insert(text);
                    }
                    _ => return,
                }
            }
        }));
    }
    for writer in 0..2 {
        let (api, token, acks) = (first.api.clone(), tokens.admin.clone(), group_acks.clone());
        traffic.push(tokio::spawn(async move {
            for n in 0.. {
                let name = format!("g-{writer}-{n}");
                let body = format!(r#"{{"name":"{name}"}}"#);
                match http(&api, "POST", "/api/groups", Some(&token), Some(&body)).await {
                    Ok(answer) if answer.status == 201 => {
                        acks.lock().unwrap().insert(name);
                    }
                    _ => return,
                }
            }
        }));
    }
    // Kill while both kinds of traffic are in flight.
    eventually(Duration::from_secs(60), "traffic under way", || async {
        denied_acks.lock().unwrap().len() >= 30
            && group_acks.lock().unwrap().len() >= 10
            && allowed_acks.lock().unwrap().len() >= 30
    })
    .await;
    first.child.start_kill().expect("SIGKILL");
    first.child.wait().await.unwrap();
    for task in traffic {
        task.await.unwrap();
    }
    let denied: BTreeSet<String> = denied_acks.lock().unwrap().clone();
    let groups: BTreeSet<String> = group_acks.lock().unwrap().clone();
    let allowed: BTreeSet<String> = allowed_acks.lock().unwrap().clone();

    // Restart on the same state directory (the same SQLite store).
    let mut second = start(state.path(), sink_dir.path(), &tokens, &log).await;
    let store = Store::open_default(state.path()).await.unwrap();
    let events = all_events(&store).await;
    let denied_events = acknowledged(&events, "query.denied", &denied, "acknowledged denials");
    // Every allowed query whose rows reached its client: `query.allowed`
    // is journaled before the answer is relayed.
    let allowed_events = acknowledged(
        &events,
        "query.allowed",
        &allowed,
        "answered allowed queries",
    );
    let group_events: Vec<_> = events
        .iter()
        .filter(|e| e.action == "group.create")
        .filter(|e| {
            e.target
                .as_deref()
                .and_then(|t| t.strip_prefix("group:"))
                .is_some_and(|g| groups.contains(g))
        })
        .collect();
    assert_eq!(
        group_events.len(),
        groups.len(),
        "acknowledged admin changes missing after kill -9"
    );
    for event in &denied_events {
        let actor = event.actor.as_ref().unwrap();
        assert_eq!((actor.email.as_str(), actor.groups.len()), (USER, 2));
        assert!(event.session_id.is_some() && event.connection.as_deref() == Some("pg.test"));
    }

    // The sink resumes from its cursor and gets every one of them.
    let wanted: BTreeSet<String> = denied_events
        .iter()
        .chain(&group_events)
        .chain(&allowed_events)
        .map(|e| e.id.clone())
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let delivered = delivered_ids(sink_dir.path());
        let missing = wanted.iter().filter(|id| !delivered.contains(*id)).count();
        if missing == 0 {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            let sink = store.audit().sink("audit-jsonl").await;
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!(
                "{missing} events not delivered after the restart; sink: {sink:?}\ngateway log:\n{log}"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.child.start_kill().unwrap();
    second.child.wait().await.unwrap();
    eprintln!(
        "kill -9: {} acknowledged denials, {} answered allowed queries and {} admin changes, all stored and delivered",
        denied.len(),
        allowed.len(),
        groups.len()
    );
}

/// The `action` events of the queries in `acked` (by text); fails naming
/// `what` if any acknowledged query has none.
fn acknowledged<'e>(
    events: &'e [AuditEvent],
    action: &str,
    acked: &BTreeSet<String>,
    what: &str,
) -> Vec<&'e AuditEvent> {
    let found: Vec<_> = events
        .iter()
        .filter(|e| e.action == action)
        .filter(|e| attribute(e, "query.text").is_some_and(|t| acked.contains(t)))
        .collect();
    let stored: BTreeSet<&str> = found
        .iter()
        .filter_map(|e| attribute(e, "query.text"))
        .collect();
    let lost: Vec<_> = acked
        .iter()
        .filter(|t| !stored.contains(t.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} {what} missing after kill -9, e.g. {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(5)]
    );
    found
}

/// Event ids in the sink's files (complete lines only).
fn delivered_ids(dir: &Path) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        for line in text.lines() {
            if let Ok(doc) = serde_json::from_str::<serde_json::Value>(line)
                && let Some(id) = doc["event"]["id"].as_str()
            {
                ids.insert(id.to_string());
            }
        }
    }
    ids
}
