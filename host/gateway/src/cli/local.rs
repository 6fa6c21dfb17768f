//! Commands that need no running gateway: `serve` (runs one), `check` (a
//! config file), `plugins describe` (a `.wasm` file) and `tokens
//! generate` (a token and its hash for a config file).
//!
//! `check` and the offline listing work on a throwaway copy of the store
//! (a scratch SQLite file), so they never change the real one; only the
//! compile cache is shared.

use super::Ctx;
use super::output::{Table, format_size, print_fields};
use anyhow::Context;
use gatehouse::config;
use std::path::PathBuf;

fn load_config(path: Option<&PathBuf>) -> anyhow::Result<config::Config> {
    match path {
        Some(path) => config::Config::load(path),
        None => Ok(config::Config::default()),
    }
}

/// The configuration pointed at a throwaway store (for commands that only
/// check or list what the file declares, without touching the real store).
/// The compile cache stays the real one.
fn scratch_store(
    mut config: config::Config,
) -> anyhow::Result<(tempfile::TempDir, config::Config)> {
    let scratch = tempfile::tempdir().context("creating a scratch directory")?;
    if config.runtime.cache_dir.is_none() {
        config.runtime.cache_dir = Some(config.gateway.state_dir.join("compiled"));
    }
    config.gateway.state_dir = scratch.path().to_path_buf();
    config.gateway.store_url = Some(format!(
        "sqlite://{}?mode=rwc",
        scratch.path().join("store.db").display()
    ));
    Ok((scratch, config))
}

pub async fn serve(config: Option<&PathBuf>) -> anyhow::Result<()> {
    let config = load_config(config)?;
    let mut gateway = gatehouse::server::Gateway::start(
        &config,
        std::sync::Arc::new(gatehouse::record::TracingRecorder),
    )
    .await?;
    let catalog = gateway.catalog.current();
    tracing::info!(
        postgres = %gateway.postgres_addr,
        api = %gateway.api_addr,
        connections = catalog.connections.len(),
        state_dir = %config.gateway.state_dir.display(),
        "gatehouse is ready; press Ctrl-C to stop"
    );
    if let Some(admin) = &gateway.bootstrap {
        eprintln!(
            "\nCreated the first administrator, {}. Their access token (shown once, keep it):\n\n    {}\n\n\
             Log in the command line with it:  gatehouse login --url {}\n",
            admin.email,
            admin.token.expose(),
            config
                .api
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", gateway.api_addr)),
        );
    }
    let outcome = tokio::select! {
        result = gateway.wait() => result,
        signal = tokio::signal::ctrl_c() => {
            signal.context("waiting for Ctrl-C")?;
            tracing::info!("shutting down");
            Ok(())
        }
    };
    // Hand this node's audit sinks to other nodes at once (not after
    // their leases expire), and write what the session record holds.
    gateway.stop();
    gateway.audit.shutdown().await;
    gateway.recorder.flush().await;
    outcome
}

pub async fn check(ctx: &Ctx, config: Option<&PathBuf>) -> anyhow::Result<()> {
    let config = load_config(config)?;
    let (scratch, config) = scratch_store(config)?;
    let (_, store, _, catalog) = gatehouse::server::prepare(&config).await?;
    let plugins = store.plugins().list().await?;
    let mut connections = Vec::new();
    for connection in store.connections().list().await? {
        let bound: Vec<String> = store
            .bindings()
            .list(connection.id)
            .await?
            .into_iter()
            .map(|b| {
                if b.enabled {
                    b.plugin
                } else {
                    format!("{} (disabled)", b.plugin)
                }
            })
            .collect();
        connections.push(serde_json::json!({
            "name": connection.name,
            "kind": connection.kind,
            "plugins": bound,
        }));
    }
    drop(store);
    drop(scratch);
    if ctx.out.json {
        ctx.out.print_json(&serde_json::json!({
            "ok": true,
            "plugins": plugins,
            "connections": connections,
        }));
        return Ok(());
    }
    let mut table = Table::new(&["PLUGIN", "VERSION", "HOOKS", "SIZE", "DESCRIPTION"]);
    for p in &plugins {
        table.row(vec![
            p.name.clone(),
            p.version.clone(),
            p.hooks.join(","),
            format_size(p.size),
            p.description.clone(),
        ]);
    }
    table.print();
    if !connections.is_empty() {
        println!();
        let mut table = Table::new(&["CONNECTION", "KIND", "PLUGINS (in order)"]);
        for c in &connections {
            table.row(vec![
                super::output::field(c, "name"),
                super::output::field(c, "kind"),
                super::output::field(c, "plugins"),
            ]);
        }
        table.print();
    }
    println!(
        "\nok: {} plugins, {} connections, every binding validated",
        plugins.len(),
        catalog.connections.len()
    );
    Ok(())
}

/// Load a component and print its manifest. With a configuration, its
/// runtime settings (and so its compile cache) are used.
pub async fn describe(
    ctx: &Ctx,
    path: &std::path::Path,
    config: Option<&PathBuf>,
) -> anyhow::Result<()> {
    let settings = match config {
        Some(path) => gatehouse::server::runtime_settings(&config::Config::load(path)?),
        None => gatehouse_runtime::RuntimeSettings::default(),
    };
    let runtime = gatehouse_runtime::Runtime::new(settings)?;
    let plugin = runtime.load_file(path).await?;
    let m = &plugin.manifest;
    let hooks: Vec<&str> = m.hooks.iter().map(|h| h.wit_name()).collect();
    let capabilities: Vec<&str> = m.capabilities.iter().map(|c| c.wit_name()).collect();
    if ctx.out.json {
        ctx.out.print_json(&serde_json::json!({
            "name": m.name,
            "version": m.version,
            "digest": plugin.digest,
            "description": m.description,
            "hooks": hooks,
            "capabilities": capabilities,
        }));
        return Ok(());
    }
    print_fields(&[
        ("name", m.name.clone()),
        ("version", m.version.clone()),
        ("digest", format!("sha256:{}", plugin.digest)),
        ("description", m.description.clone()),
        ("hooks", hooks.join(", ")),
        ("capabilities", capabilities.join(", ")),
    ]);
    Ok(())
}

/// A random token and its SHA-256, for a config file's `token_sha256`.
pub fn generate_token(ctx: &Ctx) {
    let (token, digest) = gatehouse::identity::new_token();
    if ctx.out.json {
        ctx.out
            .print_json(&serde_json::json!({ "token": token, "token_sha256": digest }));
    } else {
        println!("token:        {token}");
        println!("token_sha256: {digest}");
    }
    eprintln!(
        "The token is shown only now; put the SHA-256 in the user's `token_sha256` in the config file.\n\
         (On a running gateway, `gatehouse tokens create NAME` makes a token instead.)"
    );
}
