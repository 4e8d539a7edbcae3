//! Baking with pre-initialization: the snapshot keeps the `pdp` world, answers as the native
//! engine does, and holds the decoded bundle: only the initializer decodes, and the snapshot
//! drops that code.
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

/// Wasm instructions (fuel) a fresh instance spends answering `bundle-info`, and the digest.
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
fn only_the_initializer_decodes_and_the_snapshot_drops_its_code() {
    let (bundle, plain, preinitialized) = plain_and_preinitialized();
    // Injected but never pre-initialized: the exports cannot reach the decoder.
    let (_, plain_digest) = fuel_for_bundle_info(&plain);
    assert_eq!(plain_digest, "String(\"\")");
    // Unsealed, it is not loaded at all; sealed as it is, it loads and says why it cannot decide.
    match authz_wasmtime::Pdp::from_bytes(&plain, common::config()) {
        Err(e @ authz_wasmtime::HostError::Load { .. }) => assert!(e.to_string().contains("not sealed"), "{e}"),
        other => panic!("{:?}", other.map(|p| p.bundle_info().clone())),
    }
    let sealed = authz_wasmtime::seal::seal(&plain, "", None);
    match authz_wasmtime::Pdp::from_bytes(&sealed, common::config()) {
        Err(authz_wasmtime::HostError::BundleUnavailable(m)) => assert!(m.contains("no bundle is baked"), "{m}"),
        other => panic!("{:?}", other.map(|p| p.bundle_info().clone())),
    }
    // The snapshot answers from memory; the decoder and the CEL runtime builder are gone, so
    // it is smaller than the plain component although it adds the decoded heap.
    let (fuel, digest) = fuel_for_bundle_info(&preinitialized);
    assert!(digest.contains(bundle.digest()), "{digest}");
    assert!(fuel < 100_000, "bundle-info took {fuel} instructions");
    assert!(preinitialized.len() < plain.len(), "{} >= {}", preinitialized.len(), plain.len());
}

#[test]
fn the_snapshot_keeps_the_pdp_world_and_answers_as_the_engine_does() {
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
    let config = authz_wasmtime::Config { supply_now: false, ..common::config() };
    let pdp = authz_wasmtime::Pdp::from_bytes(&preinitialized, config).unwrap();
    let from_component: serde_json::Value = serde_json::from_str(&pdp.check_json(request).unwrap()).unwrap();
    let limits = authz_api::cerbos::Limits::default();
    let native = authz_api::cerbos::check_json(&bundle, request, &limits, &Default::default()).unwrap();
    assert_eq!(from_component, native);
    assert_eq!(native["results"][0]["actions"]["view"], "EFFECT_ALLOW", "{native}");
}

#[test]
fn a_corrupt_bundle_survives_baking_and_fails_closed_at_load() {
    // Pre-initialization decodes the bundle: a bad one is kept as the guest's error, not a trap.
    let baked = authz_wasmtime::bake::bake(&common::generic_component(), b"AUTHZB05 not a bundle").unwrap();
    match authz_wasmtime::Pdp::from_bytes(&baked, common::config()) {
        Err(authz_wasmtime::HostError::BundleUnavailable(message)) => {
            assert!(message.contains("too short"), "{message}")
        }
        other => panic!("{:?}", other.map(|p| p.bundle_info().clone())),
    }
}

#[test]
fn the_baked_example_fits_its_size_budget_and_carries_its_bundle_once() {
    let (bundle, _) = common::example_component(None);
    // One serialization for both (bundle bytes are not canonical: maps serialize in hash order).
    let bytes = bundle.to_bytes();
    let generic = common::generic_component();
    let plain = authz_component::bake::bake(&generic, &bytes).unwrap();
    let preinitialized = authz_wasmtime::bake::bake(&generic, &bytes).unwrap();
    // The size budget for the example bundle, baked and pre-initialized. The target is 1 MiB;
    // JWT verification (issue 15) costs ~296 KB, which every component pays until the planned
    // split (a second generic component without it, component/DESIGN.md "Size"): the budget is
    // 1 MiB plus that cost, so that nothing else grows unnoticed. The `handle-http` export
    // (authz-api's HTTP handler in the component, so the JS package maps nothing: issue 17)
    // costs ~72 KB more (the baked example went from 1,335,078 to 1,408,216 bytes). AuthZEN
    // action search (the `actions` export and the search route in `handle-http`, issue 19)
    // ~12 KB more (1,430,009 to 1,441,983 bytes). Query planning (the engine's planner and
    // partial evaluator, the `plan-resources` and `plan-json` exports, the plan route in
    // `handle-http`: issue 20) ~147 KB more (1,441,983 to 1,591,896 bytes). Conditions evaluated
    // without the CEL interpreter where they can be (issue 21: `cel/fast.rs`, the smaller rule
    // table) ~13 KB more (1,591,896 to 1,604,551 bytes).
    const BUDGET: usize = (1 << 20) + 300 * 1024 + 75 * 1024 + 14 * 1024 + 150 * 1024 + 13 * 1024;
    assert!(preinitialized.len() <= BUDGET, "baked example is {} bytes", preinitialized.len());
    // The serialized bundle's checksum: in the injected component, gone from the snapshot
    // (the pre-initializer zeroes the slot once the bundle is decoded).
    let checksum = bytes.get(8..40).unwrap();
    let holds = |haystack: &[u8]| haystack.windows(checksum.len()).any(|w| w == checksum);
    assert!(holds(&plain), "the injected component must carry the bundle");
    assert!(!holds(&preinitialized), "the snapshot still carries the serialized bundle");
}

#[test]
fn baking_the_same_policies_twice_gives_the_same_bytes() {
    // Two builds in one process hash with different random keys, so a map serialized in hash
    // order shows up here as different bytes.
    let (first_bundle, first) = common::example_component(Some("v1"));
    let (second_bundle, second) = common::example_component(Some("v1"));
    assert!(first_bundle.to_bytes() == second_bundle.to_bytes(), "the bundle's bytes differ between builds");
    assert!(first == second, "the baked components differ ({} and {} bytes)", first.len(), second.len());
}
