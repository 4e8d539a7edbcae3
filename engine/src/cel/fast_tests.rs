//! The fast evaluator (`fast.rs`) against the interpreter, on generated requests: for every
//! expression of Cerbos's test store, of this repository's policies and of a list written to
//! reach each case of `fast.rs`, wherever the fast form answers, the interpreter must give the
//! same value (and no error). Attribute values are generated of every JSON type, null, and
//! missing, from the names and literals the expression itself uses.

use super::fast::FVal;
use super::{from_json, map_val, narrow, prepare_runtime, CompiledExpr};
use crate::activation::{RequestVals, Scope};
use crate::table::{Cond, Params, Table};
use crate::{Bundle, Source};
use authz_api::model::{Attributes, AuxData, CheckInput, Principal, Resource};
use cel::common::ast::{Expr, LiteralValue};
use cel::Value;
use proptest::prelude::Rng as _;
use proptest::test_runner::{RngAlgorithm, TestRng};
use serde_json::{json, Value as Json};
use std::path::{Path, PathBuf};

/// Generated requests per expression.
const CASES: usize = 300;

/// Expressions that reach every case of the fast evaluator, whatever the corpora hold.
const WRITTEN: &[&str] = &[
    "R.attr.x == P.attr.x",
    "R.attr.x != P.attr.y",
    "R.attr.x < P.attr.y",
    "R.attr.x <= 2",
    "R.attr.x > 1.5",
    "R.attr.x >= 18446744073709551615u",
    "R.attr.x == -1",
    "R.attr.x == null",
    "R.attr.x in [1, 'a', null, 2.5, true]",
    "R.attr.x in R.attr.y",
    "'a' in R.attr.x",
    "P.id in R.attr.x",
    "'admin' in P.roles",
    "P.roles[0] == 'a'",
    "R.attr.x[0] == P.id",
    "R.attr.x['a'] == 'b'",
    "request.resource.attr.x['x'] == request.principal.attr.x",
    "has(R.attr.x)",
    "has(R.attr.x.a)",
    "has(P.attr.x) && P.attr.x.a == R.attr.y",
    "has(request.auxData.jwt.sub)",
    "request.auxData.jwt.sub == P.id",
    "request.aux_data.jwt['x'] != R.attr.x",
    "size(R.attr.x) > 1",
    "R.attr.x.size() == 0",
    "size(P.roles) == 2",
    "R.attr.x.startsWith('a')",
    "R.attr.x.endsWith(P.attr.y)",
    "R.attr.x.contains(P.id)",
    "R.attr.x ? R.attr.y : P.attr.y",
    "!R.attr.x",
    "R.attr.x && P.attr.x || R.attr.y",
    "R.attr.x || R.attr.y == 1",
    "(R.attr.x == 1) == (P.attr.x == 1)",
    "G.x == R.attr.x",
    "globals.y in R.attr.x",
    "P.scope == R.scope && R.kind == 'doc' && R.id != P.id",
    "P.policyVersion == R.policyVersion",
    "R.attr",
    "R.attr.x",
    "P",
    "R.attr.x.y.z == 'a'",
];

/// A deterministic generator (proptest's, from its fixed seed): every run tests the same
/// requests.
struct Rng(TestRng);

impl Rng {
    fn new() -> Rng {
        Rng(TestRng::deterministic_rng(RngAlgorithm::ChaCha))
    }

    fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// The names and literals an expression uses: the material of its requests.
#[derive(Default)]
struct Pool {
    keys: Vec<String>,
    strings: Vec<String>,
    numbers: Vec<Json>,
}

impl Pool {
    fn of(e: &CompiledExpr) -> Pool {
        let mut pool = Pool {
            keys: vec!["x".into(), "a".into()],
            strings: vec![String::new(), "a".into(), "ü".into(), "alice".into()],
            numbers: vec![json!(0), json!(1), json!(-1), json!(2.5), json!(2.0), json!(u64::MAX)],
        };
        super::walk::visit(e.ast(), &mut |x| match &x.expr {
            Expr::Select(s) => pool.keys.push(s.field.clone()),
            Expr::Literal(LiteralValue::String(s)) => {
                pool.keys.push(s.inner().to_string());
                pool.strings.push(s.inner().to_string());
            }
            Expr::Literal(LiteralValue::Int(i)) => pool.numbers.push(json!(*i.inner())),
            Expr::Literal(LiteralValue::UInt(u)) => pool.numbers.push(json!(*u.inner())),
            Expr::Literal(LiteralValue::Double(d)) => pool.numbers.push(json!(*d.inner())),
            _ => {}
        });
        pool.keys.sort();
        pool.keys.dedup();
        pool.strings.extend(pool.keys.iter().cloned());
        pool
    }

