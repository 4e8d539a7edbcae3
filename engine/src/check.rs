//! Evaluation of one [`CheckInput`] against the rule [`Table`], following Cerbos's
//! order: principal policies first, then resource and role policies; within a role,
//! scopes from the most specific up, a DENY ends the search, an ALLOW ends it unless
//! the scope requires parental consent; across roles the first ALLOW wins.

use crate::activation::{RequestVals, Scope};
use crate::cel::fast::FVal;
use crate::cel::{map_val, narrow, owned_val, to_json, CompiledExpr, Runtime};
use crate::policy::{Effect, ScopePermissions};
use crate::table::{
    principal_key, resource_key, Cond, KindRows, Names, Outputs, Params, PassKind, Row, ScopeRows, Table,
};
use authz_api::model::{ActionEffect, CheckInput, CheckOptions, CheckOutput, EvaluationError, OutputEntry, Principal};
use cel::common::types::{CelMap, CelMapKey};
use cel::common::value::Val;
use cel::Value;
use smallvec::SmallVec;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

/// The policy name reported when nothing matched.
pub(crate) const NO_MATCH: &str = "NO_MATCH";

static NAMES: OnceLock<[Arc<str>; 2]> = OnceLock::new();

/// [`NO_MATCH`] and the empty name, shared by every answer.
fn names() -> &'static [Arc<str>; 2] {
    NAMES.get_or_init(|| [Arc::from(NO_MATCH), Arc::from("")])
}

fn no_match_name() -> &'static Arc<str> {
    &names()[0]
}

fn empty_name() -> &'static Arc<str> {
    &names()[1]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    NoMatch,
    Allow,
    Deny,
    /// A condition failed to evaluate under strict evaluation: DENY, and no other role or
    /// policy kind is searched for the action (Cerbos ends its search there).
    Failed,
}

/// How an action was decided, borrowing the names from the table and the request's place.
#[derive(Debug, Clone, Copy)]
struct EffectInfo<'s> {
    outcome: Outcome,
    policy: &'s Arc<str>,
    scope: &'s str,
    rule: &'s Arc<str>,
}

/// The variables of one parameter set evaluated so far for an input.
struct VarCache {
    /// The parameter set ([`Params::id`]).
    id: usize,
    /// Which of its variables (by index) were evaluated, successfully or not.
    done: Vec<bool>,
    /// How many are not yet: none left, nothing to work out.
    remaining: usize,
    /// Their values by name; taken out only while a variable evaluates over the others.
    map: Option<CelMap<'static>>,
}

/// Per-input evaluation state.
struct Evaluator<'r, 'a> {
    rt: &'r Runtime,
    table: &'r Table,
    req: RequestVals<'a>,
    /// Variables per parameter set, evaluated once per input (few: searched linearly).
    var_cache: Vec<VarCache>,
    /// Derived role conditions, evaluated once per input: (holds, failed to evaluate).
    dr_cache: SmallVec<[(usize, (bool, bool)); 4]>,
    errors: Vec<EvaluationError>,
    outputs: Vec<OutputEntry>,
    /// `runtime` values built so far, one per scope with derived roles.
    runtimes: Vec<Box<dyn Val + 'static>>,
    /// Index into `runtimes` for the scope being evaluated; `None` is the empty runtime.
    runtime: Option<usize>,
    /// Evaluation failures so far (including repeats), for strict evaluation.
    failures: usize,
}

static EMPTY_RUNTIME: OnceLock<Box<dyn Val + 'static>> = OnceLock::new();
static EMPTY_MAP: OnceLock<Box<dyn Val + 'static>> = OnceLock::new();

pub(crate) fn empty_runtime() -> &'static (dyn Val + 'static) {
    EMPTY_RUNTIME.get_or_init(|| runtime_value(&[])).as_ref()
}

fn empty_map() -> &'static (dyn Val + 'static) {
    EMPTY_MAP.get_or_init(|| map_val(vec![])).as_ref()
}

