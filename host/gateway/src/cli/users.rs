//! `gatehouse users …` (admins): local and SSO users, their role and
//! groups. A user is named by id or email everywhere.

use super::Ctx;
use super::output::{Table, field, print_fields, time_field};
use clap::{Subcommand, ValueEnum};
use serde_json::{Map, Value, json};

#[derive(Subcommand)]
pub enum Command {
    /// List users.
    #[command(visible_alias = "list")]
    Ls,
    /// Show a user (id or email).
    #[command(visible_alias = "get")]
    Show { user: String },
    /// Create a local user (give them a token with `gatehouse tokens create --user`).
    Create {
        email: String,
        #[arg(long, value_enum)]
        role: Role,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
        /// A group (repeat); missing groups are created.
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
    },
    /// Change a user's email, name or role, or disable them.
    Update {
        user: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_enum)]
        role: Option<Role>,
        /// Refuse the user's API and database access at once.
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        #[arg(long)]
        enable: bool,
    },
    /// Replace a user's groups (none given: no groups).
    SetGroups { user: String, groups: Vec<String> },
    /// Delete a user and their tokens.
    #[command(visible_alias = "delete")]
    Rm { user: String },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Role {
    Admin,
    User,
    Approver,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
            Role::Approver => "approver",
        }
    }
}

fn status(u: &Value) -> String {
    if u["disabled"].as_bool() == Some(true) {
        "disabled".into()
    } else {
        "active".into()
    }
}

fn print_list(list: &Value) {
    let mut table = Table::new(&["ID", "EMAIL", "NAME", "ROLE", "GROUPS", "STATUS", "SSO"]);
    for u in super::output::items(list) {
        table.row(vec![
            field(u, "id"),
            field(u, "email"),
            field(u, "display_name"),
            field(u, "role"),
            field(u, "groups"),
            status(u),
            if u["oidc"].is_object() { "yes" } else { "no" }.into(),
        ]);
    }
    table.print();
}

fn print_one(u: &Value) {
    let sso = match u["oidc"].as_object() {
        Some(o) => format!(
            "{} (subject {})",
            super::output::text(&o["issuer"]),
            super::output::text(&o["subject"])
        ),
        None => "-".into(),
    };
    print_fields(&[
        ("id", field(u, "id")),
        ("email", field(u, "email")),
        ("name", field(u, "display_name")),
        ("role", field(u, "role")),
        ("groups", field(u, "groups")),
        ("status", status(u)),
        ("sso", sso),
        ("created", time_field(u, "created_at")),
        ("updated", time_field(u, "updated_at")),
    ]);
}

pub async fn run(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    let api = ctx.client()?;
    match command {
        Command::Ls => {
            let list = api.get(&["api", "users"]).await?;
            ctx.out.show(&list, print_list);
        }
        Command::Show { user } => {
            let user = api.get(&["api", "users", &user]).await?;
            ctx.out.show(&user, print_one);
        }
        Command::Create {
            email,
            role,
            name,
            groups,
        } => {
            let body = json!({
                "email": email,
                "role": role.as_str(),
                "display_name": name,
                "groups": groups,
            });
            let created = api.post(&["api", "users"], &body).await?;
            ctx.out.show(&created, |u| {
                print_one(u);
                eprintln!(
                    "\nCreated {email}. Give them a token: gatehouse tokens create NAME --user {email}"
                );
            });
        }
        Command::Update {
            user,
            email,
            name,
            role,
            disable,
            enable,
        } => {
            let mut body = Map::new();
            if let Some(email) = email {
                body.insert("email".into(), json!(email));
            }
            if let Some(name) = name {
                body.insert("display_name".into(), json!(name));
            }
            if let Some(role) = role {
                body.insert("role".into(), json!(role.as_str()));
            }
            if disable || enable {
                body.insert("disabled".into(), json!(disable));
            }
            if body.is_empty() {
                anyhow::bail!(
                    "nothing to change: give --email, --name, --role, --disable or --enable"
                );
            }
            let updated = api
                .patch(&["api", "users", &user], &Value::Object(body))
                .await?;
            ctx.out.show(&updated, print_one);
        }
        Command::SetGroups { user, groups } => {
            let updated = api
                .put(
                    &["api", "users", &user, "groups"],
                    &json!({ "groups": groups }),
                )
                .await?;
            ctx.out.show(&updated, print_one);
        }
        Command::Rm { user } => {
            api.delete(&["api", "users", &user]).await?;
            ctx.out
                .note(format!("Deleted user {user} and their tokens."));
        }
    }
    Ok(())
}
