//! `gatehouse reviews …`: reviews the caller may see (admins: all; others:
//! ones they requested or whose approver groups include theirs); approvers
//! approve or reject those assigned to their groups, requesters withdraw
//! (revoke) theirs, and users request time-bound (JIT) access.

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
    /// Approve a review assigned to one of your groups.
    Approve {
        id: String,
        #[arg(long, short)]
        comment: Option<String>,
    },
    /// Reject a review assigned to one of your groups (one rejection wins).
    Reject {
        id: String,
        #[arg(long, short)]
        comment: Option<String>,
    },
    /// Withdraw your request, or end access granted by it.
    Revoke { id: String },
    /// Ask for time-bound access to a connection that requires it.
    Request {
        /// `resource.role`.
        connection: String,
        /// Minutes of access once approved.
        #[arg(long)]
        minutes: u32,
        #[arg(long, short)]
        reason: Option<String>,
    },
    /// The stored output of an exec that ran after approval.
    Result { id: String },
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
        Command::Approve { id, comment } => {
            let body = serde_json::json!({ "comment": comment.unwrap_or_default() });
            let review = api.post(&["api", "reviews", &id, "approve"], &body).await?;
            ctx.out.show(&review, print_one);
        }
        Command::Reject { id, comment } => {
            let body = serde_json::json!({ "comment": comment.unwrap_or_default() });
            let review = api.post(&["api", "reviews", &id, "reject"], &body).await?;
            ctx.out.show(&review, print_one);
        }
        Command::Revoke { id } => {
            let review = api.post_empty(&["api", "reviews", &id, "revoke"]).await?;
            ctx.out.show(&review, print_one);
        }
        Command::Request {
            connection,
            minutes,
            reason,
        } => {
            let body = serde_json::json!({
                "kind": "jit",
                "connection": connection,
                "duration_minutes": minutes,
                "reason": reason.unwrap_or_default(),
            });
            let review = api.post(&["api", "reviews"], &body).await?;
            ctx.out.show(&review, print_one);
            ctx.out.note(format!(
                "requested: review {} waits for an approver",
                field(&review, "id")
            ));
        }
        Command::Result { id } => {
            let output = api.get(&["api", "reviews", &id, "result"]).await?;
            ctx.out.show(&output, |value| {
                super::exec::print_output(&value["output"], super::exec::Format::Table)
            });
        }
    }
    Ok(())
}
