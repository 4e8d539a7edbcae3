//! Builds the rule [`Table`] from parsed policy documents, validating everything
//! and collecting every error with its location.

mod params;
mod schemas;

use crate::cel::tz::{ZoneRefs, Zones};
use crate::cel::{CompiledExpr, Runtime};
use crate::error::{BuildError, Location};
use crate::glob::Glob;
use crate::policy::{self, Effect, PolicyDoc, ScopePermissions};
use crate::source::ParsedDoc;
use crate::table::{
    principal_key, resource_key, role_key, scope_parents, Cond, DerivedRoleDef, Outputs, PassKind, RolePolicy,
    RoleRule, Row, Table,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, LazyLock};

const API_VERSION: &str = "api.cerbos.dev/v1";

static VAR_REF: LazyLock<Option<regex_lite::Regex>> =
    LazyLock::new(|| regex_lite::Regex::new(r"\b(V|variables)\.([A-Za-z_][A-Za-z0-9_]*)").ok());
static CONST_REF: LazyLock<Option<regex_lite::Regex>> =
    LazyLock::new(|| regex_lite::Regex::new(r"\b(C|constants)\.([A-Za-z_][A-Za-z0-9_]*)").ok());

static INDEX_LOOKUP: LazyLock<Option<regex_lite::Regex>> =
    LazyLock::new(|| regex_lite::Regex::new(r"\b(V|variables|C|constants|G|globals)\s*\[").ok());

fn refs<'a>(re: &LazyLock<Option<regex_lite::Regex>>, src: &'a str) -> Vec<&'a str> {
    match re.as_ref() {
        Some(re) => re.captures_iter(src).filter_map(|c| c.get(2)).map(|m| m.as_str()).collect(),
        None => Vec::new(),
    }
}

/// Makes a policy key from (name, version, scope).
type KeyFn = fn(&str, &str, &str) -> String;

struct Compiler<'a> {
    rt: &'a Runtime,
    errors: Vec<BuildError>,
    table: Table,
    export_vars: HashMap<String, (&'a ParsedDoc, &'a BTreeMap<String, String>)>,
    export_consts: HashMap<String, (&'a ParsedDoc, &'a BTreeMap<String, serde_json::Value>)>,
    derived_sets: HashMap<String, (&'a ParsedDoc, &'a policy::DerivedRoles)>,
    compiled_sets: HashMap<String, Vec<usize>>,
    /// The time zones the expressions name.
    zones: ZoneRefs,
}

/// A compiled parameter set plus the names it defines (for reference checks).
struct ParamScope {
    /// Index into the table's parameter sets.
    params: usize,
    var_names: HashSet<String>,
    const_names: HashSet<String>,
}

/// Builds the table; `schema_paths` are the files under `_schemas/` (relative to it).
pub(crate) fn compile(
    rt: &Runtime,
    docs: &[ParsedDoc],
    schema_files: &HashMap<String, String>,
) -> Result<Table, Vec<BuildError>> {
    let mut c = Compiler {
        rt,
        errors: Vec::new(),
        table: Table::default(),
        export_vars: HashMap::new(),
        export_consts: HashMap::new(),
        derived_sets: HashMap::new(),
        compiled_sets: HashMap::new(),
        zones: ZoneRefs::default(),
    };
    c.index_shared(docs);
    c.check_duplicates_and_ancestors(docs);
    for d in docs.iter().filter(|d| !d.doc.disabled) {
        if let Some(rp) = &d.doc.resource_policy {
            c.resource_policy(d, rp, schema_files);
        } else if let Some(pp) = &d.doc.principal_policy {
            c.principal_policy(d, pp);
        } else if let Some(rl) = &d.doc.role_policy {
            c.role_policy(d, rl);
        } else if let Some(dr) = &d.doc.derived_roles {
            c.derived_set(d, &dr.name);
        } else if d.doc.export_variables.is_some() || d.doc.export_constants.is_some() {
            // Checked when imported.
        }
    }
    if c.errors.is_empty() {
        for sr in c.table.scopes.values_mut().flat_map(|m| m.values_mut()) {
            sr.index();
        }
        c.table.zones = Arc::new(Zones::from_refs(&c.zones));
        Ok(c.table)
    } else {
        c.errors.sort_by(|a, b| a.location().cmp(b.location()));
        c.errors.dedup();
        Err(c.errors)
    }
}