/// Builds the shared empty values now (see [`crate::prepare`]).
pub(crate) fn prepare_statics() {
    let _ = (empty_runtime(), empty_map(), names());
}

fn runtime_value(edr: &[&str]) -> Box<dyn Val + 'static> {
    let mut sorted: Vec<&str> = edr.to_vec();
    sorted.sort_unstable();
    let list = || owned_val(Value::List(Arc::new(sorted.iter().map(|s| Value::from(*s)).collect())));
    map_val(vec![("effectiveDerivedRoles", list()), ("effective_derived_roles", list())])
}

impl<'r, 'a> Evaluator<'r, 'a> {
    fn record(&mut self, expr: &CompiledExpr, message: String) {
        self.failures += 1;
        let e = EvaluationError { expression: expr.source().trim().to_string(), message };
        if !self.errors.contains(&e) {
            self.errors.push(e);
        }
    }

    fn run(&self, expr: &CompiledExpr, vars: &(dyn Val + '_), consts: &(dyn Val + '_)) -> Result<Value, String> {
        let runtime = self.runtime.and_then(|i| self.runtimes.get(i)).map(|b| b.as_ref()).unwrap_or(empty_runtime());
        let scope = Scope { req: &self.req, vars, consts, runtime, zones: &self.table.zones };
        let root = narrow(self.rt.root());
        let mut ctx = root.new_inner_scope();
        ctx.set_variable_resolver(&scope);
        expr.eval(&ctx)
    }

    /// Evaluates, in dependency order and once per input, the variables of the parameter set
    /// that `expr` reads, directly or through other variables; no other (Cerbos inlines
    /// variables into the expressions that use them, so an unused one never runs).
    fn ensure_variables(&mut self, params: &Params, expr: &CompiledExpr) {
        if params.variables.is_empty() {
            return;
        }
        let slot = match self.var_cache.iter().position(|c| c.id == params.id) {
            Some(i) if self.var_cache.get(i).is_some_and(|c| c.remaining == 0) => return,
            Some(i) => i,
            None => {
                self.var_cache.push(VarCache {
                    id: params.id,
                    done: vec![false; params.variables.len()],
                    remaining: params.variables.len(),
                    map: Some(CelMap::from(HashMap::new())),
                });
                self.var_cache.len() - 1
            }
        };
        let reads = |e: &CompiledExpr, name: &str| e.variables().is_none_or(|v| v.iter().any(|n| n == name));
        // Variables only read earlier ones: walking back, each needed one marks what it reads.
        let mut needed = crate::bits::Bits::new(params.variables.len());
        for (i, (name, _)) in params.variables.iter().enumerate() {
            if reads(expr, name) {
                needed.set(i);
            }
        }
        for i in (0..params.variables.len()).rev() {
            if !needed.get(i) {
                continue;
            }
            let Some((_, by)) = params.variables.get(i) else { continue };
            for (j, (name, _)) in params.variables.iter().enumerate().take(i) {
                if reads(by, name) {
                    needed.set(j);
                }
            }
        }
        for (i, (name, var)) in params.variables.iter().enumerate() {
            let todo = needed.get(i) && self.var_cache.get(slot).and_then(|c| c.done.get(i)) == Some(&false);
            if !todo {
                continue;
            }
            let Some(so_far) = self.var_cache.get_mut(slot).and_then(|c| c.map.take()) else { continue };
            let result = self.run(var, &so_far, params.constants.as_ref());
            let mut map = so_far.into_inner();
            match result {
                Ok(v) => {
                    map.insert(CelMapKey::from(name.clone()), owned_val(v));
                }
                Err(e) => self.record(var, e),
            }
            if let Some(c) = self.var_cache.get_mut(slot) {
                c.map = Some(CelMap::from(map));
                if let Some(d) = c.done.get_mut(i) {
                    *d = true;
                    c.remaining = c.remaining.saturating_sub(1);
                }
            }
        }
    }

