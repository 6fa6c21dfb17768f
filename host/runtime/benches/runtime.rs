//! Runtime benchmark: what plugins cost a session, per query and per cell.
//!
//! `cargo xtask bench` (or `cargo bench -p gatehouse-runtime`). Prints p50
//! and p99 per operation beside the no-plugin baseline measured in the same
//! run, so the figures survive machines that drift.
//!
//! * open a session's plugins: access-control + guardrails (instantiate and
//!   `init` both), vs a connection without plugins;
//! * `on-query` per plugin: a minimal plugin; guardrails called on a
//!   realistic query (its keyword pre-filter proves no configured class can
//!   match, so it is not parsed); guardrails whose query filter lets the
//!   host allow that query without a call; then all three again with cold
//!   caches, as a loaded gateway makes the call (sessions in turn, memory
//!   written between calls), with the data left in L3 or nothing cached;
//! * a 1,000 × 10 text batch through a pass-through result hook and a
//!   minimal masking hook (per cell), vs a result no plugin inspects.

use gatehouse_runtime::types::*;
use gatehouse_runtime::{
    Binding, Grants, Limits, LoadedPlugin, Pipeline, Runtime, RuntimeSettings,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn component(package: &str) -> PathBuf {
    let file = gatehouse_plugin_build::wasm_file_name(package);
    if let Ok(dir) = std::env::var("GATEHOUSE_PLUGIN_DIR") {
        let path = Path::new(&dir).join(&file);
        if path.exists() {
            return path;
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    gatehouse_plugin_build::build(&root.join("Cargo.toml"), &[package], &target.join("wasm"))
        .unwrap_or_else(|e| panic!("{e}"))
        .join(file)
}

struct Stats {
    p50: Duration,
    p99: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    Stats {
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn session() -> Session {
    Session {
        id: "bench".into(),
        client_address: "127.0.0.1:5000".into(),
        verb: SessionVerb::Connect,
        identity: Identity {
            user_id: "u1".into(),
            email: "alice@example.com".into(),
            groups: vec!["engineering".into(), "dba".into()],
            role: Role::User,
        },
        connection: Connection {
            name: "billing-db.read-only".into(),
            kind: ConnectionKind::Postgres,
            resource_name: "billing-db".into(),
            attributes: vec![],
        },
        started_at: 0,
    }
}

async fn bind(runtime: &Runtime, plugin: &Arc<LoadedPlugin>, config: &str) -> Arc<Binding> {
    Arc::new(
        Binding::new(
            runtime,
            plugin.clone(),
            config,
            Grants::default(),
            Limits::default(),
        )
        .await
        .expect("bind"),
    )
}

fn batch(rows: u32, columns: u32) -> RowBatch {
    let mut batch = RowBatch {
        columns,
        rows,
        data: Vec::new(),
        cell_lengths: Vec::new(),
    };
    for row in 0..rows {
        for column in 0..columns {
            let cell = match column {
                0 => format!("{row}"),
                3 => format!("user{row}@example.com"),
                _ => format!("value {row}-{column} lorem"),
            };
            batch.data.extend_from_slice(cell.as_bytes());
            batch.cell_lengths.push(cell.len() as i32);
        }
    }
    batch
}

fn line(name: &str, s: &Stats, baseline: Option<&Stats>, per: Option<(f64, &str)>) {
    let ratio = baseline
        .map(|b| {
            format!(
                "{:>8.1}x baseline",
                s.p50.as_secs_f64() / b.p50.as_secs_f64().max(1e-9)
            )
        })
        .unwrap_or_default();
    let per = per
        .map(|(n, unit)| format!("  = {:.1} ns/{unit}", s.p50.as_nanos() as f64 / n))
        .unwrap_or_default();
    println!(
        "{name:<48} p50 {:>10.2?}  p99 {:>10.2?} {ratio}{per}",
        s.p50, s.p99
    );
}

const ITERATIONS: usize = 3_000;
/// Sessions taking turns in the cold-cache `on-query` runs (a gateway at 8
/// clients).
const SESSIONS: usize = 8;
/// Calls measured in each cold-cache run (each is preceded by an eviction).
const COLD_ITERATIONS: usize = 1_000;
/// Bytes written between two calls to leave the data in L3 only: a core's
/// L2 on the machines this runs on.
const L2_BYTES: usize = 2 << 20;
/// Bytes written between two calls to leave nothing cached: more than the
/// L3 of the machines this runs on (32 MiB).
const BEYOND_L3_BYTES: usize = 64 << 20;

/// Minor page faults of this process so far (Linux; 0 elsewhere).
fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            stat.rsplit(')')
                .next()?
                .split_whitespace()
                .nth(7)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn main() {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio.block_on(async {
        let runtime = Runtime::new(RuntimeSettings::default()).expect("runtime");
        let access = runtime.load_file(&component("access-control")).await.expect("access-control");
        let guardrails = runtime.load_file(&component("guardrails")).await.expect("guardrails");
        let sandbox = runtime.load_file(&component("sandbox-guest")).await.expect("sandbox-guest");
        let session = session();

        println!("gatehouse-runtime benchmark ({ITERATIONS} iterations each; p50/p99 per operation)\n");

        // --- instantiate a connection's plugins ---
        let empty = Pipeline::new(vec![]);
        let two = Pipeline::new(vec![
            bind(&runtime, &access, r#"{"allowed_groups": ["dba"]}"#).await,
            bind(&runtime, &guardrails, r#"{"deny_statements": ["drop", "truncate", "delete-without-where"]}"#).await,
        ]);
        let open = |pipeline: Pipeline| {
            let runtime = &runtime;
            let session = &session;
            async move {
                let mut samples = Vec::with_capacity(ITERATIONS);
                for _ in 0..ITERATIONS {
                    let t = Instant::now();
                    let plugins = pipeline.open_session(runtime, session).await.expect("open");
                    samples.push(t.elapsed());
                    drop(plugins);
                }
                stats(samples)
            }
        };
        let base_open = open(empty.clone()).await;
        let faults_before = minor_faults();
        let open_two = open(two.clone()).await;
        let faults_per_open = (minor_faults() - faults_before) as f64 / ITERATIONS as f64;
        line("open session: no plugins (baseline)", &base_open, None, None);
        line("open session: access-control + guardrails", &open_two, Some(&base_open), None);
        println!("  (page faults per open: {faults_per_open:.2})");
        println!();

        // --- on-query ---
        // `sessions` sessions take turns, and `evict_bytes` are written
        // between two calls (not timed). Hot: one session, nothing written.
        // Cold, as a gateway makes the calls: between two calls of one
        // session the kernel's socket work and the other processes have
        // evicted much of what the call touched. The size of a core's L2
        // leaves the call its data in L3; a size beyond any L3 leaves it
        // nothing cached.
        async fn queries(
            pipeline: &Pipeline,
            runtime: &Runtime,
            session: &Session,
            text: &str,
            (sessions, iterations, evict_bytes): (usize, usize, usize),
        ) -> Stats {
            let mut open = Vec::with_capacity(sessions);
            for _ in 0..sessions {
                open.push(pipeline.open_session(runtime, session).await.expect("open"));
            }
            let mut scratch = vec![1u8; evict_bytes];
            let mut samples = Vec::with_capacity(iterations);
            for i in 0..iterations as u64 {
                for line in scratch.chunks_mut(64) {
                    line[0] = line[0].wrapping_add(1);
                }
                std::hint::black_box(&scratch);
                let plugins = &mut open[i as usize % sessions];
                let mut query = Query { id: i, text: text.into(), protocol: QueryProtocol::Simple, parameters: vec![] };
                let t = Instant::now();
                let decision = plugins.on_query(&mut query).await;
                samples.push(t.elapsed());
                assert!(matches!(decision.verdict, QueryVerdict::Allow), "{decision:?}");
            }
            stats(samples)
        }
        let hot = (1, ITERATIONS, 0);
        let sql = "SELECT id, email, total FROM invoices WHERE customer_id = $1 AND status = 'open' ORDER BY id LIMIT 50";
        let minimal = Pipeline::new(vec![bind(&runtime, &sandbox, r#"{"mode": "allow"}"#).await]);
        // Guardrails with statement classes only answers the host's query
        // filter, so the query (no keyword in it) is allowed without a call;
        // with a pattern too, every text is called (and the prefilter then
        // spares the parse).
        let classes = r#""deny_statements": ["drop", "truncate", "delete-without-where"]"#;
        let guard_filtered = Pipeline::new(vec![bind(&runtime, &guardrails, &format!("{{{classes}}}")).await]);
        let guard_called =
            Pipeline::new(vec![bind(&runtime, &guardrails, &format!(r#"{{{classes}, "deny_patterns": ["pg_sleep"]}}"#)).await]);
        let plugins = [
            ("minimal plugin (call cost)", &minimal),
            ("guardrails, called (a pattern: every text; pre-filter, no parse)", &guard_called),
            ("guardrails, not called (host query filter)", &guard_filtered),
        ];
        let base_query = queries(&empty, &runtime, &session, sql, hot).await;
        line("on-query: no plugins (baseline)", &base_query, None, None);
        for (label, pipeline) in plugins {
            let stats = queries(pipeline, &runtime, &session, sql, hot).await;
            line(&format!("on-query: {label}"), &stats, Some(&base_query), None);
        }
        for (cache, evict_bytes) in [("L2-cold", L2_BYTES), ("memory-cold", BEYOND_L3_BYTES)] {
            let cold = (SESSIONS, COLD_ITERATIONS, evict_bytes);
            let base_cold = queries(&empty, &runtime, &session, sql, cold).await;
            line(&format!("on-query, {cache}: no plugins (baseline)"), &base_cold, None, None);
            for (label, pipeline) in plugins {
                let stats = queries(pipeline, &runtime, &session, sql, cold).await;
                line(&format!("on-query, {cache}: {label}"), &stats, Some(&base_cold), None);
            }
        }
        println!();

        // --- result rows ---
        async fn rows(pipeline: &Pipeline, runtime: &Runtime, session: &Session) -> Stats {
            let mut plugins = pipeline.open_session(runtime, session).await.expect("open");
            let columns: Vec<Column> = (0..10)
                .map(|i| Column { name: format!("c{i}"), type_oid: 25, type_name: "text".into(), format: CellFormat::Text })
                .collect();
            let template = batch(1_000, 10);
            let mut samples = Vec::with_capacity(ITERATIONS / 10);
            for i in 0..(ITERATIONS / 10) as u64 {
                let mut batch = template.clone();
                let t = Instant::now();
                if plugins.on_result_start(i, &columns).await.expect("start") {
                    plugins.on_result_rows(&mut batch).await.expect("rows");
                }
                plugins.on_result_end(&ResultSummary { command_tag: "SELECT 1000".into(), rows: 1000 }).await.expect("end");
                samples.push(t.elapsed());
            }
            stats(samples)
        }
        let pass = Pipeline::new(vec![bind(&runtime, &sandbox, r#"{"mode": "pass-rows"}"#).await]);
        let mask = Pipeline::new(vec![bind(&runtime, &sandbox, r#"{"mode": "mask-rows"}"#).await]);
        let base_rows = rows(&empty, &runtime, &session).await;
        let pass_rows = rows(&pass, &runtime, &session).await;
        let mask_rows = rows(&mask, &runtime, &session).await;
        line("1000x10 batch: no plugin inspects (baseline)", &base_rows, None, Some((10_000.0, "cell")));
        line("1000x10 batch: pass-through result hook", &pass_rows, Some(&base_rows), Some((10_000.0, "cell")));
        line("1000x10 batch: minimal masking hook", &mask_rows, Some(&base_rows), Some((10_000.0, "cell")));
        println!("\ntargets: open ≤ 30 µs p50; on-query ≤ 1.5 µs p50 per plugin; result hook ≤ 100 ns per cell");
    });
}