fn kinds(doc: &PolicyDoc) -> usize {
    [
        doc.resource_policy.is_some(),
        doc.principal_policy.is_some(),
        doc.role_policy.is_some(),
        doc.derived_roles.is_some(),
        doc.export_variables.is_some(),
        doc.export_constants.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count()
}

impl<'a> Compiler<'a> {
    fn err(&mut self, loc: Location, msg: impl Into<String>, hint: Option<&str>) {
        let mut e = BuildError::new(loc, msg);
        if let Some(h) = hint {
            e = e.with_hint(h);
        }
        self.errors.push(e);
    }

    fn index_shared(&mut self, docs: &'a [ParsedDoc]) {
        for d in docs {
            if d.doc.api_version != API_VERSION {
                self.err(
                    d.locate("apiVersion"),
                    format!("unsupported apiVersion `{}`", d.doc.api_version),
                    Some("use `api.cerbos.dev/v1`"),
                );
            }
            if kinds(&d.doc) != 1 {
                self.err(
                    d.locate("apiVersion"),
                    "a policy document must define exactly one policy",
                    Some("use one of resourcePolicy, principalPolicy, rolePolicy, derivedRoles, exportVariables, exportConstants"),
                );
            }
            if d.doc.disabled {
                continue;
            }
            if let Some(ev) = &d.doc.export_variables {
                if self.export_vars.insert(ev.name.clone(), (d, &ev.definitions)).is_some() {
                    self.err(d.locate(&ev.name), format!("duplicate exportVariables `{}`", ev.name), None);
                }
            }
            if let Some(ec) = &d.doc.export_constants {
                if self.export_consts.insert(ec.name.clone(), (d, &ec.definitions)).is_some() {
                    self.err(d.locate(&ec.name), format!("duplicate exportConstants `{}`", ec.name), None);
                }
            }
            if let Some(dr) = &d.doc.derived_roles {
                if self.derived_sets.insert(dr.name.clone(), (d, dr)).is_some() {
                    self.err(d.locate(&dr.name), format!("duplicate derivedRoles `{}`", dr.name), None);
                }
            }
        }
    }

    fn check_duplicates_and_ancestors(&mut self, docs: &[ParsedDoc]) {
        let mut seen: HashMap<String, &ParsedDoc> = HashMap::new();
        for d in docs.iter().filter(|d| !d.doc.disabled) {
            let key = if let Some(rp) = &d.doc.resource_policy {
                resource_key(&rp.resource, &rp.version, &rp.scope)
            } else if let Some(pp) = &d.doc.principal_policy {
                principal_key(&pp.principal, &pp.version, &pp.scope)
            } else if let Some(rl) = &d.doc.role_policy {
                role_key(&rl.role, rl.version.as_deref().unwrap_or(crate::DEFAULT_POLICY_VERSION), &rl.scope)
            } else {
                continue;
            };
            if let Some(first) = seen.get(&key) {
                let msg = format!("duplicate policy definition `{key}` (also in {})", first.file);
                self.err(
                    d.locate("apiVersion"),
                    msg,
                    Some("each policy key (kind, name, version, scope) must be unique"),
                );
            } else {
                seen.insert(key, d);
            }
        }
        for d in docs.iter().filter(|d| !d.doc.disabled) {
            let (make, name, version, scope): (KeyFn, &str, &str, &str) = if let Some(rp) = &d.doc.resource_policy {
                (resource_key, &rp.resource, &rp.version, &rp.scope)
            } else if let Some(pp) = &d.doc.principal_policy {
                (principal_key, &pp.principal, &pp.version, &pp.scope)
            } else {
                continue;
            };
            for parent in scope_parents(scope) {
                let key = make(name, version, parent);
                if !seen.contains_key(&key) {
                    self.err(
                        d.locate("scope"),
                        format!("missing policy definition: missing ancestor policy `{key}`"),
                        Some("every scoped policy needs a policy in each parent scope"),
                    );
                }
            }
        }
    }

    fn compile_expr(&mut self, d: &ParsedDoc, src: &str, scope: Option<&ParamScope>) -> Option<CompiledExpr> {
        let loc = d.locate(src.lines().next().unwrap_or(src).trim());
        self.table.uses_runtime |= src.contains("runtime");
        let expr = match self.rt.compile(src) {
            Ok(e) => e,
            Err(e) => {
                let msg = format!("invalid expression `{}`: {}", src.trim(), e.replace('\n', " "));
                self.err(loc, msg, Some("check the CEL syntax"));
                return None;
            }
        };
        let problems = crate::cel::check::check(self.rt, expr.ast());
        for problem in &problems {
            let msg = format!("invalid expression `{}`: {problem}", src.trim());
            self.err(loc.clone(), msg, Some("check the names against Cerbos's CEL functions and variables"));
        }
        if !problems.is_empty() {
            return None;
        }
        self.table.reads_clock |= crate::cel::walk::reads_clock(expr.ast());
        if let Err(m) = self.zones.add(expr.ast()) {
            let msg = format!("invalid expression `{}`: {m}", src.trim());
            self.err(loc.clone(), msg, Some("name an IANA time zone (e.g. `Europe/Paris`) or an offset (`+01:00`)"));
        }
        if let Some(m) = INDEX_LOOKUP.as_ref().and_then(|re| re.find(src)) {
            let msg = format!(
                "invalid expression `{}`: `{}` cannot be indexed with `[...]`",
                src.trim(),
                m.as_str().trim_end_matches('[').trim()
            );
            self.err(loc.clone(), msg, Some("use field selection, e.g. `V.name`"));
        }
        if let Some(ps) = scope {
            for v in refs(&VAR_REF, src) {
                if !ps.var_names.contains(v) {
                    self.err(
                        loc.clone(),
                        format!("undefined variable `{v}`"),
                        Some("define it under variables.local or import it"),
                    );
                }
            }
            for c in refs(&CONST_REF, src) {
                if !ps.const_names.contains(c) {
                    self.err(
                        loc.clone(),
                        format!("undefined constant `{c}`"),
                        Some("define it under constants.local or import it"),
                    );
                }
            }
        }
        Some(expr)
    }

    fn compile_match(&mut self, d: &ParsedDoc, m: &policy::Match, ps: &ParamScope) -> Option<Cond> {
        let set = [m.expr.is_some(), m.all.is_some(), m.any.is_some(), m.none.is_some()];
        if set.iter().filter(|b| **b).count() != 1 {
            self.err(d.locate("match"), "a match must have exactly one of expr, all, any, none", None);
            return None;
        }
        if let Some(e) = &m.expr {
            return self.compile_expr(d, e, Some(ps)).map(Cond::Expr);
        }
        let (list, mk): (&policy::MatchList, fn(Vec<Cond>) -> Cond) = match (&m.all, &m.any, &m.none) {
            (Some(l), _, _) => (l, Cond::All),
            (_, Some(l), _) => (l, Cond::Any),
            (_, _, Some(l)) => (l, Cond::None),
            _ => return None,
        };
        let parts: Vec<Option<Cond>> = list.of.iter().map(|m| self.compile_match(d, m, ps)).collect();
        parts.into_iter().collect::<Option<Vec<_>>>().map(mk)
    }

    /// `Ok(None)` for no condition; `Err(())` when it does not compile (already reported).
    fn compile_cond(
        &mut self,
        d: &ParsedDoc,
        c: Option<&policy::Condition>,
        ps: &ParamScope,
    ) -> Result<Option<Cond>, ()> {
        let Some(c) = c else { return Ok(None) };
        if c.script.is_some() {
            self.err(
                d.locate("script"),
                "script conditions are not supported",
                Some("rewrite the condition as `match: {expr: ...}`"),
            );
            return Err(());
        }
        let Some(m) = &c.match_ else {
            self.err(d.locate("condition"), "condition has no match", None);
            return Err(());
        };
        self.compile_match(d, m, ps).map(Some).ok_or(())
    }

    fn compile_output(&mut self, d: &ParsedDoc, o: Option<&policy::Output>, ps: &ParamScope) -> Option<Arc<Outputs>> {
        let o = o?;
        let when = o.when.clone().unwrap_or_default();
        let activated = when.rule_activated.or_else(|| o.expr.clone()).filter(|s| !s.trim().is_empty());
        let when_not_met = when.condition_not_met.clone().filter(|s| !s.trim().is_empty());
        if activated.is_none() && when_not_met.is_none() {
            self.err(
                d.locate("output"),
                "empty output: output must have at least one expression",
                Some("set output.when.ruleActivated or output.when.conditionNotMet"),
            );
            return None;
        }
        let out = Outputs {
            rule_activated: activated.and_then(|s| self.compile_expr(d, &s, Some(ps))),
            condition_not_met: when_not_met.and_then(|s| self.compile_expr(d, &s, Some(ps))),
        };
        Some(Arc::new(out))
    }

    fn derived_set(&mut self, d: &ParsedDoc, name: &str) -> Option<Vec<usize>> {
        if let Some(done) = self.compiled_sets.get(name) {
            return Some(done.clone());
        }
        let (_, set) = self.derived_sets.get(name).copied()?;
        let ps = self.params(d, set.variables.as_ref(), set.constants.as_ref());
        let mut defs = Vec::new();
        let mut names = HashSet::new();
        for def in &set.definitions {
            if !names.insert(def.name.clone()) {
                self.err(d.locate(&def.name), format!("duplicate derived role `{}` in set `{name}`", def.name), None);
            }
            if def.parent_roles.is_empty() {
                self.err(d.locate(&def.name), format!("derived role `{}` has no parent roles", def.name), None);
            }
            let Ok(condition) = self.compile_cond(d, def.condition.as_ref(), &ps) else { continue };
            defs.push(self.table.derived.len());
            self.table.derived.push(DerivedRoleDef {
                name: def.name.clone(),
                parent_roles: def.parent_roles.clone(),
                condition,
                params: ps.params,
            });
        }
        self.compiled_sets.insert(name.to_string(), defs.clone());
        Some(defs)
    }

    fn resource_policy(&mut self, d: &ParsedDoc, rp: &policy::ResourcePolicy, schema_files: &HashMap<String, String>) {
        let key: Arc<str> = Arc::from(resource_key(&rp.resource, &rp.version, &rp.scope));
        let ps = self.params(d, rp.variables.as_ref(), rp.constants.as_ref());
        let available = self.imported_derived_roles(d, rp);
        let schemas = self.schema_refs(d, rp.schemas.as_ref(), schema_files);
        self.table.schemas.insert(key.to_string(), schemas);
        let perms = match rp.scope_permissions {
            ScopePermissions::Unspecified => ScopePermissions::OverrideParent,
            p => p,
        };
        self.table.resource_permissions.insert(rp.scope.clone(), perms);
        self.table.resource_scopes.insert(rp.scope.clone());
        let mut referenced: Vec<usize> = Vec::new();
        let mut rows = Vec::new();
        for (i, rule) in rp.rules.iter().enumerate() {
            let rule_name: Arc<str> = Arc::from(rule.name.clone().unwrap_or_else(|| format!("rule-{:03}", i + 1)));
            if rule.roles.is_empty() && rule.derived_roles.is_empty() {
                self.err(
                    d.locate_after("rules", rule.actions.first().map(String::as_str).unwrap_or("actions")),
                    "rule has no roles or derivedRoles",
                    Some("add `roles: [\"*\"]` to apply it to everyone"),
                );
            }
            if rule.actions.is_empty() {
                self.err(
                    d.locate_after("rules", rule.name.as_deref().unwrap_or("actions")),
                    "rule has no actions",
                    Some("list the actions it applies to, or `[\"*\"]` for all"),
                );
            }
            let Ok(cond) = self.compile_cond(d, rule.condition.as_ref(), &ps) else { continue };
            let output = self.compile_output(d, rule.output.as_ref(), &ps);
            let (effect, cond) = consent(rp.scope_permissions, rule.effect, cond);
            let targets = self.rule_targets(d, rule, &available, &mut referenced);
            for action in &rule.actions {
                for (role, dr) in &targets {
                    rows.push(Row {
                        kind: PassKind::Resource,
                        policy_key: key.clone(),
                        resource: Glob::new(&rp.resource),
                        role: role.clone(),
                        principal: None,
                        action: Glob::new(action),
                        condition: cond.clone(),
                        derived_role: *dr,
                        effect,
                        output: output.clone(),
                        rule_name: rule_name.clone(),
                        params: ps.params,
                    });
                }
            }
        }
        let sr = self.table.scopes.entry(rp.version.clone()).or_default().entry(rp.scope.clone()).or_default();
        let entry = sr.kinds.entry(rp.resource.clone()).or_default();
        entry.derived_roles = referenced;
        entry.policy = Some(key.clone());
        sr.rows.extend(rows);
    }

    /// The derived roles a resource policy imports: name → definitions (several = ambiguous).
    fn imported_derived_roles(&mut self, d: &ParsedDoc, rp: &policy::ResourcePolicy) -> HashMap<String, Vec<usize>> {
        let mut available: HashMap<String, Vec<usize>> = HashMap::new();
        for imp in &rp.import_derived_roles {
            let set_doc = self.derived_sets.get(imp).map(|(sd, _)| *sd);
            match set_doc {
                Some(sd) => {
                    for def in self.derived_set(sd, imp).unwrap_or_default() {
                        let def_name = self.table.derived(def).map(|x| x.name.clone()).unwrap_or_default();
                        available.entry(def_name).or_default().push(def);
                    }
                }
                None => self.err(
                    d.locate_after("importDerivedRoles", imp),
                    format!("import not found: derived roles `{imp}` are not defined"),
                    Some("define them with a derivedRoles policy"),
                ),
            }
        }
        available
    }

    /// Who a rule applies to: its roles, and the parent roles of its derived roles (each with the
    /// derived role's definition, which `referenced` collects for the scope).
    fn rule_targets(
        &mut self,
        d: &ParsedDoc,
        rule: &policy::ResourceRule,
        available: &HashMap<String, Vec<usize>>,
        referenced: &mut Vec<usize>,
    ) -> Vec<(String, Option<usize>)> {
        let mut targets: Vec<(String, Option<usize>)> = rule.roles.iter().map(|r| (r.clone(), None)).collect();
        for dr in &rule.derived_roles {
            match available.get(dr).map(Vec::as_slice) {
                Some([def]) => {
                    let def = *def;
                    if !referenced.contains(&def) {
                        referenced.push(def);
                    }
                    let parents = self.table.derived(def).map(|x| x.parent_roles.clone()).unwrap_or_default();
                    targets.extend(parents.into_iter().map(|p| (p, Some(def))));
                }
                Some(_) => self.err(
                    d.locate_after("derivedRoles", dr),
                    format!("ambiguous derived role `{dr}`: defined in more than one imported set"),
                    Some("import only one set defining it"),
                ),
                None => self.err(
                    d.locate_after("derivedRoles", dr),
                    format!("unknown derived role `{dr}`: not defined in any imports"),
                    Some("import the derivedRoles set that defines it"),
                ),
            }
        }
        targets
    }

    fn principal_policy(&mut self, d: &ParsedDoc, pp: &policy::PrincipalPolicy) {
        let key: Arc<str> = Arc::from(principal_key(&pp.principal, &pp.version, &pp.scope));
        let ps = self.params(d, pp.variables.as_ref(), pp.constants.as_ref());
        let perms = match pp.scope_permissions {
            ScopePermissions::Unspecified => ScopePermissions::OverrideParent,
            p => p,
        };
        self.table.principal_permissions.insert(pp.scope.clone(), perms);
        self.table.principal_scopes.insert(pp.scope.clone());
        let mut rows = Vec::new();
        let mut n = 0;
        for rule in &pp.rules {
            if rule.actions.is_empty() {
                self.err(
                    d.locate_after("rules", &rule.resource),
                    format!("rule for resource `{}` has no actions", rule.resource),
                    None,
                );
            }
            for a in &rule.actions {
                n += 1;
                let rule_name: Arc<str> = Arc::from(a.name.clone().unwrap_or_else(|| format!("rule-{n:03}")));
                let Ok(cond) = self.compile_cond(d, a.condition.as_ref(), &ps) else { continue };
                let output = self.compile_output(d, a.output.as_ref(), &ps);
                let (effect, cond) = consent(pp.scope_permissions, a.effect, cond);
                rows.push(Row {
                    kind: PassKind::Principal,
                    policy_key: key.clone(),
                    resource: Glob::new(&rule.resource),
                    role: "*".into(),
                    principal: Some(pp.principal.clone()),
                    action: Glob::new(&a.action),
                    condition: cond,
                    derived_role: None,
                    effect,
                    output,
                    rule_name,
                    params: ps.params,
                });
            }
        }
        let sr = self.table.scopes.entry(pp.version.clone()).or_default().entry(pp.scope.clone()).or_default();
        sr.principals.insert(pp.principal.clone(), key.clone());
        sr.rows.extend(rows);
    }

    fn role_policy(&mut self, d: &ParsedDoc, rl: &policy::RolePolicy) {
        let version = rl.version.clone().unwrap_or_else(|| crate::DEFAULT_POLICY_VERSION.into());
        let key: Arc<str> = Arc::from(role_key(&rl.role, &version, &rl.scope));
        let ps = self.params(d, rl.variables.as_ref(), rl.constants.as_ref());
        let mut rules = Vec::new();
        for (i, r) in rl.rules.iter().enumerate() {
            if r.allow_actions.is_empty() {
                self.err(
                    d.locate_after("rules", &r.resource),
                    format!("rule for resource `{}` has no allowActions", r.resource),
                    None,
                );
            }
            let Ok(condition) = self.compile_cond(d, r.condition.as_ref(), &ps) else { continue };
            let output = self.compile_output(d, r.output.as_ref(), &ps);
            rules.push(RoleRule {
                resource: Glob::new(&r.resource),
                allow_actions: r.allow_actions.iter().map(|a| Glob::new(a)).collect(),
                condition,
                output,
                rule_name: Arc::from(r.name.clone().unwrap_or_else(|| format!("{}_rule-{i:03}", rl.role))),
            });
        }
        self.table.resource_scopes.insert(rl.scope.clone());
        self.table.parent_roles.entry(rl.scope.clone()).or_default().insert(rl.role.clone(), rl.parent_roles.clone());
        let sr = self.table.scopes.entry(version).or_default().entry(rl.scope.clone()).or_default();
        sr.role_policies.push(RolePolicy { role: rl.role.clone(), policy_key: key, rules, params: ps.params });
    }
}

/// Under REQUIRE_PARENTAL_CONSENT_FOR_ALLOWS a conditional ALLOW becomes a DENY
/// when its condition does not hold (the ALLOW itself must come from a parent).
fn consent(perms: ScopePermissions, effect: Effect, cond: Option<Cond>) -> (Effect, Option<Cond>) {
    match (perms, effect, cond) {
        (ScopePermissions::RequireParentalConsentForAllows, Effect::Allow, Some(c)) => {
            (Effect::Deny, Some(Cond::None(vec![c])))
        }
        (_, e, c) => (e, c),
    }
}
