//! Masking throughput: cells per second through the result hooks for a
//! realistic 10-column result, with no plugin, a pass-through plugin and
//! data-masking (every built-in detector on).
//!
//! `cargo bench -p data-masking` (or with `GATEHOUSE_PLUGIN_DIR` set to
//! prebuilt components). A bench binary, not a timed test: it prints
//! figures and ratios and asserts nothing.
//!
//! The result: 512-row batches (the gateway's batch size) of
//! `id int8, customer text, email text, phone text, created_at timestamptz,
//! status text, amount numeric, notes text, country text, order_ref text`.
//! Notes are free text, one in ten holding an e-mail address or a phone
//! number. Cells are sent as text, as psql receives them. A second run types
//! all ten columns `text`, so no column is skipped by its type: the cost of
//! scanning every cell. The native figure is the same masking code outside
//! the sandbox, for scale.

use data_masking::{Config, Masker};
use gatehouse_runtime::types::*;
use gatehouse_runtime::{
    Binding, Grants, Limits, LoadedPlugin, Pipeline, Runtime, RuntimeSettings,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROWS: u32 = 512;
const COLUMNS: u32 = 10;
const ROUNDS: usize = 400;

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

fn session() -> Session {
    Session {
        id: "bench".into(),
        client_address: "127.0.0.1:5000".into(),
        verb: SessionVerb::Connect,
        identity: Identity {
            user_id: "u1".into(),
            email: "alice@example.com".into(),
            groups: vec!["analysts".into()],
            role: Role::User,
        },
        connection: Connection {
            name: "shop-db.read-only".into(),
            kind: ConnectionKind::Postgres,
            resource_name: "shop-db".into(),
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

fn columns(all_text: bool) -> Vec<Column> {
    let typed = [
        ("id", 20, "int8"),
        ("customer", 25, "text"),
        ("email", 25, "text"),
        ("phone", 25, "text"),
        ("created_at", 1184, "timestamptz"),
        ("status", 25, "text"),
        ("amount", 1700, "numeric"),
        ("notes", 25, "text"),
        ("country", 25, "text"),
        ("order_ref", 25, "text"),
    ];
    typed
        .iter()
        .map(|&(name, oid, type_name)| Column {
            name: name.into(),
            type_oid: if all_text { 25 } else { oid },
            type_name: if all_text {
                "text".into()
            } else {
                type_name.into()
            },
            format: CellFormat::Text,
        })
        .collect()
}

const FIRST: &[&str] = &[
    "Ann", "Bob", "Chloé", "Dieter", "Eva", "Farid", "Grace", "Hugo", "Ines", "Jan",
];
const LAST: &[&str] = &[
    "Smith", "Müller", "Dubois", "de Vries", "García", "Rossi", "Jones", "Novak",
];
const STATUS: &[&str] = &["pending", "paid", "shipped", "delivered", "refunded"];
const COUNTRY: &[&str] = &[
    "United Kingdom",
    "Deutschland",
    "France",
    "Nederland",
    "España",
    "USA",
];
const NOTES: &[&str] = &[
    "Customer asked to deliver after 5pm, leave at the door",
    "Gift wrap requested",
    "Replacement for order shipped last week; see ticket",
    "Address verified by phone",
    "",
    "Paid by bank transfer, reference on invoice",
    "Fragile: glassware",
];

fn batch() -> RowBatch {
    let mut batch = RowBatch {
        columns: COLUMNS,
        rows: ROWS,
        data: Vec::new(),
        cell_lengths: Vec::new(),
    };
    for row in 0..ROWS as usize {
        let first = FIRST[row % FIRST.len()];
        let last = LAST[(row / 3) % LAST.len()];
        let notes = match row % 10 {
            3 => format!(
                "Contact {}.{}@example.org before shipping",
                first.to_lowercase(),
                row
            ),
            7 => format!("Call back on +44 20 7946 {:04}", row % 10_000),
            _ => NOTES[row % NOTES.len()].to_string(),
        };
        let cells = [
            format!("{}", 100_000 + row),
            format!("{first} {last}"),
            format!(
                "{}.{}{row}@mail.example.com",
                first.to_lowercase(),
                last.to_lowercase().replace(' ', "")
            ),
            format!("+1 415 555 {:04}", row % 10_000),
            format!("2025-03-{:02} 14:{:02}:07.123+00", 1 + row % 28, row % 60),
            STATUS[row % STATUS.len()].to_string(),
            format!("{}.{:02}", 10 + row % 900, row % 100),
            notes,
            COUNTRY[row % COUNTRY.len()].to_string(),
            format!("ORD-2025-{:06}", row),
        ];
        for cell in cells {
            batch.data.extend_from_slice(cell.as_bytes());
            batch.cell_lengths.push(cell.len() as i32);
        }
    }
    batch
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Median time of start + rows + end for one batch.
async fn measure(pipeline: &Pipeline, runtime: &Runtime, all_text: bool) -> Duration {
    let mut plugins = pipeline
        .open_session(runtime, &session())
        .await
        .expect("open");
    let columns = columns(all_text);
    let template = batch();
    let mut samples = Vec::with_capacity(ROUNDS);
    for i in 0..ROUNDS as u64 {
        let mut batch = template.clone();
        let t = Instant::now();
        if plugins.on_result_start(i, &columns).await.expect("start") {
            plugins.on_result_rows(&mut batch).await.expect("rows");
        }
        plugins
            .on_result_end(&ResultSummary {
                command_tag: format!("SELECT {ROWS}"),
                rows: ROWS as u64,
            })
            .await
            .expect("end");
        samples.push(t.elapsed());
    }
    median(samples)
}

fn native(all_text: bool) -> Duration {
    let config: Config = gatehouse_sdk::parse_config("{}").unwrap();
    let mut masker = Masker::new(config.policy().unwrap());
    let columns: Vec<gatehouse_sdk::Column> = columns(all_text)
        .into_iter()
        .map(|c| gatehouse_sdk::Column {
            name: c.name,
            type_oid: c.type_oid,
            type_name: c.type_name,
            format: gatehouse_sdk::CellFormat::Text,
        })
        .collect();
    let batch = batch();
    let mut samples = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        masker.start(gatehouse_sdk::ConnectionKind::Postgres, &columns);
        let mut offset = 0;
        let mut edits = 0usize;
        for (i, &len) in batch.cell_lengths.iter().enumerate() {
            let value = (len >= 0).then(|| &batch.data[offset..offset + len as usize]);
            offset += len.max(0) as usize;
            edits += masker.mask(i % COLUMNS as usize, value).is_some() as usize;
        }
        std::hint::black_box(edits);
        std::hint::black_box(masker.take_counters());
        samples.push(t.elapsed());
    }
    median(samples)
}

fn main() {
    let cells = (ROWS * COLUMNS) as f64;
    let per_second = |d: Duration| cells / d.as_secs_f64();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio.block_on(async {
        let runtime = Runtime::new(RuntimeSettings::default()).expect("runtime");
        let masking = runtime.load_file(&component("data-masking")).await.expect("data-masking");
        let sandbox = runtime.load_file(&component("sandbox-guest")).await.expect("sandbox-guest");
        let none = Pipeline::new(vec![]);
        let pass = Pipeline::new(vec![bind(&runtime, &sandbox, r#"{"mode": "pass-rows"}"#).await]);
        let mask = Pipeline::new(vec![bind(&runtime, &masking, "{}").await]);

        println!(
            "data-masking benchmark: {ROWS}x{COLUMNS} text-format batches, median of {ROUNDS} (start + rows + end)\n"
        );
        let base = measure(&none, &runtime, false).await;
        let through = measure(&pass, &runtime, false).await;
        let typed = measure(&mask, &runtime, false).await;
        let all_text = measure(&mask, &runtime, true).await;
        let native_typed = native(false);
        let native_text = native(true);
        let line = |name: &str, d: Duration| {
            println!(
                "{name:<52} {:>9.1} µs/batch {:>7.1} ns/cell {:>7.2} M cells/s",
                d.as_secs_f64() * 1e6,
                d.as_secs_f64() * 1e9 / cells,
                per_second(d) / 1e6
            );
        };
        line("no plugin", base);
        line("pass-through plugin (sandbox-guest pass-rows)", through);
        line("data-masking, realistic column types", typed);
        line("data-masking, all ten columns text (all scanned)", all_text);
        line("  same code natively, realistic types (no sandbox)", native_typed);
        line("  same code natively, all text", native_text);
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
        println!();
        println!("data-masking / pass-through: {:.1}x (realistic types), {:.1}x (all text)", ratio(typed, through), ratio(all_text, through));
        println!("data-masking / no plugin:    {:.1}x (realistic types), {:.1}x (all text)", ratio(typed, base), ratio(all_text, base));
        println!("sandbox / native masking:    {:.1}x", ratio(typed, native_typed));
        println!(
            "\ntarget: ≥ 2 M cells/s per core with detection on: {} (realistic types {:.2} M/s, all text {:.2} M/s)",
            if per_second(typed) >= 2e6 && per_second(all_text) >= 2e6 { "met" } else { "NOT met" },
            per_second(typed) / 1e6,
            per_second(all_text) / 1e6
        );
    });
}
