//! `gatehouse connections …`: a resource's roles (`resource.role`), each
//! with its upstream login. The password is never an argument: it is a
//! reference the gateway resolves (`--password-env`, `--password-file`) or
//! a value read from stdin (`--password-stdin`, sealed by the store); no
//! answer ever contains it. `test` logs in upstream and exits 1 when the
//! login fails.

use super::output::{Table, field, print_fields};
use super::{Ctx, input};
use clap::{ArgGroup, Args, Subcommand};
use serde_json::{Map, Value, json};

#[derive(Subcommand)]
pub enum Command {
    /// List connections (users: those they may use).
    #[command(visible_alias = "list")]
    Ls {
        /// Only this resource's connections.
        #[arg(long)]
        resource: Option<String>,
    },
    /// Show one connection.
    #[command(visible_alias = "get")]
    Show { name: String },
    /// Create a connection on an existing resource.
    Create {
        /// `resource.role`, e.g. billing-db.read-only.
        name: String,
        /// The role's purpose.
        #[arg(long, default_value = "")]
        description: String,
        /// Upstream database.
        #[arg(long)]
        database: Option<String>,
        /// Upstream login.
        #[arg(long)]
        username: Option<String>,
        #[command(flatten)]
        password: PasswordArgs,
        /// A label plugins can read (repeat): --attr environment=production.
        #[arg(long = "attr", value_name = "KEY=VALUE", value_parser = input::key_value)]
        attributes: Vec<(String, String)>,
    },
    /// Change a connection (name and resource are fixed).
    Update {
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, conflicts_with = "no_database")]
        database: Option<String>,
        #[arg(long)]
        no_database: bool,
        #[arg(long, conflicts_with = "no_username")]
        username: Option<String>,
        #[arg(long)]
        no_username: bool,
        #[command(flatten)]
        password: PasswordArgs,
        /// Remove the password.
        #[arg(long, conflicts_with = "password_source")]
        no_password: bool,
        /// Replace all labels (repeat): --attr environment=staging.
        #[arg(long = "attr", value_name = "KEY=VALUE", value_parser = input::key_value, conflicts_with = "no_attrs")]
        attributes: Vec<(String, String)>,
        /// Remove all labels.
        #[arg(long)]
        no_attrs: bool,
    },
    /// Delete a connection and its plugin bindings.
    #[command(visible_alias = "delete")]
    Rm { name: String },
    /// Log in upstream with the connection's credentials (exit 1 if that fails).
    Test { name: String },
}

/// Where the upstream password comes from.
#[derive(Args)]
#[command(group = ArgGroup::new("password_source").multiple(false))]
pub struct PasswordArgs {
    /// The gateway reads the password from this environment variable.
    #[arg(long, group = "password_source", value_name = "VAR")]
    password_env: Option<String>,
    /// The gateway reads the password from this file.
    #[arg(long, group = "password_source", value_name = "PATH")]
    password_file: Option<String>,
    /// Read the password from stdin; the store keeps it encrypted.
    #[arg(long, group = "password_source")]
    password_stdin: bool,
}

impl PasswordArgs {
    fn value(&self) -> anyhow::Result<Option<Value>> {
        Ok(if let Some(var) = &self.password_env {
            Some(json!({ "env": var }))
        } else if let Some(path) = &self.password_file {
            Some(json!({ "file": path }))
        } else if self.password_stdin {
            Some(json!(input::secret_from_stdin("Upstream password")?))
        } else {
            None
        })
    }
}

fn attributes(pairs: Vec<(String, String)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k, json!(v))).collect())
}