    /// A value of any JSON type, nested up to `depth`.
    fn value(&self, rng: &mut Rng, depth: usize) -> Json {
        match rng.below(if depth == 0 { 5 } else { 7 }) {
            0 => Json::Null,
            1 => Json::Bool(rng.chance(2)),
            2 => rng.pick(&self.numbers).clone(),
            3 | 4 => Json::String(rng.pick(&self.strings).clone()),
            5 => Json::Array((0..rng.below(4)).map(|_| self.value(rng, depth - 1)).collect()),
            _ => Json::Object(self.object(rng, depth - 1)),
        }
    }

    /// An object with some of the pool's keys (each missing half the time).
    fn object(&self, rng: &mut Rng, depth: usize) -> Attributes {
        let mut out = Attributes::new();
        for k in &self.keys {
            if rng.chance(2) {
                out.insert(k.clone(), self.value(rng, depth));
            }
        }
        out
    }

    fn input(&self, rng: &mut Rng) -> (CheckInput, Attributes) {
        let roles = self.strings.iter().filter(|_| rng.chance(3)).cloned().collect();
        let input = CheckInput {
            request_id: String::new(),
            principal: Principal {
                id: rng.pick(&self.strings).clone(),
                policy_version: rng.pick(&self.strings).clone(),
                roles,
                attr: self.object(rng, 2),
                scope: rng.pick(&self.strings).clone(),
            },
            resource: Resource {
                kind: rng.pick(&self.strings).clone(),
                id: rng.pick(&self.strings).clone(),
                policy_version: rng.pick(&self.strings).clone(),
                attr: self.object(rng, 2),
                scope: rng.pick(&self.strings).clone(),
            },
            actions: Vec::new(),
            aux_data: rng.chance(2).then(|| AuxData { jwt: self.object(rng, 1), ..AuxData::default() }),
        };
        (input, self.object(rng, 1))
    }
}

/// Whether the fast evaluator's value is the interpreter's.
fn same(f: FVal<'_>, v: &Value) -> bool {
    match (f, v) {
        (FVal::Null, Value::Null) => true,
        (FVal::Bool(a), Value::Bool(b)) => a == *b,
        (FVal::Int(a), Value::Int(b)) => a == *b,
        (FVal::UInt(a), Value::UInt(b)) => a == *b,
        (FVal::Double(a), Value::Float(b)) => a == *b || (a.is_nan() && b.is_nan()),
        (FVal::Str(a), Value::String(b)) => a == b.as_str(),
        (FVal::Arr(a), _) => from_json(&Json::Array(a.to_vec())) == *v,
        (FVal::Obj(m), _) => from_json(&Json::Object(m.clone())) == *v,
        (FVal::EmptyObj, Value::Map(m)) => m.map.is_empty(),
        (FVal::Roles(r), Value::List(l)) => {
            r.len() == l.len() && r.iter().zip(l.iter()).all(|(a, b)| same(FVal::Str(a), b))
        }
        (FVal::Lits(r), Value::List(l)) => r.len() == l.len() && r.iter().zip(l.iter()).all(|(a, b)| same(a.val(), b)),
        // Maps of fixed fields: their fields are compared where selected.
        (FVal::Principal | FVal::Resource | FVal::Request | FVal::Aux, Value::Map(_)) => true,
        _ => false,
    }
}

/// Every expression of a table, with the parameters it is evaluated with.
fn expressions(table: &Table) -> Vec<(&CompiledExpr, &Params)> {
    fn cond<'t>(c: &'t Cond, p: &'t Params, out: &mut Vec<(&'t CompiledExpr, &'t Params)>) {
        match c {
            Cond::Expr(e) => out.push((e, p)),
            Cond::All(cs) | Cond::Any(cs) | Cond::None(cs) => cs.iter().for_each(|c| cond(c, p, out)),
        }
    }
    let mut out = Vec::new();
    for scope in table.scopes.values().flat_map(|s| s.values()) {
        for row in &scope.rows {
            let p = table.params(row.params);
            row.condition.iter().for_each(|c| cond(c, p, &mut out));
            for o in row.output.iter().flat_map(|o| [&o.rule_activated, &o.condition_not_met]) {
                out.extend(o.iter().map(|e| (e, p)));
            }
        }
        for rp in &scope.role_policies {
            let p = table.params(rp.params);
            rp.rules.iter().filter_map(|r| r.condition.as_ref()).for_each(|c| cond(c, p, &mut out));
        }
    }
    for dr in &table.derived {
        dr.condition.iter().for_each(|c| cond(c, table.params(dr.params), &mut out));
    }
    for p in &table.params {
        out.extend(p.variables.iter().map(|(_, e)| (e, p)));
    }
    out
}

/// What one corpus gave.
#[derive(Default, Debug)]
struct Tally {
    expressions: usize,
    lowered: usize,
    evaluations: usize,
    answered: usize,
    mismatches: Vec<String>,
}