    fn eval(&mut self, expr: &CompiledExpr, params: &Params) -> Result<Value, String> {
        self.ensure_variables(params, expr);
        let vars: &dyn Val = self
            .var_cache
            .iter()
            .find(|c| c.id == params.id)
            .and_then(|c| c.map.as_ref())
            .map(|m| m as &dyn Val)
            .unwrap_or(empty_map());
        self.run(expr, vars, params.constants.as_ref())
    }

    /// The value of a condition that reads no variables, evaluated without the interpreter
    /// where its fast form answers (see `cel::fast`).
    fn fast(&self, expr: &CompiledExpr, params: &Params) -> Option<bool> {
        let value = expr.fast()?.eval(&self.req.fast(&params.constants_json))?;
        Some(matches!(value, FVal::Bool(true)))
    }

    /// Errors count as "not satisfied" and are recorded.
    fn satisfies(&mut self, cond: &Cond, params: &Params) -> bool {
        match cond {
            Cond::Expr(e) => match self.fast(e, params) {
                Some(holds) => holds,
                None => self.interpret(e, params),
            },
            Cond::All(cs) => cs.iter().all(|c| self.satisfies(c, params)),
            Cond::Any(cs) => cs.iter().any(|c| self.satisfies(c, params)),
            Cond::None(cs) => !cs.iter().any(|c| self.satisfies(c, params)),
        }
    }

    /// A condition's value by the interpreter: a value other than `true` does not hold, and an
    /// error (recorded) does not either.
    fn interpret(&mut self, e: &CompiledExpr, params: &Params) -> bool {
        match self.eval(e, params) {
            Ok(Value::Bool(b)) => b,
            Ok(_) => false,
            Err(msg) => {
                self.record(e, msg);
                false
            }
        }
    }

    /// A derived role's condition, evaluated once per input: (holds, failed to evaluate).
    fn derived_role_holds(&mut self, key: usize) -> (bool, bool) {
        if let Some((_, v)) = self.dr_cache.iter().find(|(k, _)| *k == key) {
            return *v;
        }
        let table = self.table;
        let Some(dr) = table.derived(key) else { return (false, false) };
        let before = self.failures;
        let holds = match &dr.condition {
            Some(c) => self.satisfies(c, table.params(dr.params)),
            None => true,
        };
        let v = (holds, self.failures > before);
        self.dr_cache.push((key, v));
        v
    }

    fn emit(
        &mut self,
        out: Option<&Arc<Outputs>>,
        met: bool,
        params: &Params,
        src: impl FnOnce() -> String,
        action: &str,
    ) {
        let Some(o) = out else { return };
        let Some(expr) = (if met { o.rule_activated.as_ref() } else { o.condition_not_met.as_ref() }) else {
            return;
        };
        // Every evaluation of a rule emits, even a repeat (another of the principal's roles
        // reaching the same rule): Cerbos lists each.
        let src = src();
        let (val, error) = match self.eval(expr, params) {
            Ok(v) => (to_json(&v), None),
            Err(e) => {
                self.record(expr, e.clone());
                (serde_json::Value::Null, Some(e))
            }
        };
        self.outputs.push(OutputEntry { src, val, action: action.to_string(), error });
    }
}

pub(crate) fn row_matches(row: &Row, kind: PassKind, action: &str, roles: &[&str], pid: &str) -> bool {
    row.kind == kind
        && (kind == PassKind::Resource || row.principal.as_deref() == Some(pid))
        && (row.role == "*" || roles.contains(&row.role.as_str()))
        && row.action.matches(action)
}

pub(crate) fn or_default<'s>(v: &'s str, d: &'s str) -> &'s str {
    if v.is_empty() {
        d
    } else {
        v
    }
}

/// Every action DENY under `policy`. Inserted one by one: collecting sorts a vector first,
/// which costs more for the one or few actions of a request.
fn deny_effects(actions: &[String], policy: &Arc<str>) -> BTreeMap<String, ActionEffect> {
    let mut effects = BTreeMap::new();
    for a in actions {
        let (policy, rule) = (policy.clone(), empty_name().clone());
        let deny = ActionEffect { effect: Effect::Deny, policy, scope: String::new(), rule };
        effects.insert(a.clone(), deny);
    }
    effects
}

