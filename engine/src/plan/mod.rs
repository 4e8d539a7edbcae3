//! Query planning: the decision of [`crate::check`] for a resource whose attributes are
//! (partly) unknown, as a condition over them. The walk is the check's (principal policies,
//! then resource and role policies; per role, scopes from the most specific up; a DENY ends a
//! role's search, the first role to ALLOW decides) with each "is this rule's condition met?"
//! a formula instead of a boolean: where a check branches, a plan takes both ways.

mod residual;

use crate::activation::RequestVals;
use crate::cel::{owned_val, Runtime};
use crate::check::{has_rules_for, or_default, row_matches, Place, Searched};
use crate::policy::{Effect, ScopePermissions};
use crate::table::{Cond, KindRows, Params, PassKind, ScopeRows, Table};
use authz_api::model::{CheckInput, CheckOptions, Resource};
use authz_api::plan::{Operand, PlanFilter, PlanInput, PlanOutput};
use cel::common::value::Val;
use cel::Value;
use residual::{Partial, Pv};
use serde_json::Value as Json;

fn t() -> Operand {
    Operand::Value(Json::Bool(true))
}

fn f() -> Operand {
    Operand::Value(Json::Bool(false))
}

/// `a ∧ b`, folding constants.
fn and(a: Operand, b: Operand) -> Operand {
    match (a.as_bool(), b.as_bool()) {
        (Some(false), _) | (_, Some(false)) => f(),
        (Some(true), _) => b,
        (_, Some(true)) => a,
        _ => Operand::op("and", vec![a, b]),
    }
}

/// The conjuncts of `a`.
fn conjuncts(a: Operand) -> Vec<Operand> {
    match a {
        Operand::Expression(e) if e.operator == "and" => e.operands,
        other => vec![other],
    }
}

/// The conjunction of `parts` (true for none).
fn all_of(mut parts: Vec<Operand>) -> Operand {
    match parts.len() {
        0 => t(),
        1 => parts.pop().unwrap_or_else(t),
        _ => Operand::op("and", parts),
    }
}

/// `a ∨ b`, folding constants and factoring out what both conjunctions share:
/// `(x ∧ a) ∨ (x ∧ b)` is `x ∧ (a ∨ b)`, and `x ∨ (x ∧ b)` is `x`.
fn or(a: Operand, b: Operand) -> Operand {
    match (a.as_bool(), b.as_bool()) {
        (Some(true), _) | (_, Some(true)) => return t(),
        (Some(false), _) => return b,
        (_, Some(false)) => return a,
        _ => {}
    }
    if a == b {
        return a;
    }
    let (xs, ys) = (conjuncts(a.clone()), conjuncts(b.clone()));
    let common: Vec<Operand> = xs.iter().filter(|x| ys.contains(x)).cloned().collect();
    if common.is_empty() {
        return Operand::op("or", vec![a, b]);
    }
    let rest = |zs: Vec<Operand>| all_of(zs.into_iter().filter(|z| !common.contains(z)).collect());
    let (ra, rb) = (rest(xs), rest(ys));
    let mut parts = common.clone();
    // `x ∧ (true ∨ …)` is `x`.
    if ra.as_bool() != Some(true) && rb.as_bool() != Some(true) {
        parts.push(or(ra, rb));
    }
    all_of(parts)
}

/// `¬a`, folding constants and double negation.
fn not(a: Operand) -> Operand {
    match a {
        Operand::Value(Json::Bool(b)) => Operand::Value(Json::Bool(!b)),
        Operand::Expression(mut e) if e.operator == "not" && e.operands.len() == 1 => {
            e.operands.pop().unwrap_or_else(t)
        }
        other => Operand::op("not", vec![other]),
    }
}

