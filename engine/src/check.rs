//! Evaluation of one [`CheckInput`] against the rule [`Table`], following Cerbos's
//! order: principal policies first, then resource and role policies; within a role,
//! scopes from the most specific up, a DENY ends the search, an ALLOW ends it unless
//! the scope requires parental consent; across roles the first ALLOW wins.

use crate::cel::{from_json, to_json, CompiledExpr, Runtime, NOW_VAR};
use crate::policy::{Effect, ScopePermissions};
use crate::request::{
    ActionEffect, CheckInput, CheckOptions, CheckOutput, EvaluationError, OutputEntry, ValidationError,
};
use crate::table::{principal_key, resource_key, Cond, Outputs, Params, PassKind, Row, Table};
use cel::{Context, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The policy name reported when nothing matched.
pub(crate) const NO_MATCH: &str = "NO_MATCH";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    NoMatch,
    Allow,
    Deny,
}

#[derive(Debug, Clone)]
struct EffectInfo {
    outcome: Outcome,
    policy: String,
    scope: String,
}

struct Evaluator<'a> {
    base: Context<'a, 'static>,
    var_cache: HashMap<usize, Value>,
    errors: Vec<EvaluationError>,
    outputs: Vec<OutputEntry>,
    /// `runtime` for conditions of the scope being evaluated.
    runtime: Value,
    /// Evaluation failures so far (including repeats), for strict evaluation.
    failures: usize,
}

fn runtime_value(edr: &[String]) -> Value {
    let mut sorted = edr.to_vec();
    sorted.sort();
    let list = Value::List(Arc::new(sorted.into_iter().map(Value::from).collect()));
    let mut m = HashMap::new();
    m.insert("effectiveDerivedRoles".to_string(), list.clone());
    m.insert("effective_derived_roles".to_string(), list);
    Value::from(m)
}

fn request_value(input: &CheckInput, pscope: &str, rscope: &str) -> (Value, Value, Value) {
    let p = &input.principal;
    let r = &input.resource;
    let principal = serde_json::json!({
        "id": p.id, "roles": p.roles, "attr": p.attr, "policyVersion": p.policy_version, "scope": pscope,
    });
    let resource = serde_json::json!({
        "kind": r.kind, "id": r.id, "attr": r.attr, "policyVersion": r.policy_version, "scope": rscope,
    });
    let (jwt, jwts) = match &input.aux_data {
        Some(a) => (serde_json::Value::Object(a.jwt.clone()), serde_json::Value::Object(a.jwts.clone())),
        None => (serde_json::json!({}), serde_json::json!({})),
    };
    let aux = serde_json::json!({ "jwt": jwt, "jwts": jwts });
    let request = serde_json::json!({ "principal": principal, "resource": resource, "auxData": aux, "aux_data": aux });
    (from_json(&request), from_json(&principal), from_json(&resource))
}

impl<'a> Evaluator<'a> {
    fn record(&mut self, expr: &CompiledExpr, message: String) {
        self.failures += 1;
        let e = EvaluationError { expression: expr.source().trim().to_string(), message };
        if !self.errors.contains(&e) {
            self.errors.push(e);
        }
    }

    fn variables(&mut self, params: &Params) -> Value {
        if let Some(v) = self.var_cache.get(&params.id) {
            return v.clone();
        }
        let mut vars: HashMap<String, Value> = HashMap::new();
        for (name, expr) in &params.variables {
            let result = {
                let mut ctx = self.base.new_inner_scope();
                let v = Value::from(vars.clone());
                ctx.add_variable_from_value("V", v.clone());
                ctx.add_variable_from_value("variables", v);
                ctx.add_variable_from_value("C", params.constants.clone());
                ctx.add_variable_from_value("constants", params.constants.clone());
                ctx.add_variable_from_value("runtime", self.runtime.clone());
                expr.eval(&ctx)
            };
            match result {
                Ok(v) => {
                    vars.insert(name.clone(), v);
                }
                Err(e) => self.record(expr, e),
            }
        }
        let v = Value::from(vars);
        self.var_cache.insert(params.id, v.clone());
        v
    }

    fn eval(&mut self, expr: &CompiledExpr, params: &Params) -> Result<Value, String> {
        let vars = self.variables(params);
        let mut ctx = self.base.new_inner_scope();
        ctx.add_variable_from_value("V", vars.clone());
        ctx.add_variable_from_value("variables", vars);
        ctx.add_variable_from_value("C", params.constants.clone());
        ctx.add_variable_from_value("constants", params.constants.clone());
        ctx.add_variable_from_value("runtime", self.runtime.clone());
        expr.eval(&ctx)
    }

