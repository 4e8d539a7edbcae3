//! The generic component imports nothing and exports exactly the `authz` interface; the full
//! world, as `wasm-tools component wit` prints it, is compared with `component/tests/world.golden.wit` by
//! `scripts/test.sh`.

mod common;

#[test]
fn the_component_imports_nothing_and_exports_authz() {
    let engine = wasmtime::Engine::default();
    let component = wasmtime::component::Component::new(&engine, common::generic_component()).unwrap();
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(&engine).map(|(name, _)| name.to_string()).collect();
    let exports: Vec<String> = ty.exports(&engine).map(|(name, _)| name.to_string()).collect();
    assert_eq!(imports, Vec::<String>::new());
    assert_eq!(exports, vec!["authz:pdp/authz@0.1.0".to_string()]);
}
