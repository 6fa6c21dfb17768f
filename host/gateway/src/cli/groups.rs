//! `gatehouse groups …` (admins): the groups plugins decide on (e.g.
//! `access-control`'s `allowed_groups`) and their members.

use super::Ctx;
use super::output::{Table, field, print_fields, time_field};
use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Subcommand)]
pub enum Command {
    /// List groups with their member counts.
    #[command(visible_alias = "list")]
    Ls,
    /// Show a group with its members.
    #[command(visible_alias = "get")]
    Show { name: String },
    /// Create a group.
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Change a group's description.
    Update {
        name: String,
        #[arg(long)]
        description: String,
    },
    /// Delete a group.
    #[command(visible_alias = "delete")]
    Rm { name: String },
    /// Add users (id or email) to a group.
    Add {
        name: String,
        #[arg(required = true)]
        users: Vec<String>,
    },
    /// Remove users from a group.
    Remove {
        name: String,
        #[arg(required = true)]
        users: Vec<String>,
    },
}

fn print_list(list: &Value) {
    let mut table = Table::new(&["NAME", "MEMBERS", "DESCRIPTION"]);
    for g in super::output::items(list) {
        table.row(vec![
            field(g, "name"),
            g["members"].as_u64().unwrap_or(0).to_string(),
            field(g, "description"),
        ]);
    }
    table.print();
}

fn print_one(g: &Value) {
    let mut fields = vec![
        ("name", field(g, "name")),
        ("description", field(g, "description")),
        ("members", g["members"].as_u64().unwrap_or(0).to_string()),
    ];
    if g.get("member_emails").is_some() {
        fields.push(("member emails", field(g, "member_emails")));
    }
    fields.push(("created", time_field(g, "created_at")));
    print_fields(&fields);
}

pub async fn run(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    let api = ctx.client()?;
    match command {
        Command::Ls => {
            let list = api.get(&["api", "groups"]).await?;
            ctx.out.show(&list, print_list);
        }
        Command::Show { name } => {
            let group = api.get(&["api", "groups", &name]).await?;
            ctx.out.show(&group, print_one);
        }
        Command::Create { name, description } => {
            let created = api
                .post(
                    &["api", "groups"],
                    &json!({ "name": name, "description": description }),
                )
                .await?;
            ctx.out.show(&created, print_one);
        }
        Command::Update { name, description } => {
            let updated = api
                .patch(
                    &["api", "groups", &name],
                    &json!({ "description": description }),
                )
                .await?;
            ctx.out.show(&updated, print_one);
        }
        Command::Rm { name } => {
            api.delete(&["api", "groups", &name]).await?;
            ctx.out.note(format!("Deleted group {name}."));
        }
        Command::Add { name, users } => {
            for user in &users {
                api.put_empty(&["api", "groups", &name, "members", user])
                    .await?;
                ctx.out.note(format!("Added {user} to {name}."));
            }
        }
        Command::Remove { name, users } => {
            for user in &users {
                api.delete(&["api", "groups", &name, "members", user])
                    .await?;
                ctx.out.note(format!("Removed {user} from {name}."));
            }
        }
    }
    Ok(())
}
