//! Shared by the host tests: the generic component from `scripts/build-component.sh`, baked.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test support shared by several test binaries: a broken fixture must stop the test loudly"
)]

use std::path::PathBuf;

/// The generic component; the tests fail loudly (never skip) when it has not been built.
pub fn generic_component() -> Vec<u8> {
    let path = std::env::var("AUTHZ_GENERIC_COMPONENT").map(PathBuf::from).unwrap_or_else(|_| {
        let target = std::env::var("CARGO_TARGET_DIR")
            .unwrap_or_else(|_| format!("{}/../../target", env!("CARGO_MANIFEST_DIR")));
        PathBuf::from(target).join("authz-wasm/authz-pdp-generic.wasm")
    });
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("generic component `{}` not found ({e}): run `bash scripts/build-component.sh` first", path.display())
    })
}

/// The example bundle baked into the generic component.
pub fn example_component(label: Option<&str>) -> (authz_engine::Bundle, Vec<u8>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies/example");
    let sources = authz::store::load_dir(&dir).unwrap();
    let bundle = authz_engine::Bundle::build(sources, label.map(str::to_string)).unwrap();
    let baked = authz_wasmtime::bake::bake(&generic_component(), &bundle.to_bytes()).unwrap();
    (bundle, baked)
}
