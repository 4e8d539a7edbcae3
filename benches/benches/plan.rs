#![expect(clippy::panic, reason = "benchmark setup: a broken workload must stop the run loudly")]
//! Query planning next to checking, in one run: the single-check workload's bundle, and
//! Cerbos's planner policies (`query_planner/` of Cerbos's test data, read at run time from
//! AUTHZ_CERBOS_TESTDATA or `../shared/cerbos-testdata`; the group is left out, loudly, when
//! the data is absent). Each plan is checked to be conditional before anything is timed.

use authz_api::plan::{FilterKind, PlanInput, PlanResource};
use authz_benches::*;
use authz_engine::{Bundle, CheckInput, CheckOptions, Source};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::path::{Path, PathBuf};

/// `input`'s principal and resource kind, as a plan for its actions with nothing known.
fn plan_of(input: &CheckInput) -> PlanInput {
    PlanInput {
        request_id: input.request_id.clone(),
        actions: input.actions.clone(),
        principal: input.principal.clone(),
        resource: PlanResource { kind: input.resource.kind.clone(), ..PlanResource::default() },
        aux_data: None,
    }
}

fn conditional(bundle: &Bundle, opts: &CheckOptions, plan: &PlanInput) {
    let kind = bundle.plan(opts, plan).filter.kind;
    if kind != FilterKind::Conditional {
        panic!("the benchmarked plan must be conditional, not {kind:?}");
    }
}

fn example(c: &mut Criterion) {
    let bundle = authz_bundle();
    let opts = CheckOptions::default();
    let input = [authz_input(0, &["edit"])];
    let plan = plan_of(&input[0]);
    conditional(&bundle, &opts, &plan);
    let mut g = c.benchmark_group("plan_single_check_workload");
    g.bench_function("check", |b| b.iter(|| black_box(bundle.check(&opts, black_box(&input)))));
    g.bench_function("plan", |b| b.iter(|| black_box(bundle.plan(&opts, black_box(&plan)))));
    g.finish();
}

fn sources(dir: &Path, root: &Path, out: &mut Vec<Source>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, root, out);
        } else if let (Ok(text), Ok(rel)) = (std::fs::read_to_string(&path), path.strip_prefix(root)) {
            out.push(Source::new(rel.to_string_lossy(), text));
        }
    }
}

fn testdata() -> PathBuf {
    std::env::var_os("AUTHZ_CERBOS_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/cerbos-testdata"))
}

/// Harry's `view` of leave requests in Cerbos's planner policies: derived roles, variables, a
/// DENY and an ALLOW across three roles.
fn cerbos_planner_policies(c: &mut Criterion) {
    let dir = testdata().join("query_planner/policies");
    if !dir.is_dir() {
        eprintln!("!!! {} is missing: the planner-policies group is not run", dir.display());
        return;
    }
    let mut files = Vec::new();
    sources(&dir, &dir, &mut files);
    let bundle = Bundle::build(files, None).unwrap_or_else(|e| panic!("Cerbos's planner policies must build: {e}"));
    let opts = CheckOptions::default();
    let input: CheckInput = serde_json::from_value(serde_json::json!({
        "requestId": "bench",
        "principal": {"id": "harry", "policyVersion": "default", "roles": ["employee", "ex_intern", "user"],
                      "attr": {"teams": {"team1": "employee", "team2": "user"}, "account_id": "abc123"}},
        "resource": {"kind": "leave_request", "id": "r1", "policyVersion": "default",
                     "attr": {"owner": "harry", "hidden_from_employee": false}},
        "actions": ["view"],
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let plan = plan_of(&input);
    conditional(&bundle, &opts, &plan);
    let input = [input];
    let mut g = c.benchmark_group("plan_cerbos_planner_policies");
    g.bench_function("check", |b| b.iter(|| black_box(bundle.check(&opts, black_box(&input)))));
    g.bench_function("plan", |b| b.iter(|| black_box(bundle.plan(&opts, black_box(&plan)))));
    g.finish();
}

criterion_group!(benches, example, cerbos_planner_policies);
criterion_main!(benches);