fn compare(table: &Table, exprs: &[(&CompiledExpr, &Params)], tally: &mut Tally) {
    let rt = prepare_runtime().expect("the CEL runtime");
    let mut rng = Rng::new();
    let (empty_vars, runtime) = (map_val(vec![]), crate::check::empty_runtime());
    for (e, params) in exprs {
        tally.expressions += 1;
        let Some(fast) = e.fast() else { continue };
        tally.lowered += 1;
        let pool = Pool::of(e);
        for _ in 0..CASES {
            let (input, globals) = pool.input(&mut rng);
            let (pscope, rscope) = (input.principal.scope.as_str(), input.resource.scope.as_str());
            let req = RequestVals::new(&input, pscope, rscope, &globals, None);
            tally.evaluations += 1;
            let Some(answer) = fast.eval(&req.fast(&params.constants_json)) else { continue };
            tally.answered += 1;
            let scope = Scope {
                req: &req,
                vars: empty_vars.as_ref(),
                consts: params.constants.as_ref(),
                runtime,
                zones: &table.zones,
            };
            let mut ctx = narrow(rt.root()).new_inner_scope();
            ctx.set_variable_resolver(&scope);
            let interpreted = e.eval(&ctx);
            if !interpreted.as_ref().is_ok_and(|v| same(answer, v)) {
                tally.mismatches.push(format!(
                    "`{}`: fast {answer:?}, interpreter {interpreted:?}, on {}",
                    e.source(),
                    serde_json::to_string(&input).unwrap_or_default()
                ));
            }
        }
    }
}

#[expect(clippy::disallowed_methods, reason = "the test reads policies from disk; the engine itself does not")]
fn sources(dir: &Path) -> Vec<Source> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<Source>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if let (Ok(rel), Ok(text)) = (path.strip_prefix(root), std::fs::read_to_string(&path)) {
                out.push(Source::new(rel.to_string_lossy(), text));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

fn check_corpus(name: &str, table: &Table, exprs: &[(&CompiledExpr, &Params)], tallies: &mut Vec<(String, Tally)>) {
    let mut tally = Tally::default();
    compare(table, exprs, &mut tally);
    tallies.push((name.to_string(), tally));
}

/// This repository's example bundles.
#[expect(clippy::disallowed_methods, reason = "the test reads policies from disk; the engine itself does not")]
fn policy_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("policies/").flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

#[expect(clippy::disallowed_methods, reason = "the test locates Cerbos's test data as the conformance tests do")]
fn testdata() -> PathBuf {
    match std::env::var_os("AUTHZ_CERBOS_TESTDATA") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/cerbos-testdata"),
    }
}

#[test]
fn fast_evaluation_equals_the_interpreter() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut tallies = Vec::new();
    let mut bundles = Vec::new();
    let store = testdata().join("store");
    if store.is_dir() {
        bundles.push(("Cerbos's test store".to_string(), store));
    } else {
        eprintln!(
            "\n!!! CERBOS TEST DATA NOT FOUND at {}: its store's expressions are SKIPPED here.\n",
            store.display()
        );
    }
    bundles.extend(policy_dirs(&root.join("policies")).into_iter().map(|d| (d.display().to_string(), d)));
    for (name, dir) in &bundles {
        let bundle = Bundle::build(sources(dir), None).unwrap_or_else(|e| panic!("{name}: {e}"));
        let exprs = expressions(bundle.table());
        check_corpus(name, bundle.table(), &exprs, &mut tallies);
    }
    let rt = prepare_runtime().expect("the CEL runtime");
    let written: Vec<CompiledExpr> = WRITTEN.iter().map(|s| rt.compile(s).expect(s)).collect();
    let none = Table::default();
    let params = Params::new(0, &json!({}), Vec::new());
    let exprs: Vec<_> = written.iter().map(|e| (e, &params)).collect();
    check_corpus("written for fast.rs", &none, &exprs, &mut tallies);

    for (name, t) in &tallies {
        eprintln!(
            "{name}: {} expressions, {} with a fast form; {} generated evaluations, {} answered fast, {} mismatches",
            t.expressions,
            t.lowered,
            t.evaluations,
            t.answered,
            t.mismatches.len()
        );
    }
    let mismatches: Vec<&String> = tallies.iter().flat_map(|(_, t)| &t.mismatches).collect();
    assert!(
        mismatches.is_empty(),
        "{} mismatches, e.g.:\n{}",
        mismatches.len(),
        mismatches.iter().take(10).map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
    );
    // The written expressions all have a fast form, and the generated requests reach it:
    // without this, a fast evaluator that never answered would pass.
    let (_, w) = tallies.last().expect("the written expressions' tally");
    assert_eq!(w.lowered, WRITTEN.len(), "every written expression has a fast form");
    assert!(w.answered * 4 >= w.evaluations, "the fast form answered {} of {} evaluations", w.answered, w.evaluations);
}
