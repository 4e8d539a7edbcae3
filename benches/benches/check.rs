#![expect(
    clippy::indexing_slicing,
    clippy::panic,
    reason = "benchmark setup: a broken workload must stop the run loudly"
)]
//! authz against Cedar and regorus, side by side in one run, on equivalent
//! policies and data. Decisions are asserted equal before anything is timed. The same
//! workloads through the baked component are `hosts/wasmtime/benches/component.rs`, under the
//! same group names (`cargo bench -p authz-benches -p authz-wasmtime` runs both).

use authz_benches::*;
use authz_engine::Effect;
use authz_engine::{Bundle, CheckOptions};
use cedar_policy::{Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::str::FromStr;

const BATCH_ACTIONS: [&str; 5] = ["view", "edit", "delete", "approve", "share"];

fn uid(s: &str) -> EntityUid {
    EntityUid::from_str(s).unwrap_or_else(|e| panic!("bad uid {s}: {e}"))
}

struct Cedar {
    policies: PolicySet,
    entities: Entities,
    authorizer: Authorizer,
}

impl Cedar {
    fn new(docs: usize) -> Self {
        let policies = PolicySet::from_str(CEDAR_SINGLE).unwrap_or_else(|e| panic!("cedar policies: {e}"));
        let entities = Entities::from_json_value(cedar_entities_json(docs), None)
            .unwrap_or_else(|e| panic!("cedar entities: {e}"));
        Cedar { policies, entities, authorizer: Authorizer::new() }
    }

    fn request(i: usize, action: &str) -> Request {
        Request::new(
            uid(r#"User::"alice""#),
            uid(&format!(r#"Action::"{action}""#)),
            uid(&format!(r#"Document::"doc-{i}""#)),
            Context::empty(),
            None,
        )
        .unwrap_or_else(|e| panic!("cedar request: {e}"))
    }

    fn allowed(&self, r: &Request) -> bool {
        self.authorizer.is_authorized(r, &self.policies, &self.entities).decision() == Decision::Allow
    }
}

fn rego() -> regorus::CompiledPolicy {
    let mut engine = regorus::Engine::new();
    engine.add_policy("authz.rego".into(), REGO_SINGLE.into()).unwrap_or_else(|e| panic!("rego: {e}"));
    engine.compile_with_entrypoint(&"data.authz.allow".into()).unwrap_or_else(|e| panic!("rego compile: {e}"))
}

fn rego_input_value(i: usize, action: &str) -> regorus::Value {
    regorus::Value::from_json_str(&rego_input(i, action).to_string()).unwrap_or_else(|e| panic!("rego input: {e}"))
}

fn rego_allowed(p: &regorus::CompiledPolicy, input: regorus::Value) -> bool {
    p.eval_with_input(input).map(|v| v == regorus::Value::from(true)).unwrap_or(false)
}

fn authz_allowed(b: &Bundle, opts: &CheckOptions, i: usize, action: &str) -> bool {
    b.check(opts, &[authz_input(i, &[action])])[0].actions[action].effect == Effect::Allow
}

/// The three engines must agree on every decision the benchmarks time.
fn assert_equivalent(b: &Bundle, opts: &CheckOptions, cedar: &Cedar, rego: &regorus::CompiledPolicy) {
    for i in 0..50 {
        for action in BATCH_ACTIONS {
            let a = authz_allowed(b, opts, i, action);
            let c = cedar.allowed(&Cedar::request(i, action));
            let r = rego_allowed(rego, rego_input_value(i, action));
            assert!(a == c && c == r, "engines disagree on doc-{i}/{action}: authz {a}, cedar {c}, rego {r}");
        }
    }
}

fn single_check(c: &mut Criterion) {
    let bundle = authz_bundle();
    let opts = CheckOptions::default();
    let cedar = Cedar::new(50);
    let rego = rego();
    assert_equivalent(&bundle, &opts, &cedar, &rego);

    let mut g = c.benchmark_group("single_check");
    let input = [authz_input(0, &["view"])];
    g.bench_function("authz", |bch| bch.iter(|| black_box(bundle.check(&opts, black_box(&input)))));
    let req = Cedar::request(0, "view");
    g.bench_function("cedar", |bch| bch.iter(|| black_box(cedar.allowed(black_box(&req)))));
    let rin = rego_input_value(0, "view");
    g.bench_function("regorus", |bch| bch.iter(|| black_box(rego_allowed(&rego, black_box(rin.clone())))));

    g.finish();
}

fn batch(c: &mut Criterion) {
    let bundle = authz_bundle();
    let opts = CheckOptions::default();
    let cedar = Cedar::new(50);
    let rego = rego();
    let mut g = c.benchmark_group("batch_50x5");
    let inputs: Vec<_> = (0..50).map(|i| authz_input(i, &BATCH_ACTIONS)).collect();
    g.bench_function("authz", |bch| bch.iter(|| black_box(bundle.check(&opts, black_box(&inputs)))));
    let reqs: Vec<_> = (0..50).flat_map(|i| BATCH_ACTIONS.iter().map(move |a| Cedar::request(i, a))).collect();
    g.bench_function("cedar", |bch| bch.iter(|| reqs.iter().filter(|r| cedar.allowed(r)).count()));
    let rins: Vec<_> = (0..50).flat_map(|i| BATCH_ACTIONS.iter().map(move |a| rego_input_value(i, a))).collect();
    g.bench_function("regorus", |bch| bch.iter(|| rins.iter().filter(|r| rego_allowed(&rego, (*r).clone())).count()));
    g.finish();
}

fn wide_attributes(c: &mut Criterion) {
    let bundle = authz_bundle();
    let opts = CheckOptions::default();
    let mut g = c.benchmark_group("single_check_40_attributes");
    let mut input = authz_input(0, &["view"]);
    for i in 0..40 {
        input.principal.attr.insert(format!("p{i}"), serde_json::json!({"nested": [i, "x"], "s": "value"}));
        input.resource.attr.insert(format!("r{i}"), serde_json::json!({"nested": [i, "y"], "s": "value"}));
    }
    let input = [input];
    g.bench_function("authz", |bch| bch.iter(|| black_box(bundle.check(&opts, black_box(&input)))));
    g.finish();
}

fn bundle_size(c: &mut Criterion) {
    let opts = CheckOptions::default();
    let mut g = c.benchmark_group("bundle_size");
    for kinds in [1usize, 1000] {
        let bundle = Bundle::build(large_bundle_sources(kinds, 20), None).unwrap_or_else(|e| panic!("{e}"));
        let mut input = authz_input(0, &["view"]);
        input.resource.kind = "kind_0".into();
        assert_eq!(bundle.check(&opts, std::slice::from_ref(&input))[0].actions["view"].effect, Effect::Allow);
        let input = [input];
        g.bench_function(format!("authz_{kinds}_kinds"), |bch| {
            bch.iter(|| black_box(bundle.check(&opts, black_box(&input))))
        });
    }
    g.finish();
}

fn bundle_build_and_load(c: &mut Criterion) {
    let sources = large_bundle_sources(1000, 20);
    let mut g = c.benchmark_group("bundle_1000_kinds");
    g.sample_size(10);
    g.bench_function("build", |bch| bch.iter(|| black_box(Bundle::build(sources.clone(), None).is_ok())));
    let bytes = Bundle::build(sources.clone(), None).unwrap_or_else(|e| panic!("{e}")).to_bytes();
    g.bench_function("load_from_bytes", |bch| bch.iter(|| black_box(Bundle::from_bytes(black_box(&bytes)).is_ok())));
    g.finish();
}

criterion_group!(benches, single_check, wide_attributes, batch, bundle_size, bundle_build_and_load);
criterion_main!(benches);
