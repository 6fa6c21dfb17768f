//! `cargo xtask <task>`: the project's tasks, in Rust so they run anywhere
//! cargo does.
//!
//! * `test [ARGS…]`: the whole test suite, as CI runs it. Installs the
//!   `wasm32-wasip2` target if missing, builds every plugin component of the
//!   workspace once, then runs `cargo test --workspace` with
//!   `GATEHOUSE_PLUGIN_DIR` pointing at the components (so no test builds
//!   one again). Extra arguments go to `cargo test`. Before that it
//!   installs what the client compatibility tests (`tests/tests/compat.rs`)
//!   drive, when missing: psycopg 3, node-postgres (`npm ci` from the
//!   committed lock; likewise `oidc-provider` for the host/oidc tests)
//!   and pgJDBC (Debian's `libpostgresql-jdbc-java`); each
//!   check is a file test or one short process, so it is quick when all is
//!   there, and a tool that cannot be had fails the run with a message.
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
    compat_tools()?;
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

/// Whether `command` runs and exits 0 (its output discarded).
fn succeeds(mut command: Command) -> bool {
    command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `program` is on `PATH`.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// `apt-get install -y PACKAGES`, with `apt-get update` first only if the
/// install fails (a stale or empty package list).
fn apt_install(packages: &[&str]) -> Result<(), String> {
    eprintln!("xtask: installing {} (apt-get)", packages.join(" "));
    let install = || {
        let mut command = Command::new("apt-get");
        command
            .args(["install", "-y", "-q"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    if succeeds(install()) {
        return Ok(());
    }
    let mut update = Command::new("apt-get");
    update.args(["update", "-q"]);
    run(update)?;
    run(install())
}

/// `program` is on `PATH`, installed from Debian's `package` if it was not.
fn require_tool(program: &str, package: &str, used_for: &str) -> Result<(), String> {
    if on_path(program) {
        return Ok(());
    }
    let _ = apt_install(&[package]);
    if on_path(program) {
        Ok(())
    } else {
        Err(format!(
            "`{program}` is missing and could not be installed (apt-get install {package}); \
             the client compatibility tests need it for {used_for}"
        ))
    }
}

/// `npm ci` in `dir` (relative to the root) unless its `node_modules` is
/// newer than its committed `package-lock.json`.
fn npm_ci(dir: &str, what: &str) -> Result<(), String> {
    let node = root().join(dir);
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let lock = modified(&node.join("package-lock.json"))
        .ok_or_else(|| format!("{dir}/package-lock.json is missing"))?;
    // npm writes node_modules/.package-lock.json on every install.
    let installed = modified(&node.join("node_modules/.package-lock.json"));
    if installed.is_none_or(|installed| installed < lock) {
        eprintln!("xtask: installing {what} (npm ci)");
        let mut npm = Command::new("npm");
        npm.arg("ci").arg("--prefix").arg(&node).args([
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]);
        run(npm).map_err(|e| format!("installing {what}: {e}"))?;
    }
    Ok(())
}

/// The pgJDBC jar of Debian's `libpostgresql-jdbc-java` (what
/// `tests/tests/compat.rs` puts on the class path).
const JDBC_JAR: &str = "/usr/share/java/postgresql.jar";

/// Install what the client compatibility tests run, when missing.
fn compat_tools() -> Result<(), String> {
    let started = std::time::Instant::now();

    // psycopg 3 for python3.
    require_tool("python3", "python3", "psycopg")?;
    let psycopg = || {
        let mut command = Command::new("python3");
        command.args(["-c", "import psycopg"]);
        command
    };
    if !succeeds(psycopg()) {
        eprintln!("xtask: installing psycopg (pip)");
        let mut pip = Command::new("python3");
        pip.args(["-m", "pip", "install", "-q", "psycopg[binary]"])
            .env("PIP_ROOT_USER_ACTION", "ignore")
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
        if let Err(e) = run(pip) {
            // A python3 without pip, or one that refuses to install beside
            // the system's packages (PEP 668): Debian's package instead.
            eprintln!("xtask: {e}; trying Debian's python3-psycopg");
            let _ = apt_install(&["python3-psycopg"]);
        }
        if !succeeds(psycopg()) {
            return Err(
                "psycopg 3 could not be installed: `python3 -c \"import psycopg\"` fails \
                        (pip install \"psycopg[binary]\" or apt-get install python3-psycopg)"
                    .into(),
            );
        }
    }

    // node-postgres, and oidc-provider (the real OpenID Provider of the
    // host/oidc tests), from their committed locks.
    require_tool("node", "nodejs", "node-postgres")?;
    require_tool("npm", "npm", "node-postgres")?;
    npm_ci("tests/compat/node", "node-postgres")?;
    npm_ci("tests/oidc", "oidc-provider")?;

    // pgJDBC, compiled against and run by a JDK.
    require_tool("javac", "openjdk-17-jdk-headless", "pgJDBC")?;
    require_tool("java", "openjdk-17-jdk-headless", "pgJDBC")?;
    if !Path::new(JDBC_JAR).is_file() {
        apt_install(&["libpostgresql-jdbc-java"]).map_err(|e| format!("installing pgJDBC: {e}"))?;
        if !Path::new(JDBC_JAR).is_file() {
            return Err(format!(
                "libpostgresql-jdbc-java is installed but {JDBC_JAR} is missing"
            ));
        }
    }
    eprintln!("xtask: compat clients ready ({:.1?})", started.elapsed());
    Ok(())
}
