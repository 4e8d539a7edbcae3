//! Heap allocations per check, counted (never timed): a decision allocates what its answer
//! holds and nothing it could have computed when the bundle was built.
//!
//! The single-check workload of the benchmarks (`benches/policies/single.yaml`: a derived role
//! whose condition compares a resource attribute with the principal's id) answers with a
//! `Vec<CheckOutput>` holding, per input, the request and resource ids, a map of the actions
//! (one node holds up to eleven), each action's name, and the derived roles. The policy and
//! rule names are the bundle's own, shared; nothing else is allocated.

use authz_engine::{Bundle, CheckInput, CheckOptions, Source};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn bundle() -> Result<Bundle, authz_engine::BuildErrors> {
    let policy = include_str!("../../benches/policies/single.yaml");
    Bundle::build(vec![Source::new("single.yaml", policy)], None)
}

fn input(owner: &str, actions: &[&str]) -> CheckInput {
    CheckInput {
        request_id: "bench".into(),
        principal: authz_engine::Principal {
            id: "alice".into(),
            roles: vec!["user".into()],
            attr: serde_json::json!({ "department": "finance", "level": 4 }).as_object().cloned().unwrap_or_default(),
            ..Default::default()
        },
        resource: authz_engine::Resource {
            kind: "document".into(),
            id: "doc-1".into(),
            attr: serde_json::json!({ "owner": owner, "status": "DRAFT", "size": 1024 })
                .as_object()
                .cloned()
                .unwrap_or_default(),
            ..Default::default()
        },
        actions: actions.iter().map(|a| a.to_string()).collect(),
        aux_data: None,
    }
}

/// Allocations made by one `check` of `inputs` (after a first, which may build shared values).
fn allocations(bundle: &Bundle, opts: &CheckOptions, inputs: &[CheckInput]) -> usize {
    drop(bundle.check(opts, inputs));
    let region = Region::new(GLOBAL);
    let out = bundle.check(opts, inputs);
    let stats = region.change();
    drop(out);
    stats.allocations + stats.reallocations
}

#[test]
fn a_check_allocates_only_its_answer() {
    let bundle = bundle().unwrap();
    let opts = CheckOptions { now: authz_engine::parse_time("2026-12-01T00:00:00Z"), ..CheckOptions::default() };
    // Allowed through the derived role: the output vector (1), request and resource ids (2), the
    // actions' map node and the action's name (2), the derived roles' vector and name (2).
    let allowed = allocations(&bundle, &opts, &[input("alice", &["view"])]);
    assert!(allowed <= 7, "an allowed single check made {allowed} allocations (at most 7 expected)");
    // Denied: no derived role.
    let denied = allocations(&bundle, &opts, &[input("bob", &["view"])]);
    assert!(denied <= 5, "a denied single check made {denied} allocations (at most 5 expected)");
    // Each further action adds its name.
    let three = allocations(&bundle, &opts, &[input("alice", &["view", "edit", "delete"])]);
    assert!(three <= allowed + 2, "three actions made {three} allocations, one made {allowed}");
    eprintln!("allocations per check: allowed {allowed}, denied {denied}, three actions {three}");
}