/// Where one request's policies are looked up, for a check and for a plan alike: the scopes
/// searched (most specific first), the main policies' keys, whether any policy applies, and
/// the principal's roles with their parent roles.
pub(crate) struct Place<'t> {
    pub(crate) pscope: &'t str,
    pub(crate) rscope: &'t str,
    p_scopes: Names<'t>,
    r_scopes: Names<'t>,
    /// The rows of each of `p_scopes` and `r_scopes`. As Cerbos queries its rule index, both
    /// under the resource's policy version (the principal's only decides whether its principal
    /// policy exists).
    p_rows: Rows<'t>,
    r_rows: Rows<'t>,
    /// The principal policy's key (empty when there is none).
    p_key: Arc<str>,
    /// The key of the resource policy in the most specific scope (the table's, or written out
    /// where there is none).
    pub(crate) r_key: Arc<str>,
    /// The resource policy whose schemas are in effect, when it is not `r_key`'s.
    schema_key: Option<String>,
    pub(crate) p_exists: bool,
    pub(crate) r_exists: bool,
    /// The principal's roles and all their parent roles.
    pub(crate) all_roles: Names<'t>,
    /// Per role of the principal: the role and its parent roles.
    pub(crate) role_parents: SmallVec<[Names<'t>; 2]>,
}

impl<'t> Place<'t> {
    /// The key of the resource policy whose schemas are in effect.
    pub(crate) fn schema_key(&self) -> &str {
        self.schema_key.as_deref().unwrap_or(&self.r_key)
    }

    /// What a pass searches: whether its main policy exists, that policy's key, and its scopes
    /// (most specific first), each with its rows and the resource kind's entry there.
    pub(crate) fn pass(&self, pass: PassKind) -> (bool, &Arc<str>, impl Iterator<Item = Searched<'t>> + '_) {
        let (exists, key, scopes, rows) = match pass {
            PassKind::Principal => (self.p_exists, &self.p_key, &self.p_scopes, &self.p_rows),
            PassKind::Resource => (self.r_exists, &self.r_key, &self.r_scopes, &self.r_rows),
        };
        (exists, key, scopes.iter().zip(rows).map(|(&scope, &(rows, kind))| Searched { scope, rows, kind }))
    }

