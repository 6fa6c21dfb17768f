//! `gatehouse sessions …`: recorded sessions, newest first, and one
//! session with its queries and verdicts. Users see their own sessions;
//! admins everyone's. Lists come in pages: the cursor of the next page is
//! printed on stderr (`--next`), `--all` follows every page.

use super::output::{Table, field, format_duration_ms, print_fields, time_field};
use super::{Ctx, input};
use clap::{Subcommand, ValueEnum};
use serde_json::Value;

#[derive(Subcommand)]
pub enum Command {
    /// List sessions, newest first.
    #[command(visible_alias = "list")]
    Ls {
        /// Only this user's (email).
        #[arg(long)]
        user: Option<String>,
        /// Only this connection's (`resource.role`).
        #[arg(long)]
        connection: Option<String>,
        /// Started at or after: a duration ago (2h, 7d) or Unix ms.
        #[arg(long, value_parser = input::time)]
        since: Option<i64>,
        /// Started before: a duration ago or Unix ms.
        #[arg(long, value_parser = input::time)]
        until: Option<i64>,
        /// Only sessions with at least one query of this verdict.
        #[arg(long, value_enum)]
        verdict: Option<Verdict>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show a session and its queries.
    #[command(visible_alias = "get")]
    Show {
        id: String,
        /// Events after this sequence number.
        #[arg(long)]
        after: Option<u64>,
        /// At most this many events (1–1000, default 100).
        #[arg(long)]
        limit: Option<u32>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Verdict {
    Allowed,
    Rewritten,
    Denied,
    Review,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Rewritten => "rewritten",
            Verdict::Denied => "denied",
            Verdict::Review => "review",
        }
    }
}

/// Paging options of every paged list.
#[derive(clap::Args)]
pub struct PageArgs {
    /// Items per page (1–1000, default 50).
    #[arg(long)]
    pub limit: Option<u32>,
    /// The cursor of the page to show (printed after the previous page).
    #[arg(long, conflicts_with = "all")]
    pub next: Option<String>,
    /// Every page.
    #[arg(long)]
    pub all: bool,
}

impl PageArgs {
    pub fn query(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("limit", self.limit.map(|l| l.to_string())),
            ("next", self.next.clone()),
        ]
    }
}

/// The hint for the next page (stderr).
pub fn next_page_hint(ctx: &Ctx, page: &Value) {
    if let Some(next) = page["next"].as_str()
        && !ctx.out.json
    {
        ctx.out.note(format!("More: add --next {next} (or --all)."));
    }
}

fn duration(s: &Value) -> String {
    match s["duration_ms"].as_u64() {
        Some(ms) => format_duration_ms(ms),
        None if s["ended_at"].is_null() => "live".into(),
        None => "-".into(),
    }
}

fn print_list(page: &Value) {
    let mut table = Table::new(&[
        "ID",
        "USER",
        "CONNECTION",
        "STARTED",
        "DURATION",
        "QUERIES",
        "DENIED",
        "ROWS",
        "CLIENT",
    ]);
    for s in super::output::items(page) {
        table.row(vec![
            field(s, "id"),
            field(s, "email"),
            field(s, "connection"),
            time_field(s, "started_at"),
            duration(s),
            field(s, "queries"),
            field(s, "denied"),
            field(s, "rows"),
            field(s, "client_address"),
        ]);
    }
    table.print();
}

fn print_one(detail: &Value) {
    let s = &detail["session"];
    print_fields(&[
        ("id", field(s, "id")),
        ("user", field(s, "email")),
        ("connection", field(s, "connection")),
        ("client", field(s, "client_address")),
        ("started", time_field(s, "started_at")),
        ("ended", time_field(s, "ended_at")),
        ("duration", duration(s)),
        (
            "queries",
            format!(
                "{} ({} denied, {} rows)",
                field(s, "queries"),
                field(s, "denied"),
                field(s, "rows")
            ),
        ),
    ]);
    let events = super::output::items(&detail["events"]);
    if events.is_empty() {
        return;
    }
    println!();
    let mut table = Table::new(&[
        "SEQ",
        "AT",
        "VERDICT",
        "TIME",
        "ROWS",
        "BY",
        "QUERY / REASON",
    ]);
    for e in events {
        let query = field(e, "query");
        let what = match e["reason"].as_str().filter(|r| !r.is_empty()) {
            Some(reason) => format!("{query}  → {reason}"),
            None => query,
        };
        table.row(vec![
            field(e, "seq"),
            time_field(e, "at"),
            field(e, "verdict"),
            e["duration_us"]
                .as_u64()
                .map(|us| format!("{:.1} ms", us as f64 / 1000.0))
                .unwrap_or_default(),
            field(e, "rows"),
            field(e, "decided_by"),
            what,
        ]);
    }
    table.print();
}

pub async fn run(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    let api = ctx.client()?;
    match command {
        Command::Ls {
            user,
            connection,
            since,
            until,
            verdict,
            page,
        } => {
            let mut query = vec![
                ("user", user),
                ("connection", connection),
                ("since", since.map(|t| t.to_string())),
                ("until", until.map(|t| t.to_string())),
                ("verdict", verdict.map(|v| v.as_str().to_string())),
            ];
            query.extend(page.query());
            let list = api.pages(&["api", "sessions"], query, page.all).await?;
            ctx.out.show(&list, print_list);
            next_page_hint(ctx, &list);
        }
        Command::Show { id, after, limit } => {
            let detail = api
                .get_query(
                    &["api", "sessions", &id],
                    &[
                        ("after", after.map(|a| a.to_string())),
                        ("limit", limit.map(|l| l.to_string())),
                    ],
                )
                .await?;
            ctx.out.show(&detail, print_one);
            if let Some(after) = detail["next_after"].as_u64()
                && !ctx.out.json
            {
                ctx.out.note(format!("More events: add --after {after}."));
            }
        }
    }
    Ok(())
}