/// Cerbos's normal form of a filter condition: `and`/`or` without their neutral operands or
/// repeats, a single operand for itself, an absorbing one for the whole; `not` of a constant
/// folded; `x in [y]` as `x == y`, `x in []` as false.
pub(crate) fn normalise(o: Operand) -> Operand {
    let Operand::Expression(mut e) = o else { return o };
    e.operands = std::mem::take(&mut e.operands).into_iter().map(normalise).collect();
    match e.operator.as_str() {
        op @ ("and" | "or") => {
            let (neutral, absorbing) = if op == "and" { (true, false) } else { (false, true) };
            let mut kept: Vec<Operand> = Vec::with_capacity(e.operands.len());
            for x in e.operands {
                match x.as_bool() {
                    Some(b) if b == neutral => continue,
                    Some(b) if b == absorbing => return Operand::Value(Json::Bool(absorbing)),
                    _ if kept.contains(&x) => continue,
                    _ => kept.push(x),
                }
            }
            match kept.len() {
                0 => Operand::Value(Json::Bool(neutral)),
                1 => kept.pop().unwrap_or_else(t),
                _ => Operand::op(op, kept),
            }
        }
        "not" => match e.operands.as_slice() {
            [x] if x.as_bool().is_some() => not(x.clone()),
            _ => Operand::Expression(e),
        },
        "in" => match e.operands.as_slice() {
            [_, Operand::Value(Json::Array(items))] if items.is_empty() => f(),
            [x, Operand::Value(Json::Array(items))] if items.len() == 1 => {
                let item = items.first().cloned().unwrap_or(Json::Null);
                Operand::op("eq", vec![x.clone(), Operand::Value(item)])
            }
            [_, Operand::Value(Json::Array(_))] | [_, Operand::Variable(_)] | [_, Operand::Expression(_)] => {
                Operand::Expression(e)
            }
            [x, Operand::Value(v)] => Operand::op("eq", vec![x.clone(), Operand::Value(v.clone())]),
            _ => Operand::Expression(e),
        },
        _ => Operand::Expression(e),
    }
}

/// A role's search, as formulas: when it ends in ALLOW, and when in DENY (the latter may also
/// hold where the former does: an ALLOW found first decides there).
struct RoleOutcome {
    allow: Operand,
    deny: Operand,
}

/// What stays fixed while one input is planned (as [`crate::check`]'s `Lookup`).
struct Walk<'t> {
    table: &'t Table,
    kind: &'t str,
    pid: &'t str,
    place: Place<'t>,
}

/// Per input: partial evaluation, and what was worked out per scope.
struct State<'r, 'a, 't> {
    pe: Partial<'r, 'a>,
    /// Derived role conditions, once per input.
    derived: Vec<(usize, Operand)>,
    /// Scopes entered, with their `runtime` (known, or residual).
    runtimes: Vec<(&'t str, Option<Value>, Option<Operand>)>,
    /// Expressions that failed to evaluate whatever the resource (under strict evaluation, a
    /// failure denies).
    failed: bool,
    matched_scope: String,
}

impl State<'_, '_, '_> {
    /// A condition as a formula (an expression that fails to evaluate is not met).
    fn condition(&mut self, cond: &Cond, params: &Params) -> Operand {
        match cond {
            Cond::Expr(e) => match self.pe.pe(e.ast(), params, &mut Vec::new()) {
                Pv::Known(Value::Bool(b)) => Operand::Value(Json::Bool(b)),
                Pv::Known(_) => f(),
                Pv::Res(o) => o,
                Pv::Err(_) => {
                    self.failed = true;
                    f()
                }
            },
            Cond::All(cs) => self.all(cs, params, |x| x),
            Cond::Any(cs) => {
                let parts: Vec<Operand> = cs.iter().map(|c| self.condition(c, params)).collect();
                Operand::op("or", parts)
            }
            Cond::None(cs) => self.all(cs, params, not),
        }
    }

    fn all(&mut self, cs: &[Cond], params: &Params, each: impl Fn(Operand) -> Operand) -> Operand {
        let parts: Vec<Operand> = cs.iter().map(|c| each(self.condition(c, params))).collect();
        normalise(Operand::op("and", parts))
    }

    /// A derived role's condition, once per input, under an empty `runtime` (as checks do).
    fn derived_role(&mut self, table: &Table, key: usize) -> Operand {
        if let Some((_, o)) = self.derived.iter().find(|(k, _)| *k == key) {
            return o.clone();
        }
        let Some(dr) = table.derived(key) else { return f() };
        let saved = (self.pe.runtime.take(), self.pe.runtime_res.take());
        let o = match &dr.condition {
            Some(c) => normalise(self.condition(c, table.params(dr.params))),
            None => t(),
        };
        (self.pe.runtime, self.pe.runtime_res) = saved;
        self.derived.push((key, o.clone()));
        o
    }
}

