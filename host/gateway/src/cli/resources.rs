//! `gatehouse resources …`: databases and services, with their roles
//! (connections) listed under them. Users see the resources they may
//! reach, without addresses; only admins create, change and delete.

use super::Ctx;
use super::output::{Table, field, print_fields};
use clap::{Subcommand, ValueEnum};
use serde_json::{Map, Value, json};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum Command {
    /// List resources with their roles.
    #[command(visible_alias = "list")]
    Ls,
    /// Show one resource.
    #[command(visible_alias = "get")]
    Show { name: String },
    /// Create a resource (then add connections: `gatehouse connections create NAME.ROLE`).
    Create {
        /// Letters, digits, `-` and `_`.
        name: String,
        #[arg(long, value_enum)]
        kind: Kind,
        /// `host:port` of the database or service.
        #[arg(long)]
        address: String,
        #[arg(long, default_value = "")]
        description: String,
        /// TLS to the upstream, as libpq's sslmode (default prefer).
        #[arg(long, value_enum)]
        tls: Option<Tls>,
        /// PEM CA bundle (on the gateway) for verify-ca / verify-full.
        #[arg(long)]
        ca_file: Option<PathBuf>,
    },
    /// Change a resource's address, description or TLS (name and kind are fixed).
    Update {
        name: String,
        #[arg(long)]
        address: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, value_enum)]
        tls: Option<Tls>,
        #[arg(long, conflicts_with = "no_ca_file")]
        ca_file: Option<PathBuf>,
        /// Remove the CA bundle setting.
        #[arg(long)]
        no_ca_file: bool,
    },
    /// Delete a resource that has no connections left.
    #[command(visible_alias = "delete")]
    Rm { name: String },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Kind {
    Postgres,
    Mysql,
    Tcp,
    Http,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Postgres => "postgres",
            Kind::Mysql => "mysql",
            Kind::Tcp => "tcp",
            Kind::Http => "http",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Tls {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Tls {
    fn as_str(self) -> &'static str {
        match self {
            Tls::Disable => "disable",
            Tls::Prefer => "prefer",
            Tls::Require => "require",
            Tls::VerifyCa => "verify-ca",
            Tls::VerifyFull => "verify-full",
        }
    }
}

fn role_names(resource: &Value) -> String {
    resource["roles"]
        .as_array()
        .map(|roles| {
            roles
                .iter()
                .map(|r| field(r, "role"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "-".into())
}

fn print_list(list: &Value) {
    let items = super::output::items(list);
    // Users' views have no address: leave the admin columns out for them.
    let admin = items.iter().any(|r| r.get("address").is_some());
    let mut table = if admin {
        Table::new(&["NAME", "KIND", "ADDRESS", "TLS", "ROLES", "DESCRIPTION"])
    } else {
        Table::new(&["NAME", "KIND", "ROLES", "DESCRIPTION"])
    };
    for r in items {
        let mut row = vec![field(r, "name"), field(r, "kind")];
        if admin {
            row.push(field(r, "address"));
            row.push(field(r, "tls"));
        }
        row.push(role_names(r));
        row.push(field(r, "description"));
        table.row(row);
    }
    table.print();
}

fn print_one(r: &Value) {
    let mut fields = vec![("name", field(r, "name")), ("kind", field(r, "kind"))];
    if r.get("address").is_some() {
        fields.push(("address", field(r, "address")));
        fields.push(("tls", field(r, "tls")));
        fields.push(("ca file", field(r, "ca_file")));
    }
    fields.push(("description", field(r, "description")));
    print_fields(&fields);
    if let Some(roles) = r["roles"].as_array().filter(|r| !r.is_empty()) {
        println!();
        let mut table = Table::new(&["CONNECTION", "DESCRIPTION"]);
        for role in roles {
            table.row(vec![field(role, "name"), field(role, "description")]);
        }
        table.print();
    }
}

pub async fn run(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    let api = ctx.client()?;
    match command {
        Command::Ls => {
            let list = api.get(&["api", "resources"]).await?;
            ctx.out.show(&list, print_list);
        }
        Command::Show { name } => {
            let resource = api.get(&["api", "resources", &name]).await?;
            ctx.out.show(&resource, print_one);
        }
        Command::Create {
            name,
            kind,
            address,
            description,
            tls,
            ca_file,
        } => {
            let mut body = json!({
                "name": name,
                "kind": kind.as_str(),
                "address": address,
                "description": description,
            });
            if let Some(tls) = tls {
                body["tls"] = json!(tls.as_str());
            }
            if let Some(ca) = ca_file {
                body["ca_file"] = json!(ca.display().to_string());
            }
            let created = api.post(&["api", "resources"], &body).await?;
            ctx.out.show(&created, |r| {
                print_one(r);
                eprintln!("\nCreated resource {name}. Add a connection: gatehouse connections create {name}.ROLE");
            });
        }
        Command::Update {
            name,
            address,
            description,
            tls,
            ca_file,
            no_ca_file,
        } => {
            let mut body = Map::new();
            if let Some(address) = address {
                body.insert("address".into(), json!(address));
            }
            if let Some(description) = description {
                body.insert("description".into(), json!(description));
            }
            if let Some(tls) = tls {
                body.insert("tls".into(), json!(tls.as_str()));
            }
            if let Some(ca) = ca_file {
                body.insert("ca_file".into(), json!(ca.display().to_string()));
            } else if no_ca_file {
                body.insert("ca_file".into(), Value::Null);
            }
            if body.is_empty() {
                anyhow::bail!(
                    "nothing to change: give --address, --description, --tls, --ca-file or --no-ca-file"
                );
            }
            let updated = api
                .patch(&["api", "resources", &name], &Value::Object(body))
                .await?;
            ctx.out.show(&updated, print_one);
        }
        Command::Rm { name } => {
            api.delete(&["api", "resources", &name]).await?;
            ctx.out.note(format!("Deleted resource {name}."));
        }
    }
    Ok(())
}
