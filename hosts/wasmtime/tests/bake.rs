//! Baking with pre-initialization: the snapshot answers like the plain baked component, keeps
//! the `pdp` world, and a fresh instance of it no longer decodes the bundle.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "helpers of these tests: a broken fixture must stop the test loudly"
)]

mod common;

use wasmtime::component::{Component, Linker, Val};
use wasmtime::{Config, Engine, Store};

fn plain_and_preinitialized() -> (authz_engine::Bundle, Vec<u8>, Vec<u8>) {
    let (bundle, preinitialized) = common::example_component(Some("v1"));
    let plain = authz_component::bake::bake(&common::generic_component(), &bundle.to_bytes()).unwrap();
    (bundle, plain, preinitialized)
}

/// Wasm instructions (fuel) a fresh instance spends answering `bundle-info`.
fn fuel_for_bundle_info(component: &[u8]) -> (u64, String) {
    let mut config = Config::new();
    config.consume_fuel(true);
    let engine = Engine::new(&config).unwrap();
    let component = Component::new(&engine, component).unwrap();
    let mut store = Store::new(&engine, ());
    store.set_fuel(u64::MAX).unwrap();
    let instance = Linker::new(&engine).instantiate(&mut store, &component).unwrap();
    let (_, iface) = instance.get_export(&mut store, None, "authz:pdp/authz@0.1.0").unwrap();
    let (_, func) = instance.get_export(&mut store, Some(&iface), "bundle-info").unwrap();
    let func = instance.get_func(&mut store, func).unwrap();
    let before = store.get_fuel().unwrap();
    let mut out = [Val::Bool(false)];
    func.call(&mut store, &[], &mut out).unwrap();
    let digest = match &out[0] {
        Val::Record(fields) => fields.iter().find(|(k, _)| k == "digest").map(|(_, v)| format!("{v:?}")).unwrap(),
        other => panic!("{other:?}"),
    };
    (before - store.get_fuel().unwrap(), digest)
}

#[test]
fn a_fresh_preinitialized_instance_does_not_decode_the_bundle() {
    let (bundle, plain, preinitialized) = plain_and_preinitialized();
    let (plain_fuel, plain_digest) = fuel_for_bundle_info(&plain);
    let (pre_fuel, pre_digest) = fuel_for_bundle_info(&preinitialized);
    assert_eq!(plain_digest, pre_digest);
    assert!(plain_digest.contains(bundle.digest()), "{plain_digest}");
    // Decoding (checksum, postcard, rule table) is the plain instance's first-call work.
    assert!(pre_fuel * 20 < plain_fuel, "pre-initialized {pre_fuel} vs plain {plain_fuel} instructions");
}

#[test]
fn the_snapshot_keeps_the_pdp_world_and_the_answers() {
    let (bundle, plain, preinitialized) = plain_and_preinitialized();
    let engine = Engine::default();
    let exports = |bytes: &[u8]| {
        let c = Component::new(&engine, bytes).unwrap();
        let ty = c.component_type();
        let imports: Vec<String> = ty.imports(&engine).map(|(n, _)| n.to_string()).collect();
        let exports: Vec<String> = ty.exports(&engine).map(|(n, _)| n.to_string()).collect();
        (imports, exports)
    };
    assert_eq!(exports(&preinitialized), (vec![], vec!["authz:pdp/authz@0.1.0".to_string()]));
    assert_eq!(exports(&plain), exports(&preinitialized));
    // The initializer is gone from the core module; the slot says the bundle is baked.
    assert!(!preinitialized.windows(19).any(|w| w == b"authz_preinitialize"));
    assert!(plain.windows(19).any(|w| w == b"authz_preinitialize"));
    assert!(matches!(
        authz_wasmtime::bake::bake(&preinitialized, &bundle.to_bytes()),
        Err(authz_component::bake::BakeError::AlreadyBaked)
    ));
    let request = r#"{"requestId":"r","principal":{"id":"alice","roles":["user"]},"includeMeta":true,
      "resources":[{"resource":{"kind":"document","id":"d1","attr":{"owner":"alice"}},"actions":["view","delete"]}],
      "authzOptions":{"now":"2026-01-01T00:00:00Z"}}"#;
    let answer = |bytes: &[u8]| {
        let config = authz_wasmtime::Config { supply_now: false, ..Default::default() };
        authz_wasmtime::Pdp::from_bytes(bytes, config).unwrap().check_json(request).unwrap()
    };
    assert_eq!(answer(&plain), answer(&preinitialized));
}

#[test]
fn a_corrupt_bundle_survives_baking_and_fails_closed_at_load() {
    // Pre-initialization decodes the bundle: a bad one is kept as the guest's error, not a trap.
    let baked = authz_wasmtime::bake::bake(&common::generic_component(), b"AUTHZB03 not a bundle").unwrap();
    match authz_wasmtime::Pdp::from_bytes(&baked, authz_wasmtime::Config::default()) {
        Err(authz_wasmtime::HostError::BundleUnavailable(message)) => {
            assert!(message.contains("too short"), "{message}")
        }
        other => panic!("{:?}", other.map(|p| p.bundle_info().clone())),
    }
}
