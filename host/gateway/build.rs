//! Builds the first-party plugins as Wasm components and embeds them in the
//! `gatehouse` binary, so an operator runs one file with access-control and
//! guardrails available by name.
//!
//! The components go to `<target>/wasm`, the directory the SDK test harness
//! uses too, so each is compiled once for both. With `GATEHOUSE_PLUGIN_DIR`
//! set (the test command prebuilds every plugin) nothing is rebuilt here.

use std::path::{Path, PathBuf};

/// Embedded plugins, by package name.
const FIRST_PARTY: &[&str] = &[
    "access-control",
    "guardrails",
    "data-masking",
    "review",
    "audit-jsonl",
    "audit-webhook",
    "notify-webhook",
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir
        .join("../..")
        .canonicalize()
        .expect("repository root");
    for dir in ["plugins", "sdk", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!("cargo:rerun-if-env-changed=GATEHOUSE_PLUGIN_DIR");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let prebuilt = std::env::var("GATEHOUSE_PLUGIN_DIR")
        .ok()
        .map(PathBuf::from);
    let wasm_dir = match prebuilt {
        Some(dir)
            if FIRST_PARTY
                .iter()
                .all(|p| dir.join(gatehouse_plugin_build::wasm_file_name(p)).exists()) =>
        {
            dir
        }
        _ => {
            let target = gatehouse_plugin_build::enclosing_target_dir(&out_dir)
                .unwrap_or_else(|| root.join("target"));
            gatehouse_plugin_build::build(
                &root.join("Cargo.toml"),
                FIRST_PARTY,
                &target.join("wasm"),
            )
            .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    let mut registry = String::from(
        "/// First-party plugin components embedded at build time: (package, bytes).\n",
    );
    registry.push_str("pub const EMBEDDED: &[(&str, &[u8])] = &[\n");
    for package in FIRST_PARTY {
        let path: &Path = &wasm_dir.join(gatehouse_plugin_build::wasm_file_name(package));
        registry.push_str(&format!(
            "    ({package:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    registry.push_str("];\n");
    std::fs::write(out_dir.join("embedded_plugins.rs"), registry).unwrap();
}
