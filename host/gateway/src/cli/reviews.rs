//! `gatehouse reviews …`: reviews the caller may see (admins: all; others:
//! ones they requested or whose approver groups include theirs). Read-only
//! for now: approve, reject and revoke arrive with the review workflow
//! (the API already routes them and answers 501 until then) as further
//! variants of [`Command`].

use super::Ctx;
use super::output::{Table, field, print_fields, time_field};
use super::sessions::{PageArgs, next_page_hint};
use clap::{Subcommand, ValueEnum};
use serde_json::Value;

#[derive(Subcommand)]
pub enum Command {
    /// List reviews, newest first.
    #[command(visible_alias = "list")]
    Ls {
        /// Only these states (repeat or comma-separate): pending, approved, rejected, …
        #[arg(long, value_delimiter = ',')]
        state: Vec<String>,
        /// Only this connection's (`resource.role`).
        #[arg(long)]
        connection: Option<String>,
        #[arg(long, value_enum)]
        kind: Option<Kind>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show a review with its decisions.
    #[command(visible_alias = "get")]
    Show { id: String },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Kind {
    /// One held query.
    OneTime,
    /// Just-in-time access for a while.
    Jit,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::OneTime => "one-time",
            Kind::Jit => "jit",
        }
    }
}

fn print_list(page: &Value) {
    let mut table = Table::new(&[
        "ID",
        "KIND",
        "STATE",
        "CONNECTION",
        "REQUESTER",
        "CREATED",
        "EXPIRES",
        "REASON",
    ]);
    for r in super::output::items(page) {
        table.row(vec![
            field(r, "id"),
            field(r, "kind"),
            field(r, "state"),
            field(r, "connection"),
            field(&r["requester"], "email"),
            time_field(r, "created_at"),
            time_field(r, "expires_at"),
            field(r, "reason"),
        ]);
    }
    table.print();
}

fn print_one(r: &Value) {
    let mut fields = vec![
        ("id", field(r, "id")),
        ("kind", field(r, "kind")),
        ("state", field(r, "state")),
        ("connection", field(r, "connection")),
        ("requester", field(&r["requester"], "email")),
        ("session", field(r, "session_id")),
        ("reason", field(r, "reason")),
        ("approvers", field(r, "approver_groups")),
        ("created", time_field(r, "created_at")),
        ("expires", time_field(r, "expires_at")),
        ("version", field(r, "version")),
    ];
    if !r["duration_minutes"].is_null() {
        fields.push(("duration", format!("{} min", field(r, "duration_minutes"))));
    }
    if !r["query"].is_null() {
        fields.push(("query", field(r, "query")));
    }
    print_fields(&fields);
    let decisions = super::output::items(&r["decisions"]);
    if !decisions.is_empty() {
        println!();
        let mut table = Table::new(&["AT", "APPROVER", "DECISION", "COMMENT"]);
        for d in decisions {
            table.row(vec![
                time_field(d, "at"),
                field(&d["approver"], "email"),
                match d["approved"].as_bool() {
                    Some(true) => "approved".into(),
                    _ => "rejected".into(),
                },
                field(d, "comment"),
            ]);
        }
        table.print();
    }
}

pub async fn run(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    let api = ctx.client()?;
    match command {
        Command::Ls {
            state,
            connection,
            kind,
            page,
        } => {
            let mut query = vec![
                ("state", (!state.is_empty()).then(|| state.join(","))),
                ("connection", connection),
                ("kind", kind.map(|k| k.as_str().to_string())),
            ];
            query.extend(page.query());
            let list = api.pages(&["api", "reviews"], query, page.all).await?;
            ctx.out.show(&list, print_list);
            next_page_hint(ctx, &list);
        }
        Command::Show { id } => {
            let review = api.get(&["api", "reviews", &id]).await?;
            ctx.out.show(&review, print_one);
        }
    }
    Ok(())
}
