//! A plan must agree with checks: for generated principals' plans and generated resources, the
//! plan's filter (applied by an evaluator of its own, `authz_conformance::filter`) holds for a
//! resource exactly when CheckResources allows the action on it. No expected output: the
//! engine's two answers are compared with each other, over Cerbos's planner policies (with its
//! suites' principals), the example bundle (with its suite's principals) and Cerbos's test store
//! (with its engine cases' principals, resource kinds, scopes and versions), each plan made once
//! with nothing known of the resource and once with some of its attributes known.
//!
//! Exactly, for well-typed resources: every attribute the filter reads present, with a value of
//! the type the filter compares it with (a database row's columns). For any resource (absent
//! attributes, other types), a filter never allows what a check denies: where a condition
//! fails to evaluate, a check takes a DENY rule (or a `none` clause) as not met, while a
//! filter in Cerbos's operators cannot say "not true" and so leaves the resource out.

use authz_api::plan::{FilterKind, Operand, PlanFilter, PlanInput, PlanResource};
use authz_conformance::filter::{holds, Resource};
use authz_conformance::{corpus, example_grid, files};
use authz_engine::{AuxData, Bundle, CheckInput, CheckOptions, Effect, Principal};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Resources generated per plan.
const RESOURCES_PER_PLAN: usize = 6;
/// Cases the property must hold over, at least.
const MIN_CASES: usize = 10_000;

/// splitmix64: reproducible cases from a fixed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }

    fn pick<'v, T>(&mut self, items: &'v [T]) -> Option<&'v T> {
        items.get(self.below(items.len()))
    }
}

/// What a filter reads of the resource: attribute paths (`a`, `a.b`), the lambda ranges among
/// them with the fields their items are read at, and the values it compares with.
#[derive(Default)]
struct Reads {
    paths: BTreeSet<String>,
    ranges: BTreeMap<String, BTreeSet<String>>,
    values: Vec<Value>,
    /// Per attribute path, the values it is compared with.
    typed: BTreeMap<String, Vec<Value>>,
}

/// A value of `v`'s type that differs from it.
fn other_than(v: &Value) -> Value {
    match v {
        Value::Bool(b) => Value::Bool(!b),
        Value::Number(n) => json!(n.as_f64().unwrap_or(0.0) + 1.0),
        Value::String(s) => Value::String(format!("{s}-other")),
        other => other.clone(),
    }
}

const ATTR: &str = "request.resource.attr.";

fn collect(o: &Operand, reads: &mut Reads) {
    match o {
        Operand::Value(v) => {
            if let Value::Array(items) = v {
                reads.values.extend(items.iter().cloned());
            }
            if let Value::Object(m) = v {
                reads.values.extend(m.keys().map(|k| Value::String(k.clone())));
            }
            reads.values.push(v.clone());
        }
        Operand::Variable(name) => {
            if let Some(path) = name.strip_prefix(ATTR) {
                reads.paths.insert(path.to_string());
            }
        }
        Operand::Expression(e) => {
            if let [Operand::Variable(name), Operand::Value(v)] | [Operand::Value(v), Operand::Variable(name)] =
                e.operands.as_slice()
            {
                if let Some(path) = name.strip_prefix(ATTR) {
                    let list = reads.typed.entry(path.to_string()).or_default();
                    match (e.operator.as_str(), v) {
                        ("in", Value::Array(items)) => list.extend(items.iter().cloned()),
                        _ => list.push(v.clone()),
                    }
                }
            }
            if let (Some(Operand::Variable(range)), Some(Operand::Expression(lambda))) =
                (e.operands.first(), e.operands.get(1))
            {
                if let (Some(path), "lambda") = (range.strip_prefix(ATTR), lambda.operator.as_str()) {
                    let mut fields = BTreeSet::new();
                    let vars: Vec<&str> = lambda
                        .operands
                        .iter()
                        .skip(1)
                        .filter_map(|v| if let Operand::Variable(n) = v { Some(n.as_str()) } else { None })
                        .collect();
                    let mut names = Reads::default();
                    if let Some(body) = lambda.operands.first() {
                        variables(body, &mut names.paths);
                    }
                    for n in &names.paths {
                        for v in &vars {
                            if let Some(field) = n.strip_prefix(&format!("{v}.")) {
                                fields.insert(field.to_string());
                            }
                        }
                    }
                    reads.ranges.entry(path.to_string()).or_default().extend(fields);
                }
            }
            e.operands.iter().for_each(|x| collect(x, reads));
        }
    }
}

