//! `cargo xtask <task>`: the project's tasks, in Rust so they run anywhere
//! cargo does.
//!
//! * `test [ARGS…]`: the whole test suite, as CI runs it. Installs the
//!   `wasm32-wasip2` target if missing, builds every plugin component of the
//!   workspace once, then runs `cargo test --workspace` with
//!   `GATEHOUSE_PLUGIN_DIR` pointing at the components (so no test builds
//!   one again). Extra arguments go to `cargo test`.
//! * `plugins`: only build the plugin components.
//! * `bench`: the runtime benchmark (`cargo bench -p gatehouse-runtime`).
//!
//! Under CI (`CI` set) without an explicit `CARGO_TARGET_DIR`, build output
//! goes to `~/.cache/gatehouse/target`, so successive CI runs on one machine
//! reuse compiled dependencies instead of starting cold.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("plugins") => plugins().map(|dir| println!("plugin components in {}", dir.display())),
        Some("bench") => bench(&args[1..]),
        _ => Err("usage: cargo xtask <test|plugins|bench> [args…]".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    if std::env::var_os("CI").is_some()
        && let Some(home) = std::env::var_os("HOME")
    {
        return Path::new(&home).join(".cache/gatehouse/target");
    }
    root().join("target")
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .current_dir(root())
        .env("CARGO_TARGET_DIR", target_dir());
    command
}

fn run(mut command: Command) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|e| format!("running {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed ({status})"))
    }
}

/// Workspace packages that build a `cdylib`: the plugin components.
fn plugin_packages() -> Result<Vec<String>, String> {
    let output = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    let mut packages = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let is_component = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| {
                t["crate_types"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|k| k == "cdylib")
            });
        if is_component && let Some(name) = package["name"].as_str() {
            packages.push(name.to_string());
        }
    }
    Ok(packages)
}

fn plugins() -> Result<PathBuf, String> {
    let packages = plugin_packages()?;
    let names: Vec<&str> = packages.iter().map(String::as_str).collect();
    eprintln!("xtask: building plugin components: {}", names.join(", "));
    gatehouse_plugin_build::build(
        &root().join("Cargo.toml"),
        &names,
        &target_dir().join("wasm"),
    )
}

fn test(extra: &[String]) -> Result<(), String> {
    let plugin_dir = plugins()?;
    let mut command = cargo();
    command
        .args(["test", "--workspace"])
        .args(extra)
        .env("GATEHOUSE_PLUGIN_DIR", plugin_dir);
    run(command)
}

fn bench(extra: &[String]) -> Result<(), String> {
    let plugin_dir = plugins()?;
    let mut command = cargo();
    command
        .args(["bench", "-p", "gatehouse-runtime"])
        .args(extra)
        .env("GATEHOUSE_PLUGIN_DIR", plugin_dir);
    run(command)
}
