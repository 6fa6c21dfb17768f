//! `gatehouse tokens …`: access tokens, the API bearer and the database
//! password. `create` shows the token once (stdout, so it can be piped);
//! listings show only the display prefix. Everyone manages their own
//! tokens; admins anyone's (`--user`).
//!
//! `generate` is the offline command for config files (formerly
//! `tokens new`, still accepted): a random token and the SHA-256 to put in
//! a `[[users]]` block's `token_sha256`. It talks to no gateway.

use super::output::{Table, field, print_fields, time_field};
use super::{Ctx, input, local};
use clap::Subcommand;
use serde_json::{Value, json};
use std::time::Duration;

#[derive(Subcommand)]
pub enum Command {
    /// List your access tokens (admins: anyone's with --user).
    #[command(visible_alias = "list")]
    Ls {
        /// Whose tokens (id or email; admins).
        #[arg(long)]
        user: Option<String>,
    },
    /// Create an access token; it is printed once.
    Create {
        /// A name unique among the user's tokens, e.g. laptop.
        name: String,
        /// Lifetime, e.g. 90d or 12h (default: never expires).
        #[arg(long, value_parser = input::duration)]
        expires_in: Option<Duration>,
        /// For whom (id or email; admins). Default: you.
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke an access token at once (its id from `tokens ls`).
    #[command(visible_alias = "rm")]
    Revoke { id: i64 },
    /// Offline: print a random token and its SHA-256 for a config file's `token_sha256`.
    #[command(visible_alias = "new")]
    Generate,
}

fn print_list(list: &Value) {
    let mut table = Table::new(&["ID", "NAME", "PREFIX", "CREATED", "LAST USED", "EXPIRES"]);
    for t in super::output::items(list) {
        table.row(vec![
            field(t, "id"),
            field(t, "name"),
            format!("{}…", field(t, "prefix")),
            time_field(t, "created_at"),
            time_field(t, "last_used_at"),
            match t["expires_at"].as_i64() {
                Some(_) => time_field(t, "expires_at"),
                None => "never".into(),
            },
        ]);
    }
    table.print();
}

pub async fn run(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    if let Command::Generate = command {
        local::generate_token(ctx);
        return Ok(());
    }
    let api = ctx.client()?;
    match command {
        Command::Generate => unreachable!("handled above"),
        Command::Ls { user } => {
            let list = api.get_query(&["api", "tokens"], &[("user", user)]).await?;
            ctx.out.show(&list, print_list);
        }
        Command::Create {
            name,
            expires_in,
            user,
        } => {
            let mut body = json!({ "name": name });
            if let Some(ttl) = expires_in {
                body["expires_in_secs"] = json!(ttl.as_secs());
            }
            if let Some(user) = user {
                body["user"] = json!(user);
            }
            let created = api.post(&["api", "tokens"], &body).await?;
            ctx.out.show(&created, |t| {
                println!("{}", field(t, "token"));
                eprintln!();
                print_fields(&[
                    ("id", field(t, "id")),
                    ("name", field(t, "name")),
                    ("user", field(t, "email")),
                    (
                        "expires",
                        match t["expires_at"].as_i64() {
                            Some(_) => time_field(t, "expires_at"),
                            None => "never".into(),
                        },
                    ),
                ]);
                eprintln!(
                    "\nThe token above is shown only now. It is the API bearer token and the \
                     database password (user {}).",
                    field(t, "email")
                );
            });
        }
        Command::Revoke { id } => {
            api.delete(&["api", "tokens", &id.to_string()]).await?;
            ctx.out.note(format!("Revoked token {id}."));
        }
    }
    Ok(())
}
