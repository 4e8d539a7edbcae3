#![expect(
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unwrap_used,
    reason = "benchmark setup: a broken workload must stop the run loudly"
)]
//! The workloads of `benches/benches/check.rs` (authz against Cedar and regorus) through the
//! benchmark bundle baked into the generic component and run by `authz-wasmtime`, under the same
//! criterion group and function names: `cargo bench -p authz-benches -p authz-wasmtime` runs
//! both in one run, and criterion reports them side by side. Here rather than with the peers:
//! the peers' graph is checked apart from the tests' (scripts/lint-checks.sh), and with this
//! benchmark in it that check compiled wasmtime a second time; here it builds with the tests
//! (`cargo test --benches` runs each benchmark once).

use authz_benches::{authz_bundle, authz_input};
use authz_engine::CheckOptions;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

#[path = "shared/component.rs"]
mod component;

const BATCH_ACTIONS: [&str; 5] = ["view", "edit", "delete", "approve", "share"];

/// The single check through the baked component in wasmtime (authz-wasmtime defaults:
/// precompiled, pre-instantiated, pooling allocator, fuel metering on).
fn single_check(c: &mut Criterion) {
    let bundle = authz_bundle();
    let opts = CheckOptions::default();
    let input = [authz_input(0, &["view"])];
    let mut g = c.benchmark_group("single_check");
    let baked = component::baked(&bundle).unwrap_or_else(|e| panic!("{e}"));
    let pdp = authz_wasmtime::Pdp::from_bytes(&baked, component::config(8)).unwrap();
    let typed = authz_conformance::runtime::typed_request(&opts, &input[0]);
    let json =
        authz_api::cerbos::encode_request(&opts, &authz_api::cerbos::CheckResourcesRequest::for_input(&input[0]))
            .to_string();
    assert_eq!(pdp.check(&typed).unwrap().results[0].actions[0].effect, authz_wasmtime::types::Effect::Allow);
    g.bench_function("authz_component_typed", |bch| bch.iter(|| black_box(pdp.check(black_box(&typed)).is_ok())));
    g.bench_function("authz_component_json", |bch| bch.iter(|| black_box(pdp.check_json(black_box(&json)).is_ok())));
    // A fresh instance per decision: instantiate from the pool, decode the bundle, decide.
    let fresh = authz_wasmtime::Pdp::from_bytes(&baked, component::config(0)).unwrap();
    g.bench_function("authz_component_fresh_instance", |bch| {
        bch.iter(|| black_box(fresh.check(black_box(&typed)).is_ok()))
    });
    g.finish();
}

/// The batch (1 principal x 50 resources x 5 actions), one typed call per resource.
fn batch(c: &mut Criterion) {
    let bundle = authz_bundle();
    let opts = CheckOptions::default();
    let mut g = c.benchmark_group("batch_50x5");
    let inputs: Vec<_> = (0..50).map(|i| authz_input(i, &BATCH_ACTIONS)).collect();
    let pdp = authz_wasmtime::Pdp::from_bytes(
        &component::baked(&bundle).unwrap_or_else(|e| panic!("{e}")),
        component::config(8),
    )
    .unwrap();
    let typed: Vec<_> = inputs.iter().map(|i| authz_conformance::runtime::typed_request(&opts, i)).collect();
    g.bench_function("authz_component_typed", |bch| {
        bch.iter(|| typed.iter().filter(|t| pdp.check(black_box(t)).is_ok()).count())
    });
    g.finish();
}

criterion_group!(benches, single_check, batch);
criterion_main!(benches);