    /// Errors count as "not satisfied" and are recorded.
    fn satisfies(&mut self, cond: &Cond, params: &Params) -> bool {
        match cond {
            Cond::Expr(e) => match self.eval(e, params) {
                Ok(Value::Bool(b)) => b,
                Ok(_) => false,
                Err(msg) => {
                    self.record(e, msg);
                    false
                }
            },
            Cond::All(cs) => cs.iter().all(|c| self.satisfies(c, params)),
            Cond::Any(cs) => cs.iter().any(|c| self.satisfies(c, params)),
            Cond::None(cs) => !cs.iter().any(|c| self.satisfies(c, params)),
        }
    }

    fn output(&mut self, expr: Option<&CompiledExpr>, params: &Params, src: String, action: &str) {
        let Some(expr) = expr else { return };
        let val = match self.eval(expr, params) {
            Ok(v) => to_json(&v),
            Err(e) => {
                self.record(expr, e);
                serde_json::Value::Null
            }
        };
        if !self.outputs.iter().any(|o| o.src == src && o.action == action) {
            self.outputs.push(OutputEntry { src, val, action: action.to_string() });
        }
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
        let e = if met { o.rule_activated.as_ref() } else { o.condition_not_met.as_ref() };
        if e.is_some() {
            self.output(e, params, src(), action);
        }
    }
}

fn row_matches(row: &Row, kind: PassKind, resource: &str, action: &str, roles: &[String], pid: &str) -> bool {
    row.kind == kind
        && (kind == PassKind::Resource || row.principal.as_deref() == Some(pid))
        && (row.role == "*" || roles.contains(&row.role))
        && row.action.matches(action)
        && row.resource.matches(resource)
}

fn or_default<'s>(v: &'s str, d: &'s str) -> &'s str {
    if v.is_empty() {
        d
    } else {
        v
    }
}