    /// Where `principal`'s policies and those of resource `kind` (in scope `scope` and version
    /// `version`, the defaults of `opts` when empty) are.
    pub(crate) fn new(
        table: &'t Table,
        opts: &'t CheckOptions,
        principal: &'t Principal,
        kind: &'t str,
        scope: &'t str,
        version: &'t str,
    ) -> Self {
        let p = principal;
        let pscope = or_default(&p.scope, &opts.default_scope);
        let rscope = or_default(scope, &opts.default_scope);
        let pversion = or_default(&p.policy_version, &opts.default_policy_version);
        let rversion = or_default(version, &opts.default_policy_version);
        let p_scopes = table.all_scopes(PassKind::Principal, pscope, opts.lenient_scopes);
        let r_scopes = table.all_scopes(PassKind::Resource, rscope, opts.lenient_scopes);
        let in_version = table.scopes.get(rversion);
        let rows = |scopes: &Names<'t>| -> Rows<'t> {
            scopes
                .iter()
                .map(|s| {
                    let sr = in_version.and_then(|v| v.get(*s));
                    (sr, sr.and_then(|sr| sr.kinds.get(kind)))
                })
                .collect()
        };
        let (p_rows, r_rows) = (rows(&p_scopes), rows(&r_scopes));
        // The keys reported are the most specific scope's, whether or not a policy is there.
        let first = r_scopes.first().copied();
        let found = r_rows.first().and_then(|(_, k)| k.as_ref()?.policy.as_ref());
        let r_key = key(found, || first.map(|s| resource_key(kind, rversion, s)).unwrap_or_default());
        // A scoped resource policy is validated against the schemas of its root-scope policy, the
        // only ones in effect in Cerbos; a key with no policy (a version the scope does not have)
        // has none.
        let scoped = first.is_some_and(|s| !s.is_empty());
        let schema_key = (scoped && table.schemas.contains_key(&*r_key)).then(|| resource_key(kind, rversion, ""));
        let p_exists =
            p_scopes.iter().any(|s| table.scope(pversion, s).is_some_and(|sr| sr.principals.contains_key(&p.id)));
        let p_key = match p_scopes.first().copied() {
            Some(s) if p_exists => key(table.scope(pversion, s).and_then(|sr| sr.principals.get(&p.id)), || {
                principal_key(&p.id, pversion, s)
            }),
            _ => empty_name().clone(),
        };
        let r_exists = found.is_some()
            || r_rows.iter().any(|&(sr, entry)| {
                sr.is_some_and(|sr| {
                    entry.is_some_and(|k| k.policy.is_some())
                        || sr.rows_in(entry, kind).any(|row| row.kind == PassKind::Resource)
                        || sr.role_policies.iter().any(|rp| rp.rules.iter().any(|rr| rr.resource.matches(kind)))
                })
            });
        Place {
            pscope,
            rscope,
            p_key,
            r_key,
            schema_key,
            p_exists,
            r_exists,
            all_roles: table.with_parent_roles(rscope, &p.roles),
            role_parents: p
                .roles
                .iter()
                .map(|role| table.with_parent_roles(rscope, std::slice::from_ref(role)))
                .collect(),
            p_scopes,
            r_scopes,
            p_rows,
            r_rows,
        }
    }
}

/// The rows of a list of scopes, with their entry for the resource kind.
type Rows<'t> = SmallVec<[(Option<&'t ScopeRows>, Option<&'t KindRows>); 4]>;

/// One scope a pass searches.
#[derive(Clone, Copy)]
pub(crate) struct Searched<'t> {
    pub(crate) scope: &'t str,
    /// Its rows in the version searched, if it has any.
    pub(crate) rows: Option<&'t ScopeRows>,
    /// Its entry for the resource kind, if it has one.
    pub(crate) kind: Option<&'t KindRows>,
}

/// A policy key: the table's where it has one, else written out.
fn key(found: Option<&Arc<str>>, write: impl FnOnce() -> String) -> Arc<str> {
    match found {
        Some(k) => k.clone(),
        None => Arc::from(write()),
    }
}

/// What stays fixed while one input is decided: where its policies are, under which options.
struct Lookup<'p, 't> {
    table: &'t Table,
    opts: &'t CheckOptions,
    input: &'t CheckInput,
    place: &'p Place<'t>,
}

/// What deciding one input accumulates across its actions.
struct Search<'r, 'a, 't> {
    ev: Evaluator<'r, 'a>,
    /// Scopes whose derived roles were evaluated, with their `runtime` (index into `ev.runtimes`).
    edr_by_scope: SmallVec<[(&'t str, Option<usize>); 4]>,
    /// Every derived role that was active, in the order first seen.
    all_edr: Names<'t>,
}

/// An ALLOW found in a scope that does not settle it (no permissions set there), carried up to
/// the parent scopes of the same role's search.
#[derive(Default)]
struct PendingAllow<'t> {
    allowed: bool,
    /// The first rule that allowed, for the decision record.
    rule: Option<&'t Arc<str>>,
}

