//! Shared by the host tests: the generic component, baked.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test support shared by several test binaries: a broken fixture must stop the test loudly"
)]

use std::path::PathBuf;

/// The generic component (committed; `scripts/build-component.sh` rebuilds it).
pub fn generic_component() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../component/authz-pdp-generic.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("generic component `{}` not found ({e})", path.display()))
}

/// The example bundle baked into the generic component.
pub fn example_component(label: Option<&str>) -> (authz_engine::Bundle, Vec<u8>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies/example");
    let sources = authz::store::load_dir(&dir).unwrap();
    let bundle = authz_engine::Bundle::build(sources, label.map(str::to_string)).unwrap();
    let baked = authz_wasmtime::bake::bake(&generic_component(), &bundle.to_bytes()).unwrap();
    (bundle, baked)
}

/// The default host configuration with a compile cache in the build's target directory
/// (`<target>/authz-wasm/compiled-host-tests`): a component compiled once, by an earlier test
/// or an earlier run, is read back instead of compiled again.
pub fn config() -> authz_wasmtime::Config {
    let exe = std::env::current_exe().unwrap();
    // <target>/<profile>/deps/<test binary>
    let target = exe.ancestors().nth(3).unwrap();
    authz_wasmtime::Config {
        cache_dir: Some(target.join("authz-wasm/compiled-host-tests")),
        ..authz_wasmtime::Config::default()
    }
}
