//! A plugin that does, on request, everything a plugin must not get away
//! with. The `mode` in its config picks the behaviour; the query text is
//! the argument (a path, an address, a URL …). Probes report what happened
//! as a deny reason (`… ok` or `… failed: <error>`) so tests can read it.
//!
//! Test-only: it exists to prove the sandbox and the fail-closed rules.

// Natively (a workspace build or clippy) the export is compiled out, so the
// plugin's private types look unused there.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use gatehouse_sdk::prelude::*;
use gatehouse_sdk::{http, kv, now_millis};
use serde::Deserialize;

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    /// Allow everything; inspect nothing.
    Allow,
    /// Spin forever in on-query.
    Loop,
    /// Allocate until something stops us.
    MemoryBomb,
    /// Panic in on-query.
    Panic,
    /// Busy-wait for `<query text>` milliseconds, then allow.
    Busy,
    /// Read the file named by the query text.
    ReadFile,
    /// Write to the file named by the query text.
    WriteFile,
    /// Open a TCP connection to the address in the query text.
    OpenSocket,
    /// Report the environment and arguments.
    Env,
    /// Report the clock, from the host import and from std.
    Clock,
    /// GET the URL in the query text.
    Http,
    /// Store the query text under a key and read it back.
    Kv,
    /// Answer on-query with an empty rewrite.
    RewriteEmpty,
    /// Rewrite every query to `select 1`.
    Rewrite,
    /// Hold every query for review by the `dba-approvers` group.
    Review,
    /// Inspect rows without changing them.
    PassRows,
    /// Replace every cell containing '@' with "***".
    MaskRows,
    /// Edit a cell outside the batch.
    BadEdits,
    /// Fail in `new`.
    FailInit,
    /// Ask for queries holding `drop` only (query filter), and deny every
    /// query seen, quoting it.
    DenySeenDrops,
    /// Answer the query filter with a keyword the contract refuses.
    BadKeywords,
    /// Panic in the query filter.
    PanicKeywords,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    mode: Mode,
}

struct Sandbox {
    mode: Mode,
    masked: u64,
}

fn report<E: std::fmt::Debug>(what: &str, result: Result<String, E>) -> QueryVerdict {
    match result {
        Ok(detail) => QueryVerdict::Deny(format!("{what} ok: {detail}")),
        Err(err) => QueryVerdict::Deny(format!("{what} failed: {err:?}")),
    }
}

#[gatehouse_sdk::plugin]
impl Plugin for Sandbox {
    type Config = Config;
    const DESCRIPTION: &'static str = "test-only misbehaving plugin";
    const CAPABILITIES: &'static [Capability] = &[
        Capability::HttpOutbound,
        Capability::Files,
        Capability::KeyValue,
    ];

    fn new(config: Config) -> Result<Self, String> {
        if config.mode == Mode::FailInit {
            return Err("refusing to start, as asked".into());
        }
        Ok(Self {
            mode: config.mode,
            masked: 0,
        })
    }

    fn on_connect(&mut self, _session: &Session) -> ConnectVerdict {
        ConnectVerdict::Allow
    }

    fn on_query_keywords(&self, _session: &Session) -> Option<Vec<String>> {
        match self.mode {
            Mode::DenySeenDrops => Some(vec!["drop".into()]),
            Mode::BadKeywords => Some(vec!["drop table".into()]),
            Mode::PanicKeywords => panic!("no keywords today"),
            _ => None,
        }
    }

    fn on_query(&mut self, _session: &Session, query: &Query) -> QueryVerdict {
        let arg = query.text.as_str();
        match self.mode {
            Mode::Allow
            | Mode::PassRows
            | Mode::MaskRows
            | Mode::BadEdits
            | Mode::FailInit
            | Mode::BadKeywords
            | Mode::PanicKeywords => QueryVerdict::Allow,
            Mode::DenySeenDrops => QueryVerdict::Deny(format!("sandbox saw {arg:?}")),
            Mode::Loop => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            Mode::MemoryBomb => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![7u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            Mode::Panic => panic!("boom on {arg}"),
            Mode::Busy => {
                let millis: u64 = arg.parse().unwrap_or(0);
                let start = std::time::Instant::now();
                while start.elapsed().as_millis() < u128::from(millis) {
                    std::hint::spin_loop();
                }
                QueryVerdict::Allow
            }
            Mode::ReadFile => report(
                "read",
                std::fs::read_to_string(arg).map(|s| s.len().to_string()),
            ),
            Mode::WriteFile => report(
                "write",
                std::fs::write(arg, b"written by plugin").map(|_| String::new()),
            ),
            Mode::OpenSocket => report(
                "connect",
                std::net::TcpStream::connect(arg).map(|_| String::new()),
            ),
            Mode::Env => {
                let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                let args: Vec<String> = std::env::args().collect();
                QueryVerdict::Deny(format!("env: {vars:?} args: {args:?}"))
            }
            Mode::Clock => {
                let std_now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or(0);
                QueryVerdict::Deny(format!("host {} std {std_now}", now_millis()))
            }
            Mode::Http => report(
                "http",
                http::send(&http::Request {
                    method: "GET".into(),
                    url: arg.into(),
                    headers: vec![],
                    body: vec![],
                })
                .map(|r| format!("{} {}", r.status, String::from_utf8_lossy(&r.body))),
            ),
            Mode::Kv => report(
                "kv",
                kv::set("probe", arg.as_bytes())
                    .and_then(|_| kv::get("probe"))
                    .map(|v| String::from_utf8_lossy(&v.unwrap_or_default()).into_owned()),
            ),
            Mode::RewriteEmpty => QueryVerdict::Rewrite(String::new()),
            Mode::Rewrite => QueryVerdict::Rewrite("select 1".into()),
            Mode::Review => QueryVerdict::Review(gatehouse_sdk::ReviewRequest {
                reason: "production data".into(),
                approver_groups: vec!["dba-approvers".into()],
            }),
        }
    }

    fn on_result_start(
        &mut self,
        _session: &Session,
        _query_id: u64,
        _columns: &[Column],
    ) -> ResultPlan {
        match self.mode {
            Mode::PassRows | Mode::MaskRows | Mode::BadEdits => ResultPlan::Inspect,
            _ => ResultPlan::Pass,
        }
    }

    fn on_result_rows(&mut self, _session: &Session, rows: &mut Rows<'_>) {
        match self.mode {
            Mode::MaskRows => {
                let hits: Vec<(u32, u32)> = rows
                    .cells()
                    .filter(|cell| cell.value.is_some_and(|v| v.contains(&b'@')))
                    .map(|cell| (cell.row, cell.column))
                    .collect();
                self.masked += hits.len() as u64;
                for (row, column) in hits {
                    rows.set(row, column, Some(b"***".to_vec()));
                }
            }
            Mode::BadEdits => rows.set(999, 0, None),
            _ => {}
        }
    }

    fn on_result_end(&mut self, _session: &Session, _summary: &ResultSummary) -> Vec<Counter> {
        vec![Counter {
            name: "masked".into(),
            value: std::mem::take(&mut self.masked),
        }]
    }
}