fn password_text(c: &Value) -> String {
    match (&c["has_password"], &c["password_source"]) {
        (Value::Bool(false), _) => "none".into(),
        (_, Value::String(s)) => s.clone(),
        (_, Value::Object(map)) => map
            .iter()
            .map(|(k, v)| format!("{k}:{}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(","),
        _ => "-".into(),
    }
}

fn print_list(list: &Value) {
    let items = super::output::items(list);
    let admin = items.iter().any(|c| c.get("has_password").is_some());
    let mut table = if admin {
        Table::new(&[
            "NAME",
            "KIND",
            "DATABASE",
            "USERNAME",
            "PASSWORD",
            "DESCRIPTION",
        ])
    } else {
        Table::new(&["NAME", "KIND", "DESCRIPTION"])
    };
    for c in items {
        let mut row = vec![field(c, "name"), field(c, "kind")];
        if admin {
            row.push(field(c, "database"));
            row.push(field(c, "username"));
            row.push(password_text(c));
        }
        row.push(field(c, "description"));
        table.row(row);
    }
    table.print();
}

fn print_one(c: &Value) {
    let mut fields = vec![
        ("name", field(c, "name")),
        ("resource", field(c, "resource")),
        ("role", field(c, "role")),
        ("kind", field(c, "kind")),
        ("description", field(c, "description")),
    ];
    if c.get("has_password").is_some() {
        fields.push(("database", field(c, "database")));
        fields.push(("username", field(c, "username")));
        fields.push(("password", password_text(c)));
    }
    fields.push(("attributes", field(c, "attributes")));
    print_fields(&fields);
}

pub async fn run(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    let api = ctx.client()?;
    match command {
        Command::Ls { resource } => {
            let list = api
                .get_query(&["api", "connections"], &[("resource", resource)])
                .await?;
            ctx.out.show(&list, print_list);
        }
        Command::Show { name } => {
            let connection = api.get(&["api", "connections", &name]).await?;
            ctx.out.show(&connection, print_one);
        }
        Command::Create {
            name,
            description,
            database,
            username,
            password,
            attributes: attrs,
        } => {
            let mut body = json!({
                "name": name,
                "description": description,
                "attributes": attributes(attrs),
            });
            if let Some(database) = database {
                body["database"] = json!(database);
            }
            if let Some(username) = username {
                body["username"] = json!(username);
            }
            if let Some(password) = password.value()? {
                body["password"] = password;
            }
            let created = api.post(&["api", "connections"], &body).await?;
            ctx.out.show(&created, |c| {
                print_one(c);
                eprintln!(
                    "\nCreated connection {name}. Enable plugins on it: \
                     gatehouse plugins enable PLUGIN --on {name} --config '{{…}}'"
                );
            });
        }
        Command::Update {
            name,
            description,
            database,
            no_database,
            username,
            no_username,
            password,
            no_password,
            attributes: attrs,
            no_attrs,
        } => {
            let mut body = Map::new();
            if let Some(description) = description {
                body.insert("description".into(), json!(description));
            }
            if let Some(database) = database {
                body.insert("database".into(), json!(database));
            } else if no_database {
                body.insert("database".into(), Value::Null);
            }
            if let Some(username) = username {
                body.insert("username".into(), json!(username));
            } else if no_username {
                body.insert("username".into(), Value::Null);
            }
            if let Some(password) = password.value()? {
                body.insert("password".into(), password);
            } else if no_password {
                body.insert("password".into(), Value::Null);
            }
            if !attrs.is_empty() || no_attrs {
                body.insert("attributes".into(), attributes(attrs));
            }
            if body.is_empty() {
                anyhow::bail!("nothing to change: see `gatehouse connections update --help`");
            }
            let updated = api
                .patch(&["api", "connections", &name], &Value::Object(body))
                .await?;
            ctx.out.show(&updated, print_one);
        }
        Command::Rm { name } => {
            api.delete(&["api", "connections", &name]).await?;
            ctx.out.note(format!("Deleted connection {name}."));
        }
        Command::Test { name } => {
            let report = api
                .post_empty(&["api", "connections", &name, "test"])
                .await?;
            let ok = report["ok"].as_bool() == Some(true);
            ctx.out.show(&report, |r| {
                if ok {
                    println!(
                        "ok: {name} logged in upstream in {} ms ({})",
                        field(r, "latency_ms"),
                        field(r, "detail")
                    );
                } else {
                    println!("failed: {name}: {}", field(r, "error"));
                }
            });
            if !ok {
                anyhow::bail!("the upstream login of {name} failed");
            }
        }
    }
    Ok(())
}