/// The scope's derived roles as `runtime.effectiveDerivedRoles`: a known list, or (when some
/// depend on the resource) `[a] + ((cond_b ? [b] : []) + ...)` over the names in order.
fn runtime_list(active: Vec<(String, Operand)>) -> Result<Vec<String>, Operand> {
    let mut active = active;
    active.sort_by(|a, b| a.0.cmp(&b.0));
    if active.iter().all(|(_, c)| c.as_bool().is_some()) {
        return Ok(active.into_iter().filter(|(_, c)| c.as_bool() == Some(true)).map(|(n, _)| n).collect());
    }
    let items: Vec<Operand> = active
        .into_iter()
        .filter(|(_, c)| c.as_bool() != Some(false))
        .map(|(name, c)| {
            let single = Operand::Value(Json::Array(vec![Json::String(name)]));
            match c.as_bool() {
                Some(_) => single,
                None => Operand::op("if", vec![c, single, Operand::Value(Json::Array(vec![]))]),
            }
        })
        .collect();
    let mut rev = items.into_iter().rev();
    let mut acc = rev.next().unwrap_or(Operand::Value(Json::Array(vec![])));
    for item in rev {
        acc = match (item, acc) {
            (Operand::Value(Json::Array(mut a)), Operand::Value(Json::Array(b))) => {
                a.extend(b);
                Operand::Value(Json::Array(a))
            }
            (item, acc) => Operand::op("add", vec![item, acc]),
        };
    }
    Err(acc)
}

impl<'t> Walk<'t> {
    /// `runtime` for the resource scope: its derived roles, worked out the first time.
    fn enter_scope(&self, st: &mut State<'_, '_, 't>, scope: &'t str, entry: Option<&KindRows>) {
        let found = st.runtimes.iter().find(|(s, _, _)| *s == scope).map(|(_, k, r)| (k.clone(), r.clone()));
        let (known, res) = match found {
            Some(x) => x,
            None => {
                let defs = entry.map(|k| &k.derived_roles);
                let mut active = Vec::new();
                for &idx in defs.into_iter().flatten() {
                    let Some(def) = self.table.derived(idx) else { continue };
                    if def.parent_roles.iter().any(|pr| pr == "*" || self.place.all_roles.contains(&pr.as_str())) {
                        let c = st.derived_role(self.table, idx);
                        active.push((def.name.clone(), c));
                    }
                }
                let (known, res) = match runtime_list(active) {
                    Ok(names) if self.table.uses_runtime && !names.is_empty() => (Some(names), None),
                    Ok(_) => (None, None),
                    Err(list) => (None, Some(list)),
                };
                let known = known.map(|names| {
                    let list = Value::List(std::sync::Arc::new(names.into_iter().map(Value::from).collect()));
                    let map: std::collections::HashMap<String, Value> = [
                        ("effectiveDerivedRoles".to_string(), list.clone()),
                        ("effective_derived_roles".to_string(), list),
                    ]
                    .into_iter()
                    .collect();
                    Value::from(map)
                });
                st.runtimes.push((scope, known.clone(), res.clone()));
                (known, res)
            }
        };
        st.pe.runtime = known.map(|v| owned_val(v) as Box<dyn Val>);
        st.pe.runtime_res = res;
    }