/// Decides one input.
pub(crate) fn check(table: &Table, rt: &Runtime, opts: &CheckOptions, input: &CheckInput) -> CheckOutput {
    let r = &input.resource;
    let place = Place::new(table, opts, &input.principal, &r.kind, &r.scope, &r.policy_version);
    // The actions are filled in below.
    let mut out = deny(&[], input);
    if let Some((errors, reject)) = crate::schema::validate(table, place.schema_key(), input, opts.schema_enforcement) {
        out.validation_errors = errors;
        if reject {
            out.actions = deny_effects(&input.actions, &place.r_key);
            return out;
        }
    }
    if !place.p_exists && !place.r_exists {
        out.actions = deny_effects(&input.actions, no_match_name());
        return out;
    }

    let ev = Evaluator {
        rt,
        table,
        req: RequestVals::new(input, place.pscope, place.rscope, &opts.globals, opts.now),
        var_cache: Vec::new(),
        dr_cache: SmallVec::new(),
        errors: Vec::new(),
        outputs: Vec::new(),
        runtimes: Vec::new(),
        runtime: None,
        failures: 0,
    };
    let lookup = Lookup { table, opts, input, place: &place };
    let mut search = Search { ev, edr_by_scope: SmallVec::new(), all_edr: Names::new() };

    for action in &input.actions {
        if out.actions.contains_key(action) {
            continue;
        }
        let decided = lookup.decide_action(&mut search, action);
        let effect = if decided.outcome == Outcome::Allow { Effect::Allow } else { Effect::Deny };
        let decided = ActionEffect {
            effect,
            policy: decided.policy.clone(),
            scope: decided.scope.to_string(),
            rule: decided.rule.clone(),
        };
        out.actions.insert(action.clone(), decided);
    }
    out.effective_derived_roles = search.all_edr.iter().map(|s| s.to_string()).collect();
    out.outputs = search.ev.outputs;
    out.evaluation_errors = search.ev.errors;
    out
}

