//! Build plugin crates into WebAssembly components.
//!
//! Used by the gateway's build script (to embed first-party plugins), by
//! the SDK test harness (to build the plugin under test) and by `xtask`.
//! One rule for all three:
//!
//! * the `wasm32-wasip2` target is installed with `rustup` if missing
//!   (`RUSTUP_AUTO_INSTALL=0` environments do not install it on their own);
//! * the build is a nested `cargo build --release --target wasm32-wasip2`
//!   into a separate target directory, with the outer build's flags and
//!   jobserver removed from the environment (they belong to the native
//!   build, and `RUSTFLAGS` meant for the host can break a wasm link).
//!
//! Errors are plain strings meant for a person: what failed and what to do.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target plugins are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Environment of an outer cargo build that must not reach the nested one.
const OUTER_BUILD_VARS: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
    "TARGET",
    "RUSTC_WORKSPACE_WRAPPER",
];

/// `access-control` → `access_control.wasm`.
pub fn wasm_file_name(package: &str) -> String {
    format!("{}.wasm", package.replace('-', "_"))
}

/// The cargo target directory of an artifact at `path` (a test binary, a
/// build script's `OUT_DIR`): `CARGO_TARGET_DIR` when set, otherwise the
/// nearest ancestor holding cargo's `CACHEDIR.TAG`. (A custom target
/// directory need not contain the tag, hence the environment first.)
pub fn enclosing_target_dir(path: &Path) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    path.ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").exists())
        .map(Path::to_path_buf)
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Make sure the wasm target's standard library is installed.
pub fn ensure_wasm_target() -> Result<(), String> {
    let sysroot = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("running rustc: {e}"))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(TARGET).exists() {
        return Ok(());
    }
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .map_err(|e| format!("the {TARGET} target is missing and rustup could not be run ({e}); install the target"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`rustup target add {TARGET}` failed; install the target and retry"
        ))
    }
}

/// Build `packages` of the workspace at `manifest_path` into
/// `target_dir`, returning the directory holding the `.wasm` files.
pub fn build(
    manifest_path: &Path,
    packages: &[&str],
    target_dir: &Path,
) -> Result<PathBuf, String> {
    ensure_wasm_target()?;
    let mut command = Command::new(cargo());
    command
        .args(["build", "--quiet", "--release", "--target", TARGET])
        .arg("--manifest-path")
        .arg(manifest_path)
        .arg("--target-dir")
        .arg(target_dir);
    for package in packages {
        command.args(["--package", package]);
    }
    for var in OUTER_BUILD_VARS {
        command.env_remove(var);
    }
    let output = command
        .output()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "building {} for {TARGET} failed:\n{}",
            packages.join(", "),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let out = target_dir.join(TARGET).join("release");
    for package in packages {
        let file = out.join(wasm_file_name(package));
        if !file.exists() {
            return Err(format!(
                "{} was not produced; is {package} a `cdylib`?",
                file.display()
            ));
        }
    }
    Ok(out)
}