/// Decides one input.
pub(crate) fn check(table: &Table, rt: &Runtime, opts: &CheckOptions, input: &CheckInput) -> CheckOutput {
    let p = &input.principal;
    let r = &input.resource;
    let pscope = or_default(&p.scope, &opts.default_scope);
    let rscope = or_default(&r.scope, &opts.default_scope);
    let pversion = or_default(&p.policy_version, &opts.default_policy_version);
    let rversion = or_default(&r.policy_version, &opts.default_policy_version);

    let mut effects: BTreeMap<String, ActionEffect> = input
        .actions
        .iter()
        .map(|a| (a.clone(), ActionEffect { effect: Effect::Deny, policy: NO_MATCH.into(), scope: String::new() }))
        .collect();
    let mut out = CheckOutput {
        request_id: input.request_id.clone(),
        resource_id: r.id.clone(),
        actions: BTreeMap::new(),
        effective_derived_roles: Vec::new(),
        validation_errors: Vec::new(),
        outputs: Vec::new(),
        evaluation_errors: Vec::new(),
    };

    let p_scopes = table.all_scopes(PassKind::Principal, pscope, opts.lenient_scopes);
    let r_scopes = table.all_scopes(PassKind::Resource, rscope, opts.lenient_scopes);
    let p_key = p_scopes.first().map(|s| principal_key(&p.id, pversion, s)).unwrap_or_default();
    let r_key = r_scopes.first().map(|s| resource_key(&r.kind, rversion, s)).unwrap_or_default();

    let validation = crate::schema::validate(table, &r_key, input, opts.schema_enforcement);
    let reject = validation.as_ref().is_some_and(|v| v.1);
    out.validation_errors = validation.map(|v| v.0).unwrap_or_default();
    if reject {
        for e in effects.values_mut() {
            e.policy = r_key.clone();
        }
        out.actions = effects;
        return out;
    }

    let p_exists = p_scopes.iter().any(|s| table.scope(pversion, s).is_some_and(|sr| sr.principals.contains(&p.id)));
    let r_exists = r_scopes.iter().any(|s| {
        table.scope(rversion, s).is_some_and(|sr| {
            sr.resource_kinds.contains(&r.kind)
                || sr.rows.iter().any(|row| row.kind == PassKind::Resource && row.resource.matches(&r.kind))
                || sr.role_policies.iter().any(|rp| rp.rules.iter().any(|rr| rr.resource.matches(&r.kind)))
        })
    });
    if (p_scopes.is_empty() && r_scopes.is_empty()) || (!p_exists && !r_exists) {
        out.actions = effects;
        return out;
    }

    let Ok(base) = base_context(rt, opts, input, pscope, rscope) else {
        out.actions = effects;
        return out;
    };
    let mut ev = Evaluator {
        base,
        var_cache: HashMap::new(),
        errors: Vec::new(),
        outputs: Vec::new(),
        runtime: runtime_value(&[]),
        failures: 0,
    };

    let all_roles = table.with_parent_roles(rscope, &p.roles);
    let mut edr_by_scope: HashMap<String, Vec<String>> = HashMap::new();
    let mut all_edr: Vec<String> = Vec::new();

    let mut seen_actions = std::collections::HashSet::new();
    for action in &input.actions {
        if !seen_actions.insert(action.as_str()) {
            continue;
        }
        let mut action_effect = EffectInfo { outcome: Outcome::NoMatch, policy: NO_MATCH.into(), scope: String::new() };
        for pass in [PassKind::Principal, PassKind::Resource] {
            let (main_key, scopes, exists, version) = match pass {
                PassKind::Principal => (&p_key, &p_scopes, p_exists, pversion),
                PassKind::Resource => (&r_key, &r_scopes, r_exists, rversion),
            };
            action_effect.outcome = Outcome::NoMatch;
            for (i, role) in p.roles.iter().enumerate() {
                if i > 0 && pass == PassKind::Principal {
                    break;
                }
                let mut has_allow = false;
                let mut role_effect = EffectInfo {
                    outcome: Outcome::NoMatch,
                    policy: if exists { main_key.clone() } else { NO_MATCH.into() },
                    scope: String::new(),
                };
                let parent_roles = table.with_parent_roles(rscope, std::slice::from_ref(role));
                'scopes: for scope in scopes {
                    if pass == PassKind::Resource {
                        if !edr_by_scope.contains_key(scope) {
                            let edr =
                                derived_roles_at(table, &mut ev, &resource_key(&r.kind, rversion, scope), &all_roles);
                            for d in &edr {
                                if !all_edr.contains(d) {
                                    all_edr.push(d.clone());
                                }
                            }
                            edr_by_scope.insert(scope.clone(), edr);
                        }
                        ev.runtime = runtime_value(edr_by_scope.get(scope).map(Vec::as_slice).unwrap_or_default());
                    } else {
                        ev.runtime = runtime_value(&[]);
                    }
                    if role_effect.outcome != Outcome::NoMatch {
                        break;
                    }
                    let Some(sr) = table.scope(version, scope) else { continue };
                    for row in
                        sr.rows.iter().filter(|row| row_matches(row, pass, &r.kind, action, &parent_roles, &p.id))
                    {
                        let failures = ev.failures;
                        let strict_deny = |ev: &Evaluator<'_>| opts.strict_evaluation && ev.failures > failures;
                        if let Some(dr) = &row.derived_role {
                            if let Some(c) = &dr.condition {
                                if !ev.satisfies(c, &dr.params) {
                                    if strict_deny(&ev) {
                                        role_effect = EffectInfo {
                                            outcome: Outcome::Deny,
                                            policy: role_effect.policy,
                                            scope: scope.clone(),
                                        };
                                        break 'scopes;
                                    }
                                    continue;
                                }
                            }
                        }
                        let met = match &row.condition {
                            Some(c) => ev.satisfies(c, &row.params),
                            None => true,
                        };
                        if strict_deny(&ev) {
                            role_effect =
                                EffectInfo { outcome: Outcome::Deny, policy: role_effect.policy, scope: scope.clone() };
                            break 'scopes;
                        }
                        ev.emit(
                            row.output.as_ref(),
                            met,
                            &row.params,
                            || format!("{}#{}", row.policy_key, row.rule_name),
                            action,
                        );
                        if !met {
                            continue;
                        }
                        match row.effect {
                            Effect::Allow => has_allow = true,
                            Effect::Deny => {
                                role_effect = EffectInfo {
                                    outcome: Outcome::Deny,
                                    policy: role_effect.policy,
                                    scope: scope.clone(),
                                };
                                break 'scopes;
                            }
                        }
                    }
                    if pass == PassKind::Resource {
                        for rp in parent_roles.iter().filter_map(|pr| sr.role_policies.iter().find(|rp| rp.role == *pr))
                        {
                            let hits: Vec<_> = rp
                                .rules
                                .iter()
                                .filter(|rr| {
                                    rr.resource.matches(&r.kind) && rr.allow_actions.iter().any(|a| a.matches(action))
                                })
                                .collect();
                            let mut deny = hits.is_empty();
                            for rr in hits {
                                let met = match &rr.condition {
                                    Some(c) => ev.satisfies(c, &rp.params),
                                    None => true,
                                };
                                ev.emit(
                                    rr.output.as_ref(),
                                    met,
                                    &rp.params,
                                    || format!("{}#{}", rp.policy_key, rr.rule_name),
                                    action,
                                );
                                deny |= !met;
                            }
                            if deny {
                                role_effect = EffectInfo {
                                    outcome: Outcome::Deny,
                                    policy: rp.policy_key.to_string(),
                                    scope: scope.clone(),
                                };
                                break 'scopes;
                            }
                        }
                    }
                    if has_allow {
                        let perms = match pass {
                            PassKind::Principal => table.principal_permissions.get(scope),
                            PassKind::Resource => table.resource_permissions.get(scope),
                        };
                        match perms {
                            Some(ScopePermissions::RequireParentalConsentForAllows) => has_allow = false,
                            Some(_) => {
                                role_effect = EffectInfo {
                                    outcome: Outcome::Allow,
                                    policy: role_effect.policy,
                                    scope: scope.clone(),
                                };
                                break 'scopes;
                            }
                            None => {}
                        }
                    }
                }
                if action_effect.outcome == Outcome::NoMatch {
                    action_effect = role_effect.clone();
                }
                if role_effect.outcome == Outcome::Allow {
                    action_effect = role_effect;
                    break;
                }
            }
            if action_effect.outcome != Outcome::NoMatch {
                break;
            }
        }
        let effect = match action_effect.outcome {
            Outcome::Allow => Effect::Allow,
            _ => Effect::Deny,
        };
        effects
            .insert(action.clone(), ActionEffect { effect, policy: action_effect.policy, scope: action_effect.scope });
    }
    out.actions = effects;
    out.effective_derived_roles = all_edr;
    out.outputs = ev.outputs;
    out.evaluation_errors = ev.errors;
    out
}

