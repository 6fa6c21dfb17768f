//! `gatehouse`: the gateway binary and its command line (`src/cli`).
//!
//! Any failure is printed as one `error: …` line (the whole context chain)
//! on stderr, with exit status 1.

mod cli;

use clap::Parser;

/// Logs (and, until the store lands, the session record) go to stderr
/// through a writer thread: sessions hand formatted lines to a bounded queue
/// and never wait on the terminal or a pipe, and the thread writes them in
/// batches (one `write` per burst, not per line). The queue blocks rather
/// than drops when full, so no record is lost; the returned guard flushes
/// what is queued when `main` returns.
fn init_tracing(default_filter: &str) -> tracing_appender::non_blocking::WorkerGuard {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("GATEHOUSE_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
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
    let cli = cli::Cli::parse();
    // The gateway logs at info; client commands only say what went wrong.
    let default_filter = match cli.command {
        cli::Command::Serve { .. } | cli::Command::Check { .. } => "info",
        _ => "warn",
    };
    let log = init_tracing(default_filter);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: starting the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(cli::run(cli));
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