    /// The plan for one action: the check's decision as a formula.
    fn action(&self, st: &mut State<'_, '_, 't>, action: &str) -> Operand {
        let mut principal = RoleOutcome { allow: f(), deny: f() };
        let mut resource = f();
        for pass in [PassKind::Principal, PassKind::Resource] {
            for (i, parent_roles) in self.place.role_parents.iter().enumerate() {
                if i > 0 && pass == PassKind::Principal {
                    break;
                }
                let role = self.role(st, pass, parent_roles, action);
                match pass {
                    PassKind::Principal => principal = role,
                    // Across roles the first to ALLOW decides.
                    PassKind::Resource => resource = or(resource, role.allow),
                }
            }
        }
        // Principal policies decide when they match; resource policies otherwise (where principal
        // policies allow, whether they would also deny does not matter).
        or(principal.allow, and(not(principal.deny), resource))
    }

    /// One role (with its parent roles) in one pass: the scopes from the most specific up.
    fn role(&self, st: &mut State<'_, '_, 't>, pass: PassKind, parent_roles: &[&str], action: &str) -> RoleOutcome {
        let (exists, _, scopes) = self.place.pass(pass);
        let mut out = RoleOutcome { allow: f(), deny: f() };
        if !exists {
            return out;
        }
        // Not denied by a more specific scope (an ALLOW settled there decides anyway: `allow`
        // is a disjunction); an ALLOW still waiting for a scope that settles it.
        let (mut open, mut pending) = (t(), f());
        for Searched { scope, rows: sr, kind: entry } in scopes {
            if pass == PassKind::Resource {
                self.enter_scope(st, scope, entry);
            } else {
                st.pe.runtime = None;
                st.pe.runtime_res = None;
            }
            let Some(sr) = sr else { continue };
            let role_deny =
                if pass == PassKind::Resource { self.role_policies(st, sr, parent_roles, action) } else { f() };
            let (deny, allow) = self.rules(st, (sr, entry), pass, parent_roles, action);
            let deny = or(role_deny, deny);
            if deny.as_bool() != Some(false) || allow.as_bool() != Some(false) {
                st.matched_scope = scope.to_string();
            }
            out.deny = or(std::mem::replace(&mut out.deny, f()), and(open.clone(), deny.clone()));
            open = and(open, not(deny));
            pending = or(pending, allow);
            if pending.as_bool() == Some(false) {
                continue;
            }
            let perms = match pass {
                PassKind::Principal => self.table.principal_permissions.get(scope),
                PassKind::Resource => self.table.resource_permissions.get(scope),
            };
            match perms {
                Some(ScopePermissions::RequireParentalConsentForAllows) => pending = f(),
                Some(_) => {
                    let allowed = std::mem::replace(&mut pending, f());
                    out.allow = or(std::mem::replace(&mut out.allow, f()), and(open.clone(), allowed));
                }
                None => {}
            }
        }
        out
    }

    /// The scope's rules for the pass, role and action: when one denies, when one allows.
    fn rules(
        &self,
        st: &mut State<'_, '_, 't>,
        (sr, entry): (&ScopeRows, Option<&KindRows>),
        pass: PassKind,
        parent_roles: &[&str],
        action: &str,
    ) -> (Operand, Operand) {
        let (mut deny, mut allow) = (f(), f());
        for row in sr.rows_in(entry, self.kind).filter(|row| row_matches(row, pass, action, parent_roles, self.pid)) {
            let mut met = match &row.condition {
                Some(c) => normalise(st.condition(c, self.table.params(row.params))),
                None => t(),
            };
            if let Some(dr) = row.derived_role {
                met = and(met, st.derived_role(self.table, dr));
            }
            match row.effect {
                Effect::Allow => allow = or(allow, met),
                Effect::Deny => deny = or(deny, met),
            }
        }
        (deny, allow)
    }