fn derived_roles_at(table: &Table, ev: &mut Evaluator<'_>, key: &str, roles: &[String]) -> Vec<String> {
    let mut active = Vec::new();
    let Some(defs) = table.derived_roles.get(key) else { return active };
    ev.runtime = runtime_value(&[]);
    for def in defs {
        if !def.parent_roles.iter().any(|pr| pr == "*" || roles.contains(pr)) {
            continue;
        }
        let ok = match &def.condition {
            Some(c) => ev.satisfies(c, &def.params),
            None => true,
        };
        if ok {
            active.push(def.name.clone());
        }
    }
    active
}

fn base_context<'r>(
    rt: &'r Runtime,
    opts: &CheckOptions,
    input: &CheckInput,
    pscope: &str,
    rscope: &str,
) -> Result<Context<'r, 'static>, ValidationError> {
    let mut ctx = rt.scope();
    let (request, principal, resource) = request_value(input, pscope, rscope);
    ctx.add_variable_from_value("request", request);
    ctx.add_variable_from_value("P", principal);
    ctx.add_variable_from_value("R", resource);
    let globals = from_json(&serde_json::Value::Object(opts.globals.clone()));
    ctx.add_variable_from_value("G", globals.clone());
    ctx.add_variable_from_value("globals", globals);
    if let Some(now) = opts.now {
        ctx.add_variable_from_value(NOW_VAR, Value::Timestamp(now));
    }
    Ok(ctx)
}

/// Every action DENY with no policy: what a request gets when the engine cannot run.
pub(crate) fn deny_all(input: &CheckInput) -> CheckOutput {
    CheckOutput {
        request_id: input.request_id.clone(),
        resource_id: input.resource.id.clone(),
        actions: input
            .actions
            .iter()
            .map(|a| (a.clone(), ActionEffect { effect: Effect::Deny, policy: NO_MATCH.into(), scope: String::new() }))
            .collect(),
        effective_derived_roles: Vec::new(),
        validation_errors: Vec::new(),
        outputs: Vec::new(),
        evaluation_errors: Vec::new(),
    }
}
