//! `gatehouse audit …` (admins): the audit log, newest first, and one event
//! with its before/after snapshots (never secrets).

use super::output::{Table, field, print_fields, time_field};
use super::sessions::{PageArgs, next_page_hint};
use super::{Ctx, input};
use clap::Subcommand;
use serde_json::Value;

#[derive(Subcommand)]
pub enum Command {
    /// List audit events, newest first.
    #[command(visible_alias = "list")]
    Ls {
        /// admin, review, authentication, session, query, plugin.
        #[arg(long)]
        category: Option<String>,
        /// e.g. connection.update, plugin.install.
        #[arg(long)]
        action: Option<String>,
        /// The actor's user id (`whoami`'s id) or system:<component>.
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        connection: Option<String>,
        #[arg(long)]
        session: Option<String>,
        /// At or after: a duration ago (2h, 7d) or Unix ms.
        #[arg(long, value_parser = input::time)]
        since: Option<i64>,
        /// Before: a duration ago or Unix ms.
        #[arg(long, value_parser = input::time)]
        until: Option<i64>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one event (by sequence number).
    #[command(visible_alias = "get")]
    Show { sequence: i64 },
}

fn actor(e: &Value) -> String {
    match e["actor"].as_object() {
        Some(_) => {
            let email = field(&e["actor"], "email");
            if email == "-" {
                field(&e["actor"], "user_id")
            } else {
                email
            }
        }
        None => "-".into(),
    }
}

fn print_list(page: &Value) {
    let mut table = Table::new(&[
        "SEQ", "TIME", "ACTOR", "ACTION", "OUTCOME", "TARGET", "FROM",
    ]);
    for e in super::output::items(page) {
        table.row(vec![
            field(e, "sequence"),
            time_field(e, "time"),
            actor(e),
            field(e, "action"),
            field(e, "outcome"),
            field(e, "target"),
            field(e, "client_address"),
        ]);
    }
    table.print();
}

fn print_one(e: &Value) {
    print_fields(&[
        ("sequence", field(e, "sequence")),
        ("time", time_field(e, "time")),
        ("category", field(e, "category")),
        ("action", field(e, "action")),
        ("outcome", field(e, "outcome")),
        ("actor", actor(e)),
        ("from", field(e, "client_address")),
        ("target", field(e, "target")),
        ("connection", field(e, "connection")),
        ("session", field(e, "session_id")),
        ("reason", field(e, "reason")),
        ("before", field(e, "before")),
        ("after", field(e, "after")),
    ]);
}

pub async fn run(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    let api = ctx.client()?;
    match command {
        Command::Ls {
            category,
            action,
            actor,
            connection,
            session,
            since,
            until,
            page,
        } => {
            let mut query = vec![
                ("category", category),
                ("action", action),
                ("actor", actor),
                ("connection", connection),
                ("session", session),
                ("since", since.map(|t| t.to_string())),
                ("until", until.map(|t| t.to_string())),
            ];
            query.extend(page.query());
            let list = api.pages(&["api", "audit"], query, page.all).await?;
            ctx.out.show(&list, print_list);
            next_page_hint(ctx, &list);
        }
        Command::Show { sequence } => {
            let event = api.get(&["api", "audit", &sequence.to_string()]).await?;
            ctx.out.show(&event, print_one);
        }
    }
    Ok(())
}