    /// When the scope's role policies deny (as [`crate::check`]'s: a role policy with no rule
    /// for the kind or the action denies, and so does a covering rule whose condition is not met).
    fn role_policies(
        &self,
        st: &mut State<'_, '_, 't>,
        sr: &ScopeRows,
        parent_roles: &[&str],
        action: &str,
    ) -> Operand {
        let mut policies =
            parent_roles.iter().filter_map(|pr| sr.role_policies.iter().find(|rp| rp.role == *pr)).peekable();
        if policies.peek().is_none() || !has_rules_for(sr, self.kind, parent_roles) {
            return f();
        }
        let mut deny = f();
        for rp in policies {
            let mut for_kind = rp.rules.iter().filter(|rr| rr.resource.matches(self.kind)).peekable();
            if for_kind.peek().is_none() {
                return t();
            }
            let mut covering = for_kind.filter(|rr| rr.allow_actions.iter().any(|a| a.matches(action))).peekable();
            if covering.peek().is_none() {
                return t();
            }
            for rr in covering {
                if let Some(c) = &rr.condition {
                    let met = normalise(st.condition(c, self.table.params(rp.params)));
                    deny = or(deny, not(met));
                }
            }
        }
        deny
    }
}

/// The plan that allows nothing, for every action.
pub(crate) fn deny_all(opts: &CheckOptions, input: &PlanInput) -> PlanOutput {
    let r = &input.resource;
    PlanOutput {
        request_id: input.request_id.clone(),
        actions: input.actions.clone(),
        resource_kind: r.kind.clone(),
        policy_version: or_default(&r.policy_version, &opts.default_policy_version).to_string(),
        scope: r.scope.clone(),
        filter: PlanFilter::from_condition(f()),
        matched_scopes: input.actions.iter().map(|a| (a.clone(), String::new())).collect(),
        validation_errors: Vec::new(),
    }
}

/// Plans `input`.
pub(crate) fn plan(table: &Table, rt: &Runtime, opts: &CheckOptions, input: &PlanInput) -> PlanOutput {
    let p = &input.principal;
    let r = &input.resource;
    let mut out = deny_all(opts, input);
    // What is known, as a check's input: conditions read it as they read a check's.
    let known = CheckInput {
        request_id: input.request_id.clone(),
        principal: p.clone(),
        resource: Resource {
            kind: r.kind.clone(),
            id: String::new(),
            policy_version: r.policy_version.clone(),
            attr: r.attr.clone(),
            scope: r.scope.clone(),
        },
        actions: input.actions.clone(),
        aux_data: input.aux_data.clone(),
    };
    let place = Place::new(table, opts, p, &r.kind, &r.scope, &r.policy_version);
    if let Some((errors, reject)) =
        crate::schema::validate_known(table, place.schema_key(), &known, opts.schema_enforcement)
    {
        out.validation_errors = errors;
        if reject {
            return out;
        }
    }
    if !place.p_exists && !place.r_exists {
        return out;
    }
    let req = RequestVals::new(&known, place.pscope, place.rscope, &opts.globals, opts.now);
    let walk = Walk { table, kind: &r.kind, pid: &p.id, place };
    let mut st = State {
        pe: Partial::new(rt, table, req, &r.attr),
        derived: Vec::new(),
        runtimes: Vec::new(),
        failed: false,
        matched_scope: String::new(),
    };
    let mut conditions = Vec::with_capacity(input.actions.len());
    for action in &input.actions {
        st.failed = false;
        st.matched_scope.clear();
        let mut c = walk.action(&mut st, action);
        // Under strict evaluation a condition that cannot be evaluated denies the action.
        if opts.strict_evaluation && st.failed {
            c = f();
        }
        if let Some(slot) = out.matched_scopes.get_mut(action) {
            slot.clone_from(&st.matched_scope);
        }
        conditions.push(c);
    }
    // One filter for all the actions: each must be allowed.
    out.filter = PlanFilter::from_condition(normalise(Operand::op("and", conditions)));
    out
}