fn variables(o: &Operand, out: &mut BTreeSet<String>) {
    match o {
        Operand::Variable(n) => {
            out.insert(n.clone());
        }
        Operand::Expression(e) => e.operands.iter().for_each(|x| variables(x, out)),
        Operand::Value(_) => {}
    }
}

fn set_path(attr: &mut Map<String, Value>, path: &str, v: Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut cur = attr;
    for p in parts {
        let next = cur.entry(p.to_string()).or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            *next = Value::Object(Map::new());
        }
        let Value::Object(m) = next else { return };
        cur = m;
    }
    cur.insert(last.to_string(), v);
}

/// A resource for the reads of a filter. Well-typed: every attribute present, with a value its
/// comparisons take (one of the values compared with, or another of their type; a boolean when
/// it is compared with nothing). Otherwise: each attribute absent now and then, else any of
/// the values the filter compares with, or a few others; lambda ranges get lists of such items.
fn resource(rng: &mut Rng, reads: &Reads, well_typed: bool) -> (String, Map<String, Value>) {
    let mut values = reads.values.clone();
    values.extend([json!(null), json!(true), json!(false), json!(""), json!(0), json!(1), json!("other")]);
    let booleans = [json!(true), json!(false)];
    let mut attr = Map::new();
    for path in &reads.paths {
        if !well_typed && rng.below(7) == 0 {
            continue;
        }
        let typed = |rng: &mut Rng| -> Value {
            match reads.typed.get(path).filter(|t| !t.is_empty()) {
                Some(t) => {
                    let v = rng.pick(t).cloned().unwrap_or(Value::Null);
                    if rng.below(3) == 0 {
                        other_than(&v)
                    } else {
                        v
                    }
                }
                None => rng.pick(&booleans).cloned().unwrap_or(Value::Null),
            }
        };
        let v = match reads.ranges.get(path) {
            Some(fields) => {
                let n = rng.below(4);
                let items = (0..n)
                    .map(|_| {
                        if fields.is_empty() {
                            rng.pick(&values).cloned().unwrap_or(Value::Null)
                        } else {
                            let mut item = Map::new();
                            for f in fields {
                                set_path(&mut item, f, rng.pick(&values).cloned().unwrap_or(Value::Null));
                            }
                            Value::Object(item)
                        }
                    })
                    .collect();
                Value::Array(items)
            }
            None if well_typed => typed(rng),
            None => rng.pick(&values).cloned().unwrap_or(Value::Null),
        };
        set_path(&mut attr, path, v);
    }
    let ids: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
    let id = rng.pick(&ids).map_or("r1", |s| *s).to_string();
    (id, attr)
}

/// The resource attributes the policies under `dir` name (`R.attr.x`, `request.resource.attr.x`),
/// read from their text: the generated resources carry these too, so that a plan that leaves
/// a condition out cannot also leave its attributes out of the cases.
fn named_attributes(dir: &Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for marker in ["R.attr.", "request.resource.attr."] {
                for (at, _) in text.match_indices(marker) {
                    let rest = text.get(at + marker.len()..).unwrap_or_default();
                    let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                    if !name.is_empty() {
                        names.insert(name);
                    }
                }
            }
        }
    }
    names
}

struct Setup {
    name: &'static str,
    bundle: Bundle,
    /// The attributes the policies name.
    attrs: BTreeSet<String>,
    /// Who plans, and for which resources (the kind, and its scope and version).
    targets: Vec<(Principal, PlanResource)>,
    options: CheckOptions,
    aux: Option<AuxData>,
}

#[derive(Default)]
struct Outcome {
    /// Well-typed resources: the filter and the check must agree.
    exact: usize,
    /// Any resource: the filter must not allow what the check denies.
    bounded: usize,
    conditional: usize,
    mismatches: Vec<String>,
}

fn allowed(bundle: &Bundle, opts: &CheckOptions, input: &CheckInput, action: &str) -> bool {
    let out = bundle.check(opts, std::slice::from_ref(input));
    out.first().and_then(|o| o.actions.get(action)).is_some_and(|e| e.effect == Effect::Allow)
}