impl<'t> Lookup<'_, 't> {
    /// One action: principal policies first, then resource (and role) policies; within a
    /// pass, the first role that allows decides, else the first role that matched at all.
    fn decide_action(&self, search: &mut Search<'_, '_, 't>, action: &str) -> EffectInfo<'_> {
        let mut decided = no_match(no_match_name());
        for pass in [PassKind::Principal, PassKind::Resource] {
            decided.outcome = Outcome::NoMatch;
            for (i, parent_roles) in self.place.role_parents.iter().enumerate() {
                // Principal policies do not depend on roles: one search.
                if i > 0 && pass == PassKind::Principal {
                    break;
                }
                let role_effect = self.decide_role(search, pass, parent_roles, action);
                if role_effect.outcome == Outcome::Failed {
                    return role_effect;
                }
                if decided.outcome == Outcome::NoMatch {
                    decided = role_effect;
                }
                if role_effect.outcome == Outcome::Allow {
                    decided = role_effect;
                    break;
                }
            }
            if decided.outcome != Outcome::NoMatch {
                break;
            }
        }
        decided
    }

    /// One role (with its parent roles) in one pass: the scopes from the most specific up, until
    /// one denies or settles an ALLOW.
    fn decide_role(
        &self,
        search: &mut Search<'_, '_, 't>,
        pass: PassKind,
        parent_roles: &[&str],
        action: &str,
    ) -> EffectInfo<'_> {
        let (exists, main_key, scopes) = self.place.pass(pass);
        let policy = if exists { main_key } else { no_match_name() };
        let mut pending = PendingAllow::default();
        for Searched { scope, rows: sr, kind: entry } in scopes {
            if pass == PassKind::Resource {
                self.enter_scope(search, scope, entry);
            } else {
                search.ev.runtime = None;
            }
            let Some(sr) = sr else { continue };
            // As in Cerbos's rule index, a scope's role policies are consulted before its
            // resource rules (a role-policy DENY ends the search there, and the resource rules
            // of that scope are not evaluated).
            let decided = (pass == PassKind::Resource)
                .then(|| self.role_policies(&mut search.ev, sr, parent_roles, action))
                .flatten()
                .or_else(|| self.rules_in_scope(&mut search.ev, (sr, entry), pass, parent_roles, action, &mut pending));
            if let Some(info) = decided {
                return EffectInfo {
                    policy: info.policy.unwrap_or(policy),
                    outcome: info.outcome,
                    scope,
                    rule: info.rule,
                };
            }
            if pending.allowed {
                let perms = match pass {
                    PassKind::Principal => self.table.principal_permissions.get(scope),
                    PassKind::Resource => self.table.resource_permissions.get(scope),
                };
                match perms {
                    // The ALLOW needs an ALLOW from a parent scope too: search on without it.
                    Some(ScopePermissions::RequireParentalConsentForAllows) => pending = PendingAllow::default(),
                    Some(_) => {
                        let rule = pending.rule.unwrap_or(empty_name());
                        return EffectInfo { outcome: Outcome::Allow, policy, scope, rule };
                    }
                    None => {}
                }
            }
        }
        no_match(policy)
    }

    /// Makes `runtime` the resource scope's: its derived roles, evaluated the first time the
    /// scope is entered for this input.
    fn enter_scope(&self, search: &mut Search<'_, '_, 't>, scope: &'t str, entry: Option<&'t KindRows>) {
        if let Some((_, idx)) = search.edr_by_scope.iter().find(|(s, _)| *s == scope) {
            search.ev.runtime = *idx;
            return;
        }
        search.ev.runtime = None;
        let table = self.table;
        let defs = entry.map(|k| &k.derived_roles);
        let mut edr = Names::new();
        for &idx in defs.into_iter().flatten() {
            let Some(def) = table.derived(idx) else { continue };
            let applies = def.parent_roles.iter().any(|pr| pr == "*" || self.place.all_roles.contains(&pr.as_str()));
            if applies && search.ev.derived_role_holds(idx).0 {
                edr.push(def.name.as_str());
            }
        }
        let idx = (table.uses_runtime && !edr.is_empty()).then(|| {
            search.ev.runtimes.push(runtime_value(&edr));
            search.ev.runtimes.len() - 1
        });
        for d in edr {
            if !search.all_edr.contains(&d) {
                search.all_edr.push(d);
            }
        }
        search.ev.runtime = idx;
        search.edr_by_scope.push((scope, idx));
    }

    /// The scope's rules for this pass, role and action, in order: a DENY (or, under strict
    /// evaluation, a failure) decides; an ALLOW is recorded in `pending`.
    fn rules_in_scope(
        &self,
        ev: &mut Evaluator<'_, '_>,
        (sr, entry): (&'t ScopeRows, Option<&'t KindRows>),
        pass: PassKind,
        parent_roles: &[&str],
        action: &str,
        pending: &mut PendingAllow<'t>,
    ) -> Option<Decided<'t>> {
        let (table, strict) = (self.table, self.opts.strict_evaluation);
        let p = &self.input.principal;
        let deny = |row: &'t Row| Some(Decided { outcome: Outcome::Deny, policy: None, rule: &row.rule_name });
        let failure = |row: &'t Row| {
            Some(Decided { outcome: Outcome::Failed, policy: Some(&row.policy_key), rule: &row.rule_name })
        };
        for row in sr
            .rows_in(entry, &self.input.resource.kind)
            .filter(|row| row_matches(row, pass, action, parent_roles, &p.id))
        {
            let failures = ev.failures;
            if let Some(dr) = &row.derived_role {
                let (holds, failed) = ev.derived_role_holds(*dr);
                if !holds {
                    if strict && failed {
                        return failure(row);
                    }
                    continue;
                }
            }
            let met = match &row.condition {
                Some(c) => ev.satisfies(c, table.params(row.params)),
                None => true,
            };
            if strict && ev.failures > failures {
                return failure(row);
            }
            let src = || format!("{}#{}", row.policy_key, row.rule_name);
            ev.emit(row.output.as_ref(), met, table.params(row.params), src, action);
            if !met {
                continue;
            }
            match row.effect {
                Effect::Allow => {
                    pending.allowed = true;
                    pending.rule.get_or_insert(&row.rule_name);
                }
                Effect::Deny => return deny(row),
            }
        }
        None
    }

    /// The scope's role policies for the principal's role and its parents, in that order,
    /// consulted only where the scope has some rule for the resource kind and one of the roles
    /// ([`has_rules_for`]): their `allowActions` are exhaustive, so a role policy with
    /// no rule for the resource kind or the action denies it, and so does a covering rule whose
    /// condition is not met (the first such rule decides; later rules are not evaluated).
    fn role_policies(
        &self,
        ev: &mut Evaluator<'_, '_>,
        sr: &'t ScopeRows,
        parent_roles: &[&str],
        action: &str,
    ) -> Option<Decided<'t>> {
        let (table, kind) = (self.table, &self.input.resource.kind);
        let strict = self.opts.strict_evaluation;
        let mut policies = parent_roles.iter().filter_map(|pr| sr.role_policies.iter().find(|rp| rp.role == *pr));
        // Most scopes have no role policy for these roles: the gate's scan is only paid where one does.
        let first = policies.next()?;
        if !has_rules_for(sr, kind, parent_roles) {
            return None;
        }
        for rp in std::iter::once(first).chain(policies) {
            let decided = |outcome, rule: &'t Arc<str>| Some(Decided { outcome, policy: Some(&rp.policy_key), rule });
            let deny = |rule: &'t Arc<str>| decided(Outcome::Deny, rule);
            let mut for_kind = rp.rules.iter().filter(|rr| rr.resource.matches(kind)).peekable();
            if for_kind.peek().is_none() {
                return deny(empty_name());
            }
            let mut covering = for_kind.filter(|rr| rr.allow_actions.iter().any(|a| a.matches(action))).peekable();
            if covering.peek().is_none() {
                return deny(empty_name());
            }
            for rr in covering {
                let failures = ev.failures;
                let met = match &rr.condition {
                    Some(c) => ev.satisfies(c, table.params(rp.params)),
                    None => true,
                };
                if strict && ev.failures > failures {
                    return decided(Outcome::Failed, &rr.rule_name);
                }
                let src = || format!("{}#{}", rp.policy_key, rr.rule_name);
                ev.emit(rr.output.as_ref(), met, table.params(rp.params), src, action);
                if !met {
                    return deny(&rr.rule_name);
                }
            }
        }
        None
    }
}

