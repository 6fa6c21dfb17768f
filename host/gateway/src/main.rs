//! `gatehouse`: the gateway binary and its command line.

use gatehouse::config;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "An access gateway whose policy decisions are made by sandboxed WebAssembly plugins"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// Configuration file. Without one, the gateway starts on its
        /// embedded defaults (state in ./.gatehouse, no connections yet).
        #[arg(long, short, env = "GATEHOUSE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Load the configuration and every plugin, validate every binding, and
    /// exit: non-zero with the first problem found.
    Check {
        #[arg(long, short, env = "GATEHOUSE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Plugin components.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Access tokens (the password users give their database client).
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
}

#[derive(Subcommand)]
enum TokensCommand {
    /// Create a random access token. Prints the token (shown once: give it
    /// to the user) and the SHA-256 to put in the user's `token_sha256`.
    New,
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// List the plugins available to connections (embedded and configured).
    Ls {
        #[arg(long, short, env = "GATEHOUSE_CONFIG")]
        config: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Load a `.wasm` component and print what it declares.
    Describe { path: PathBuf },
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

fn load_config(path: Option<&PathBuf>) -> anyhow::Result<config::Config> {
    match path {
        Some(path) => config::Config::load(path),
        None => Ok(config::Config::default()),
    }
}

/// Logs (and, until the store lands, the session record) go to stderr
/// through a writer thread: sessions hand formatted lines to a bounded queue
/// and never wait on the terminal or a pipe, and the thread writes them in
/// batches (one `write` per burst, not per line). The queue blocks rather
/// than drops when full, so no record is lost; the returned guard flushes
/// what is queued when `main` returns.
fn init_tracing() -> tracing_appender::non_blocking::WorkerGuard {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("GATEHOUSE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("gatehouse-log")
        .finish(std::io::BufWriter::with_capacity(
            64 << 10,
            std::io::stderr(),
        ));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer)
        .init();
    guard
}

fn main() -> std::process::ExitCode {
    let log = init_tracing();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: starting the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(cli.command));
    drop(runtime);
    // Queued log lines first, then the final error.
    drop(log);
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` prints the whole context chain on one line, no backtrace.
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve { config } => {
            let config = load_config(config.as_ref())?;
            let gateway = gatehouse::server::Gateway::start(
                &config,
                std::sync::Arc::new(gatehouse::record::TracingRecorder),
            )
            .await?;
            let catalog = gateway.catalog.current();
            tracing::info!(
                postgres = %gateway.postgres_addr,
                connections = catalog.connections.len(),
                state_dir = %config.gateway.state_dir.display(),
                "gatehouse is ready; press Ctrl-C to stop"
            );
            if let Some(admin) = &gateway.bootstrap {
                eprintln!(
                    "\nCreated the first administrator, {}. Their access token (shown once, keep it):\n\n    {}\n",
                    admin.email,
                    admin.token.expose()
                );
            }
            tokio::select! {
                result = gateway.wait() => result,
                signal = tokio::signal::ctrl_c() => {
                    signal.context("waiting for Ctrl-C")?;
                    tracing::info!("shutting down");
                    Ok(())
                }
            }
        }
        Command::Tokens {
            command: TokensCommand::New,
        } => {
            let (token, digest) = gatehouse::identity::new_token();
            println!("token:        {token}");
            println!("token_sha256: {digest}");
            eprintln!("The token is shown only now; the gateway stores only its SHA-256.");
            Ok(())
        }
        Command::Check { config } => {
            let config = load_config(config.as_ref())?;
            let (scratch, config) = scratch_store(config)?;
            let (_, store, _, catalog) = gatehouse::server::prepare(&config).await?;
            let plugins = store.plugins().list().await?;
            drop(scratch);
            println!(
                "ok: {} plugins, {} connections, every binding validated",
                plugins.len(),
                catalog.connections.len()
            );
            Ok(())
        }
        Command::Plugins {
            command: PluginsCommand::Ls { config, json },
        } => {
            let config = load_config(config.as_ref())?;
            let (scratch, config) = scratch_store(config)?;
            let (_, store, _, _) = gatehouse::server::prepare(&config).await?;
            let plugins = store.plugins().list().await?;
            drop(scratch);
            if json {
                println!("{}", serde_json::to_string_pretty(&plugins)?);
            } else {
                println!(
                    "{:<20} {:<24} {:<40} DESCRIPTION",
                    "NAME", "VERSION", "HOOKS"
                );
                for p in &plugins {
                    println!(
                        "{:<20} {:<24} {:<40} {}",
                        p.name,
                        p.version,
                        p.hooks.join(","),
                        p.description
                    );
                }
            }
            Ok(())
        }
        Command::Plugins {
            command: PluginsCommand::Describe { path },
        } => {
            let runtime =
                gatehouse_runtime::Runtime::new(gatehouse_runtime::RuntimeSettings::default())?;
            let plugin = runtime.load_file(&path).await?;
            let m = &plugin.manifest;
            println!("name:         {}", m.name);
            println!("version:      {}", m.version);
            println!("digest:       sha256:{}", plugin.digest);
            println!("description:  {}", m.description);
            let hooks: Vec<&str> = m.hooks.iter().map(|h| h.wit_name()).collect();
            let capabilities: Vec<&str> = m.capabilities.iter().map(|c| c.wit_name()).collect();
            println!("hooks:        {}", hooks.join(", "));
            println!("capabilities: {}", capabilities.join(", "));
            Ok(())
        }
    }
}
