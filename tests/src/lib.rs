//! Helpers shared by the end-to-end tests: where the test guests live,
//! and an in-process gateway ([`gateway::TestGateway`]).

pub mod gateway;
pub mod http;

use gatehouse_sdk::harness::TestPlugin;
use std::path::Path;

/// The misbehaving test plugin (`tests/guests/sandbox`).
pub fn sandbox_plugin() -> TestPlugin {
    guest("sandbox-guest", "guests/sandbox")
}

/// Build and load a test guest crate under `tests/`.
pub fn guest(package: &str, dir: &str) -> TestPlugin {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    TestPlugin::build(package, manifest_dir.to_str().expect("utf-8 path"))
}

/// The path of a built test guest's `.wasm`.
pub fn guest_wasm(package: &str, dir: &str) -> std::path::PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    gatehouse_sdk::harness::build_component(package, &manifest_dir)
        .unwrap_or_else(|e| panic!("{e}"))
}