/// Whether the scope has a resource rule or a role-policy rule for the resource `kind` and one
/// of the roles (a role policy that covers other kinds only does not decide here).
pub(crate) fn has_rules_for(sr: &ScopeRows, kind: &str, parent_roles: &[&str]) -> bool {
    let has_role = |role: &str| role == "*" || parent_roles.contains(&role);
    sr.rows_for(kind).any(|row| row.kind == PassKind::Resource && has_role(&row.role))
        || sr.role_policies.iter().any(|rp| has_role(&rp.role) && rp.rules.iter().any(|rr| rr.resource.matches(kind)))
}

/// A scope's decision for a role: the outcome, the policy when it is not the pass's own
/// (a role policy), and the deciding rule.
struct Decided<'t> {
    outcome: Outcome,
    policy: Option<&'t Arc<str>>,
    rule: &'t Arc<str>,
}

/// Nothing matched (yet); `policy` is what a later match would be reported under.
fn no_match(policy: &Arc<str>) -> EffectInfo<'_> {
    EffectInfo { outcome: Outcome::NoMatch, policy, scope: "", rule: empty_name() }
}

/// Every action DENY with no policy: what a request gets when nothing applies or the engine cannot run.
pub(crate) fn deny_all(input: &CheckInput) -> CheckOutput {
    deny(&input.actions, input)
}

/// `actions` DENY with no policy, for `input`.
fn deny(actions: &[String], input: &CheckInput) -> CheckOutput {
    CheckOutput {
        request_id: input.request_id.clone(),
        resource_id: input.resource.id.clone(),
        actions: deny_effects(actions, no_match_name()),
        effective_derived_roles: Vec::new(),
        validation_errors: Vec::new(),
        outputs: Vec::new(),
        evaluation_errors: Vec::new(),
    }
}
