//! Two gateway nodes sharing one PostgreSQL store, each running the audit
//! pipeline with the same webhook sink: the sink's lease lets one node at
//! a time deliver, so every event reaches the receiver exactly once, in
//! order; when the holder stops (like a crash: no release) the other node
//! takes the sink over once the lease has expired, and a clean shutdown
//! releases the lease.

use crate::common::*;
use gatehouse::audit::deliver::LeasePolicy;
use gatehouse::audit::{AuditPipeline, NodeOptions};
use gatehouse::config::Config;
use gatehouse_store::Store;
use gatehouse_store::audit::{NewAuditEvent, Outcome};
use std::collections::BTreeMap;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);
const TTL: Duration = Duration::from_secs(1);
const SINK: &str = "siem";

/// A database of its own on the machine's PostgreSQL, dropped afterwards.
struct Database {
    name: String,
}

async fn admin() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(
        "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
        tokio_postgres::NoTls,
    )
    .await
    .expect("PostgreSQL at 127.0.0.1:5432 (user postgres, trust) is needed");
    tokio::spawn(connection);
    client
}

impl Database {
    async fn create() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("gh_audit_lease_{}_{nanos}", std::process::id());
        admin()
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        Self { name }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }

    async fn drop(self) {
        admin()
            .await
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .unwrap();
    }
}

/// One node: its own runtime and store pool, its pipeline.
struct Node {
    store: Store,
    pipeline: AuditPipeline,
}

async fn start_node(config: &Config, id: &str) -> Node {
    let (runtime, store, _, _) = gatehouse::server::prepare(config)
        .await
        .expect("the node prepares");
    let pipeline = AuditPipeline::start_with(
        &config.audit,
        &config.sessions,
        &store,
        &runtime,
        NodeOptions {
            node_id: id.into(),
            lease: LeasePolicy { ttl: TTL },
            ..NodeOptions::default()
        },
    )
    .await
    .expect("the audit pipeline starts");
    Node { store, pipeline }
}

async fn append(node: &Node, n: usize) {
    let mut event = NewAuditEvent::new("admin", "test.ping", Outcome::Success);
    event.attributes = vec![("n".into(), n.to_string())];
    node.pipeline.log.append(event).await.unwrap();
}

/// Every stored event reached the receiver, and the cursor is at the end.
async fn all_delivered(store: &Store, receiver: &Receiver) -> bool {
    let stored = all_events(store).await;
    let state = store.audit().sink(SINK).await.unwrap();
    let received = receiver.received();
    state.delivered_through == stored.last().map_or(0, |e| e.sequence)
        && stored.iter().all(|e| {
            received
                .iter()
                .any(|r| r.body["event"]["id"].as_str() == Some(e.id.as_str()))
        })
}

/// Each stored event received once, all answered 200, in sequence order.
async fn assert_exactly_once_in_order(store: &Store, receiver: &Receiver) {
    let received = receiver.received();
    assert!(received.iter().all(|r| r.status == 200));
    let mut times: BTreeMap<String, usize> = BTreeMap::new();
    for r in &received {
        *times
            .entry(r.body["event"]["id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let stored = all_events(store).await;
    let twice: Vec<_> = times.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert_eq!(
        times.len(),
        stored.len(),
        "every stored event, nothing else"
    );
    let sequences: Vec<i64> = received
        .iter()
        .map(|r| r.body["event"]["sequence"].as_i64().unwrap())
        .collect();
    assert!(
        sequences.windows(2).all(|w| w[0] < w[1]),
        "in sequence order: {sequences:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_deliver_each_event_once_and_hand_the_sink_over() {
    let database = Database::create().await;
    let url = database.url();
    let outcome = tokio::spawn(async move {
        let state = tempfile::tempdir().unwrap();
        let receiver = Receiver::start(0).await;
        let secret = state.path().join("hmac.key");
        std::fs::write(&secret, "0123456789abcdef0123456789abcdef\n").unwrap();
        let sink = format!(
            r#"
[[audit.sinks]]
name = "{SINK}"
plugin = "audit-webhook"
config = {{ url = "{url}" }}
secret_config = {{ secret = {{ file = "{secret}" }} }}
grants = {{ http = ["{url}"] }}
max_attempts = 5
retry_base_ms = 10
retry_cap_ms = 40
"#,
            url = receiver.url,
            secret = secret.display(),
        );
        // Both nodes read the same file (and so share the state directory's
        // secret key) and open their own pools on the same database.
        let text = config_text(
            state.path(),
            "127.0.0.1:0",
            "127.0.0.1:0",
            &Tokens::new(),
            &sink,
        );
        let mut config: Config = toml::from_str(&text).expect("test config parses");
        config.gateway.store_url = Some(url);
        config.check().expect("test config is valid");
        let a = start_node(&config, "node-a").await;
        let b = start_node(&config, "node-b").await;

        // Events written by both nodes: each delivered once, by one node.
        for n in 0..40 {
            append(if n % 2 == 0 { &a } else { &b }, n).await;
        }
        eventually(LIMIT, "both nodes' events delivered", || {
            all_delivered(&a.store, &receiver)
        })
        .await;
        assert_exactly_once_in_order(&a.store, &receiver).await;
        let lease = a.store.audit().sink_lease(SINK).await.unwrap().unwrap();
        let (holder, mut other) = match lease.holder.as_str() {
            "node-a" => (a, b),
            "node-b" => (b, a),
            unknown => panic!("the lease is held by {unknown}"),
        };

        // The holder stops without releasing (as if it crashed): the other
        // node takes over only once the lease has expired, and goes on
        // from the cursor.
        holder.pipeline.stop();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let expired = other.store.audit().sink_lease(SINK).await.unwrap().unwrap();
        assert_eq!(expired.holder, holder.pipeline.node_id());
        for n in 40..50 {
            append(&other, n).await;
        }
        eventually(LIMIT, "the other node took the sink over", || async {
            let lease = other.store.audit().sink_lease(SINK).await.unwrap();
            lease.is_some_and(|l| l.holder == other.pipeline.node_id())
                && all_delivered(&other.store, &receiver).await
        })
        .await;
        let taken = other.store.audit().sink_lease(SINK).await.unwrap().unwrap();
        assert!(
            taken.until - TTL.as_millis() as i64 >= expired.until,
            "taken over ({taken:?}) only after the old lease ran out ({expired:?})"
        );
        assert_exactly_once_in_order(&other.store, &receiver).await;

        // A clean shutdown releases the lease for whoever asks next.
        other.pipeline.shutdown().await;
        assert_eq!(other.store.audit().sink_lease(SINK).await.unwrap(), None);
        drop(holder);
        other.store.close().await;
    })
    .await;
    database.drop().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}
