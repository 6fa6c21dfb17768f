//! `gatehouse plugins …`: installed plugin components (install = upload a
//! `.wasm`; the server loads and validates it, and the same name with a
//! new version is an upgrade), and the plugins enabled on a connection
//! (bindings) with their config. `describe` reads a local `.wasm` without
//! any gateway.
//!
//! `enable` adds the binding when the connection has none for the plugin,
//! else turns it on (changing only what is given); `disable` keeps the
//! binding and its config but stops running it; `unbind` removes it. The
//! plugin's own `validate-config` runs on the server before anything is
//! stored: a refused config is an `invalid_config` error.
//!
//! Secret config keys (a webhook's `secret`, `headers`) go in `--secrets`,
//! read from a file or stdin, never from the command line (which other
//! users of the machine and the shell history see). They are write-only:
//! the server seals them and answers with their names (`secrets_set`),
//! which is all these commands print. `--secrets` changes the keys it names
//! (`null` removes one, as does `--remove-secret NAME`); the others keep
//! their stored values.

use super::output::{Table, field, format_size, print_fields, time_field};
use super::{Ctx, input, local};
use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum Command {
    /// List installed plugins (the latest version of each).
    #[command(visible_alias = "list")]
    Ls,
    /// Show a plugin with every installed version.
    #[command(visible_alias = "get")]
    Show { name: String },
    /// Install a plugin component, or upgrade one (same name, new version).
    Install {
        /// A `.wasm` component built with the Gatehouse SDK.
        file: PathBuf,
    },
    /// Remove one version of a plugin.
    #[command(visible_alias = "delete")]
    Rm { name: String, version: String },
    /// Read a local `.wasm` component and print what it declares (offline).
    Describe {
        file: PathBuf,
        /// Use this configuration's compile cache (compiling is the slow part).
        #[arg(long, short, env = "GATEHOUSE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Enable a plugin on a connection (adds it, or turns it back on).
    Enable {
        plugin: String,
        #[command(flatten)]
        binding: BindingArgs,
    },
    /// Stop running a plugin on a connection (keeps its config).
    Disable {
        plugin: String,
        /// The connection (`resource.role`).
        #[arg(long = "on", value_name = "CONNECTION")]
        connection: String,
    },
    /// Remove a plugin from a connection.
    Unbind {
        plugin: String,
        #[arg(long = "on", value_name = "CONNECTION")]
        connection: String,
    },
    /// The plugins bound to a connection, in the order they run.
    Bindings {
        /// The connection (`resource.role`).
        connection: String,
    },
    /// Set the order plugins run in on a connection (name every bound plugin once).
    Order {
        connection: String,
        #[arg(required = true)]
        plugins: Vec<String>,
    },
}

#[derive(Args)]
pub struct BindingArgs {
    /// The connection (`resource.role`).
    #[arg(long = "on", value_name = "CONNECTION")]
    connection: String,
    /// The plugin's config: a JSON object, @file.json, or @- for stdin.
    #[arg(long, value_name = "JSON")]
    config: Option<String>,
    /// Secret config keys, a JSON object read from @file.json or @- (stdin),
    /// never inline: sealed by the server, never shown again. Keys not named
    /// keep their stored values; `null` removes one.
    #[arg(long, value_name = "@FILE")]
    secrets: Option<String>,
    /// Remove this secret config key (repeatable).
    #[arg(long, value_name = "NAME")]
    remove_secret: Vec<String>,
    /// Which version runs: latest (default), a version, or sha256:DIGEST.
    #[arg(long, value_name = "PIN")]
    pin: Option<String>,
    /// Capabilities granted, as JSON: '{"http": ["https://hooks.example.com/"], "key_value": true}'.
    #[arg(long, value_name = "JSON")]
    grants: Option<String>,
    /// Per-hook deadline in ms (default 100).
    #[arg(long)]
    deadline_ms: Option<u32>,
    /// Memory cap in MiB (default 32).
    #[arg(long)]
    memory_mb: Option<u32>,
    /// Where it runs among the connection's plugins (new bindings; default last).
    #[arg(long)]
    position: Option<i64>,
}

fn pin(text: &str) -> Value {
    match text {
        "latest" => json!("latest"),
        _ => match text.strip_prefix("sha256:") {
            Some(digest) => json!({ "digest": digest }),
            None => json!({ "version": text }),
        },
    }
}

fn pin_text(pin: &Value) -> String {
    match pin {
        Value::String(s) => s.clone(),
        Value::Object(map) => match (map.get("version"), map.get("digest")) {
            (Some(v), _) => super::output::text(v),
            (_, Some(d)) => format!("sha256:{}", super::output::text(d)),
            _ => pin.to_string(),
        },
        _ => "-".into(),
    }
}

fn print_plugins(list: &Value) {
    let mut table = Table::new(&[
        "NAME",
        "VERSION",
        "HOOKS",
        "CAPABILITIES",
        "SIZE",
        "INSTALLED",
        "DESCRIPTION",
    ]);
    for p in super::output::items(list) {
        table.row(vec![
            field(p, "name"),
            field(p, "version"),
            field(p, "hooks"),
            field(p, "capabilities"),
            p["size"].as_u64().map(format_size).unwrap_or_default(),
            time_field(p, "created_at"),
            field(p, "description"),
        ]);
    }
    table.print();
}

fn print_versions(plugin: &Value) {
    print_fields(&[
        ("name", field(plugin, "name")),
        ("latest", field(plugin, "latest")),
    ]);
    println!();
    let mut table = Table::new(&["VERSION", "DIGEST", "HOOKS", "SIZE", "INSTALLED"]);
    for v in super::output::items(&plugin["versions"]) {
        let digest = field(v, "digest");
        table.row(vec![
            field(v, "version"),
            format!("sha256:{}", digest.get(..12).unwrap_or(&digest)),
            field(v, "hooks"),
            v["size"].as_u64().map(format_size).unwrap_or_default(),
            time_field(v, "created_at"),
        ]);
    }
    table.print();
}

/// The names of a binding's secrets (never values: the API has none).
fn secrets_text(b: &Value) -> String {
    let names: Vec<String> = super::output::items(&b["secrets_set"])
        .iter()
        .map(super::output::text)
        .collect();
    if names.is_empty() {
        "-".into()
    } else {
        format!("{} (set)", names.join(", "))
    }
}

fn print_bindings(list: &Value) {
    let mut table = Table::new(&[
        "POSITION", "PLUGIN", "PIN", "ENABLED", "DEADLINE", "MEMORY", "CONFIG", "SECRETS",
    ]);
    for b in super::output::items(list) {
        table.row(binding_row(b));
    }
    table.print();
}

fn binding_row(b: &Value) -> Vec<String> {
    vec![
        field(b, "position"),
        field(b, "plugin"),
        pin_text(&b["pin"]),
        field(b, "enabled"),
        format!("{} ms", field(b, "deadline_ms")),
        format!("{} MiB", field(b, "memory_mb")),
        b["config"].to_string(),
        secrets_text(b),
    ]
}

fn print_binding(b: &Value) {
    print_fields(&[
        ("plugin", field(b, "plugin")),
        ("pin", pin_text(&b["pin"])),
        ("enabled", field(b, "enabled")),
        ("position", field(b, "position")),
        ("deadline", format!("{} ms", field(b, "deadline_ms"))),
        ("memory", format!("{} MiB", field(b, "memory_mb"))),
        ("grants", b["grants"].to_string()),
        ("config", b["config"].to_string()),
        ("secrets", secrets_text(b)),
    ]);
}

/// The `secrets` of a request: `--secrets` (a file or stdin, never inline)
/// with `--remove-secret` names set to `null`. `None` when neither is given.
fn secrets_arg(args: &BindingArgs) -> anyhow::Result<Option<Value>> {
    let mut secrets = match &args.secrets {
        Some(text) if !text.starts_with('@') => anyhow::bail!(
            "--secrets is read from a file (@secrets.json) or stdin (@-), never from the command line"
        ),
        Some(text) => match input::json_object("--secrets", text)? {
            Value::Object(map) => map,
            _ => unreachable!("json_object returns objects"),
        },
        None if args.remove_secret.is_empty() => return Ok(None),
        None => Map::new(),
    };
    for name in &args.remove_secret {
        secrets.insert(name.clone(), Value::Null);
    }
    Ok(Some(Value::Object(secrets)))
}

pub async fn run(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    if let Command::Describe { file, config } = &command {
        return local::describe(ctx, file, config.as_ref()).await;
    }
    let api = ctx.client()?;
    match command {
        Command::Describe { .. } => unreachable!("handled above"),
        Command::Ls => {
            let list = api.get(&["api", "plugins"]).await?;
            ctx.out.show(&list, print_plugins);
        }
        Command::Show { name } => {
            let plugin = api.get(&["api", "plugins", &name]).await?;
            ctx.out.show(&plugin, print_versions);
        }
        Command::Install { file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let answer = api.upload_wasm(&["api", "plugins"], bytes).await?;
            ctx.out.show(&answer, |a| {
                let p = &a["plugin"];
                let what = match (a["created"].as_bool(), a["previous_latest"].as_str()) {
                    (Some(false), _) => "already installed (same bytes)".to_string(),
                    (_, Some(previous)) => format!("installed; latest was {previous}"),
                    _ => "installed".to_string(),
                };
                println!("{} {}: {what}", field(p, "name"), field(p, "version"),);
                print_fields(&[
                    ("digest", format!("sha256:{}", field(p, "digest"))),
                    ("hooks", field(p, "hooks")),
                    ("capabilities", field(p, "capabilities")),
                    ("description", field(p, "description")),
                ]);
            });
        }
        Command::Rm { name, version } => {
            api.delete(&["api", "plugins", &name, "versions", &version])
                .await?;
            ctx.out.note(format!("Removed {name} {version}."));
        }
        Command::Enable { plugin, binding } => {
            let answer = enable(ctx, &api, &plugin, binding).await?;
            ctx.out.show(&answer, print_binding);
        }
        Command::Disable { plugin, connection } => {
            let answer = api
                .patch(
                    &["api", "connections", &connection, "plugins", &plugin],
                    &json!({ "enabled": false }),
                )
                .await?;
            ctx.out.show(&answer, |_| {
                println!("{plugin} is disabled on {connection} (new sessions).")
            });
        }
        Command::Unbind { plugin, connection } => {
            api.delete(&["api", "connections", &connection, "plugins", &plugin])
                .await?;
            ctx.out.note(format!("Removed {plugin} from {connection}."));
        }
        Command::Bindings { connection } => {
            let list = api
                .get(&["api", "connections", &connection, "plugins"])
                .await?;
            ctx.out.show(&list, print_bindings);
        }
        Command::Order {
            connection,
            plugins,
        } => {
            let answer = api
                .put(
                    &["api", "connections", &connection, "plugin-order"],
                    &json!({ "order": plugins }),
                )
                .await?;
            ctx.out.show(&answer, print_bindings);
        }
    }
    Ok(())
}

/// Add the binding, or turn the existing one on with the changes given.
async fn enable(
    ctx: &Ctx,
    api: &super::client::Client,
    plugin: &str,
    args: BindingArgs,
) -> anyhow::Result<Value> {
    let connection = &args.connection;
    let bindings = api
        .get(&["api", "connections", connection, "plugins"])
        .await?;
    let exists = super::output::items(&bindings)
        .iter()
        .any(|b| b["plugin"] == plugin);
    let mut body = Map::new();
    if args.config.as_deref() == Some("@-") && args.secrets.as_deref() == Some("@-") {
        anyhow::bail!("--config and --secrets cannot both be read from stdin");
    }
    if let Some(config) = &args.config {
        body.insert("config".into(), input::json_object("--config", config)?);
    }
    if let Some(secrets) = secrets_arg(&args)? {
        body.insert("secrets".into(), secrets);
    }
    if let Some(grants) = &args.grants {
        body.insert("grants".into(), input::json_object("--grants", grants)?);
    }
    if let Some(p) = &args.pin {
        body.insert("pin".into(), pin(p));
    }
    if let Some(ms) = args.deadline_ms {
        body.insert("deadline_ms".into(), json!(ms));
    }
    if let Some(mb) = args.memory_mb {
        body.insert("memory_mb".into(), json!(mb));
    }
    body.insert("enabled".into(), json!(true));
    let answer = if exists {
        if args.position.is_some() {
            anyhow::bail!(
                "{plugin} is already bound to {connection}: change its place with \
                 `gatehouse plugins order {connection} PLUGIN…`"
            );
        }
        api.patch(
            &["api", "connections", connection, "plugins", plugin],
            &Value::Object(body),
        )
        .await?
    } else {
        body.insert("plugin".into(), json!(plugin));
        if let Some(position) = args.position {
            body.insert("position".into(), json!(position));
        }
        api.post(
            &["api", "connections", connection, "plugins"],
            &Value::Object(body),
        )
        .await?
    };
    ctx.out.note(format!(
        "{plugin} is enabled on {connection} (new sessions; running ones keep their plugins)."
    ));
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins() {
        assert_eq!(pin("latest"), json!("latest"));
        assert_eq!(pin("1.2.0"), json!({"version": "1.2.0"}));
        assert_eq!(pin("sha256:ab"), json!({"digest": "ab"}));
        assert_eq!(pin_text(&json!({"digest": "ab"})), "sha256:ab");
        assert_eq!(pin_text(&json!("latest")), "latest");
    }

    fn args(secrets: Option<&str>, remove: &[&str]) -> BindingArgs {
        BindingArgs {
            connection: "db.ro".into(),
            config: None,
            secrets: secrets.map(str::to_string),
            remove_secret: remove.iter().map(|s| s.to_string()).collect(),
            pin: None,
            grants: None,
            deadline_ms: None,
            memory_mb: None,
            position: None,
        }
    }

    #[test]
    fn secrets_come_from_files_and_are_shown_by_name() {
        let err = secrets_arg(&args(Some(r#"{"secret": "hunter2hunter2"}"#), &[])).unwrap_err();
        assert!(
            err.to_string().contains("never from the command line"),
            "{err}"
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secrets.json");
        std::fs::write(&file, r#"{"secret": "0123456789abcdef"}"#).unwrap();
        let at = format!("@{}", file.display());
        assert_eq!(
            secrets_arg(&args(Some(&at), &["headers"])).unwrap(),
            Some(json!({"secret": "0123456789abcdef", "headers": null}))
        );
        assert_eq!(
            secrets_arg(&args(None, &["old"])).unwrap(),
            Some(json!({"old": null}))
        );
        assert_eq!(secrets_arg(&args(None, &[])).unwrap(), None);
        let binding = json!({"plugin": "notify-webhook", "config": {"url": "http://x/"}, "secrets_set": ["headers", "secret"]});
        assert_eq!(secrets_text(&binding), "headers, secret (set)");
        assert_eq!(secrets_text(&json!({"secrets_set": []})), "-");
        assert!(binding_row(&binding).contains(&"headers, secret (set)".to_string()));
    }
}