fn filter_holds(f: &PlanFilter, id: &str, attr: &Map<String, Value>) -> bool {
    match (f.kind, &f.condition) {
        (FilterKind::AlwaysAllowed, _) => true,
        (FilterKind::AlwaysDenied, _) | (FilterKind::Conditional, None) => false,
        (FilterKind::Conditional, Some(c)) => holds(c, &Resource { id, attr }),
    }
}

fn run(setup: &Setup, rng: &mut Rng, outcome: &mut Outcome) {
    let opts = &setup.options;
    for (principal, target) in &setup.targets {
        let kind = &target.kind;
        {
            for action in setup.bundle.actions_for(kind) {
                let plan_input = |attr: Map<String, Value>| PlanInput {
                    request_id: String::new(),
                    actions: vec![action.clone()],
                    principal: principal.clone(),
                    resource: PlanResource { attr, ..target.clone() },
                    aux_data: setup.aux.clone(),
                };
                let plan = setup.bundle.plan(opts, &plan_input(Map::new()));
                let mut reads = Reads { paths: setup.attrs.clone(), ..Reads::default() };
                if let Some(c) = &plan.filter.condition {
                    collect(c, &mut reads);
                    outcome.conditional += 1;
                }
                for n in 0..RESOURCES_PER_PLAN {
                    let well_typed = n % 2 == 0;
                    let (id, attr) = resource(rng, &reads, well_typed);
                    let check = CheckInput {
                        request_id: String::new(),
                        principal: principal.clone(),
                        resource: authz_engine::Resource {
                            kind: kind.clone(),
                            id: id.clone(),
                            attr: attr.clone(),
                            policy_version: target.policy_version.clone(),
                            scope: target.scope.clone(),
                        },
                        actions: vec![action.clone()],
                        aux_data: setup.aux.clone(),
                    };
                    let want = allowed(&setup.bundle, opts, &check, &action);
                    // Once with nothing known, once with a part of the attributes known.
                    let known: Map<String, Value> =
                        attr.iter().filter(|_| rng.below(2) == 0).map(|(k, v)| (k.clone(), v.clone())).collect();
                    let partial = setup.bundle.plan(opts, &plan_input(known.clone()));
                    for (label, filter) in [("nothing known", &plan.filter), ("some known", &partial.filter)] {
                        let got = filter_holds(filter, &id, &attr);
                        let wrong = if well_typed {
                            outcome.exact += 1;
                            got != want
                        } else {
                            outcome.bounded += 1;
                            got && !want
                        };
                        let label = if well_typed { format!("{label}, well-typed") } else { label.to_string() };
                        if wrong && outcome.mismatches.len() < 20 {
                            outcome.mismatches.push(format!(
                                "{}: {} {:?} {action} on {kind} {id} {} ({label}, known {}): check says {}, filter {}",
                                setup.name,
                                principal.id,
                                principal.roles,
                                Value::Object(attr.clone()),
                                Value::Object(known.clone()),
                                if want { "ALLOW" } else { "DENY" },
                                filter.debug_string()
                            ));
                        }
                    }
                }
            }
        }
    }
}

fn planner_setup(dir: &Path) -> Result<Setup, String> {
    let sources = authz::store::load_dir(&dir.join("policies")).unwrap_or_default();
    let bundle = Bundle::build(sources, None).map_err(|e| format!("Cerbos's planner policies must build: {e}"))?;
    let (mut principals, mut kinds) = (Vec::new(), BTreeSet::new());
    for path in files(&dir.join("suite/common"), "yaml") {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let suite: Value = serde_yaml::from_str(&text).unwrap_or_default();
        if let Some(Ok(p)) = suite.get("principal").map(|p| serde_json::from_value::<Principal>(p.clone())) {
            principals.push(p);
        }
        for t in suite.get("tests").and_then(Value::as_array).into_iter().flatten() {
            if let Some(k) = t.get("resource").and_then(|r| r.get("kind")).and_then(Value::as_str) {
                kinds.insert(k.to_string());
            }
        }
    }
    let mut options = CheckOptions::default();
    options.globals.insert("environment".into(), "test".into());
    options.now = authz_engine::parse_time("2024-01-16T10:18:27.395+13:00");
    let mut aux = AuxData::default();
    aux.jwt.insert("customInt".into(), 42.into());
    let attrs = named_attributes(&dir.join("policies"));
    Ok(Setup { name: "query_planner", bundle, attrs, targets: every_kind(&principals, kinds), options, aux: Some(aux) })
}

fn example_setup() -> Result<Setup, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/example");
    let sources = authz::store::load_dir(&dir).unwrap_or_default();
    let bundle = Bundle::build(sources, None).map_err(|e| format!("the example must build: {e}"))?;
    let grid = example_grid()?;
    let principals: Vec<Principal> =
        grid.principals.iter().filter_map(|p| serde_json::from_value(p.clone()).ok()).collect();
    let targets = every_kind(&principals, grid.actions.keys().cloned());
    let options = CheckOptions { now: authz_engine::parse_time("2026-06-01T12:00:00Z"), ..CheckOptions::default() };
    let attrs = named_attributes(&dir);
    Ok(Setup { name: "example", bundle, attrs, targets, options, aux: None })
}

/// Every principal with every kind (root scope, default version).
fn every_kind(principals: &[Principal], kinds: impl IntoIterator<Item = String>) -> Vec<(Principal, PlanResource)> {
    let kinds: Vec<String> = kinds.into_iter().collect();
    let mut targets = Vec::new();
    for p in principals {
        for kind in &kinds {
            targets.push((p.clone(), PlanResource { kind: kind.clone(), ..PlanResource::default() }));
        }
    }
    targets
}

/// Cerbos's test store (`store/`) with the principals and resource kinds, scopes and versions
/// of its engine cases (`engine/*.yaml`): scoped policies, role policies, parental consent,
/// principal policies, variables and outputs.
fn store_setup(store: &Path, cases: &Path) -> Result<Setup, String> {
    let sources = authz::store::load_dir(store).map_err(|e| e.to_string())?;
    let bundle = Bundle::build(sources, None).map_err(|e| format!("Cerbos's store must build: {e}"))?;
    let mut seen = BTreeSet::new();
    let mut targets = Vec::new();
    for path in files(cases, "yaml") {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let case: Value = serde_yaml::from_str(&text).unwrap_or_default();
        for input in case.get("inputs").and_then(Value::as_array).into_iter().flatten() {
            let (Some(p), Some(r)) = (input.get("principal"), input.get("resource")) else { continue };
            let Ok(principal) = serde_json::from_value::<Principal>(p.clone()) else { continue };
            let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            let target = PlanResource {
                kind: text("kind"),
                policy_version: text("policyVersion"),
                scope: text("scope"),
                ..PlanResource::default()
            };
            if seen.insert(format!("{p}|{}|{}|{}", target.kind, target.scope, target.policy_version)) {
                targets.push((principal, target));
            }
        }
    }
    let mut options = CheckOptions::default();
    options.globals.insert("environment".into(), "test".into());
    Ok(Setup { name: "store", bundle, attrs: named_attributes(store), targets, options, aux: None })
}

#[test]
fn a_plan_allows_exactly_what_checks_allow() {
    let mut rng = Rng(0x5EED_0FA1_10E5);
    let mut outcome = Outcome::default();
    let mut setups = vec![example_setup().unwrap_or_else(|e| panic!("{e}"))];
    match corpus("query_planner") {
        Some(dir) => setups.push(planner_setup(&dir).unwrap_or_else(|e| panic!("{e}"))),
        None => eprintln!("!!! the planner policies are missing: the property runs without them"),
    }
    match (corpus("store"), corpus("engine")) {
        (Some(store), Some(cases)) => setups.push(store_setup(&store, &cases).unwrap_or_else(|e| panic!("{e}"))),
        _ => eprintln!("!!! Cerbos's store or engine cases are missing: the property runs without them"),
    }
    let sizes: Vec<String> = setups.iter().map(|s| format!("{} {}", s.name, s.targets.len())).collect();
    println!("plan versus check: principal and resource kind pairs per bundle: {}", sizes.join(", "));
    // Rounds until enough cases (each round draws new resources).
    while outcome.exact < MIN_CASES {
        for setup in &setups {
            run(setup, &mut rng, &mut outcome);
        }
    }
    println!(
        "plan versus check: {} well-typed cases (filter = check), {} others (filter => check), {} conditional plans, {} disagreements",
        outcome.exact,
        outcome.bounded,
        outcome.conditional,
        outcome.mismatches.len()
    );
    assert!(outcome.conditional > 0, "no plan was conditional: the property tested nothing symbolic");
    assert!(outcome.mismatches.is_empty(), "plans disagree with checks:\n{}", outcome.mismatches.join("\n"));
}
