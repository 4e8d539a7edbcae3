//! The compiled, indexed form of a policy set that checks run against.

use crate::cel::CompiledExpr;
use crate::glob::Glob;
use crate::policy::{Effect, ScopePermissions};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

/// The table's maps and sets: keyed by names from the policies (scopes, versions, kinds, roles),
/// hashed with FxHash, which is deterministic and fast on short keys. Requests only look keys
/// up, never add any, so no request can crowd a bucket.
pub(crate) type Map<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;
/// See [`Map`].
pub(crate) type Set<K> = HashSet<K, rustc_hash::FxBuildHasher>;
/// A request's few names (scopes to search, roles with their parents), off the heap.
pub(crate) type Names<'a> = smallvec::SmallVec<[&'a str; 4]>;

/// A compiled condition tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Cond {
    Expr(CompiledExpr),
    All(Vec<Cond>),
    Any(Vec<Cond>),
    None(Vec<Cond>),
}

/// Constants and ordered variables shared by the rules of one policy.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    /// Index into [`Table::params`]: the per-request variable cache key.
    pub(crate) id: usize,
    /// Built once (at build or load); borrowed by every interpreted evaluation.
    pub(crate) constants: Box<dyn cel::common::value::Val>,
    /// The constants as JSON (a bundle stores their text); read by fast evaluations.
    pub(crate) constants_json: serde_json::Value,
    /// In dependency order.
    pub(crate) variables: Vec<(String, CompiledExpr)>,
}

impl Params {
    /// A parameter set from constants as JSON.
    pub(crate) fn new(id: usize, constants: &serde_json::Value, variables: Vec<(String, CompiledExpr)>) -> Self {
        Params {
            id,
            constants: crate::cel::owned_val(crate::cel::from_json(constants)),
            constants_json: constants.clone(),
            variables,
        }
    }
}

impl Serialize for Params {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.id, self.constants_json.to_string(), &self.variables).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (id, json, variables): (usize, String, Vec<(String, CompiledExpr)>) = Deserialize::deserialize(d)?;
        let constants: serde_json::Value = serde_json::from_str(&json).map_err(serde::de::Error::custom)?;
        Ok(Params::new(id, &constants, variables))
    }
}

/// Output expressions of a rule.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Outputs {
    pub(crate) rule_activated: Option<CompiledExpr>,
    pub(crate) condition_not_met: Option<CompiledExpr>,
}

/// The policy kind a row came from, for the two evaluation passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) enum PassKind {
    Principal,
    Resource,
}

/// A derived role a row is conditional on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DerivedRoleDef {
    pub(crate) name: String,
    pub(crate) parent_roles: Vec<String>,
    pub(crate) condition: Option<Cond>,
    /// Index into [`Table::params`].
    pub(crate) params: usize,
}

/// One (role, action) rule of a resource or principal policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Row {
    pub(crate) kind: PassKind,
    /// Key of the policy the row comes from, e.g. `resource.leave_request.vdefault/acme`.
    pub(crate) policy_key: Arc<str>,
    pub(crate) resource: Glob,
    /// `*` matches any role.
    pub(crate) role: String,
    pub(crate) principal: Option<String>,
    pub(crate) action: Glob,
    pub(crate) condition: Option<Cond>,
    /// Index into [`Table::derived`].
    pub(crate) derived_role: Option<usize>,
    pub(crate) effect: Effect,
    pub(crate) output: Option<Arc<Outputs>>,
    pub(crate) rule_name: Arc<str>,
    /// Index into [`Table::params`].
    pub(crate) params: usize,
}

/// A rule of a role policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RoleRule {
    pub(crate) resource: Glob,
    pub(crate) allow_actions: Vec<Glob>,
    pub(crate) condition: Option<Cond>,
    pub(crate) output: Option<Arc<Outputs>>,
    pub(crate) rule_name: Arc<str>,
}

/// A role policy in one scope.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RolePolicy {
    pub(crate) role: String,
    pub(crate) policy_key: Arc<str>,
    pub(crate) rules: Vec<RoleRule>,
    /// Index into [`Table::params`].
    pub(crate) params: usize,
}

/// Schema references of a resource policy.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct SchemaRefs {
    pub(crate) principal: Option<(String, Vec<Glob>)>,
    pub(crate) resource: Option<(String, Vec<Glob>)>,
}

/// Rows of one (version, scope).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ScopeRows {
    pub(crate) rows: Vec<Row>,
    pub(crate) role_policies: Vec<RolePolicy>,
    /// Principals with a principal policy here, with its key.
    #[serde(serialize_with = "canonical::map")]
    pub(crate) principals: Map<String, Arc<str>>,
    /// What this scope has for each resource kind a policy names literally: one lookup per
    /// request and scope.
    #[serde(serialize_with = "canonical::map")]
    pub(crate) kinds: Map<String, KindRows>,
    /// Rows whose resource is a glob (ascending).
    pub(crate) glob_rows: Vec<usize>,
}

/// A scope's policies for one resource kind.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct KindRows {
    /// The key of the kind's resource policy here, if there is one (even one with no rules).
    pub(crate) policy: Option<Arc<str>>,
    /// Rows for exactly this kind (indices into [`ScopeRows::rows`], ascending).
    pub(crate) rows: Vec<usize>,
    /// The derived roles (indices into [`Table::derived`]) its resource policy here references.
    pub(crate) derived_roles: Vec<usize>,
}

impl ScopeRows {
    /// Builds the kind index; called once after all rows are in.
    pub(crate) fn index(&mut self) {
        self.kinds.values_mut().for_each(|k| k.rows.clear());
        self.glob_rows.clear();
        for (i, row) in self.rows.iter().enumerate() {
            match row.resource.literal() {
                Some(kind) => self.kinds.entry(kind.to_string()).or_default().rows.push(i),
                None => self.glob_rows.push(i),
            }
        }
    }

    /// The rows that can apply to resource `kind`, in policy order.
    pub(crate) fn rows_for<'s>(&'s self, kind: &'s str) -> impl Iterator<Item = &'s Row> + 's {
        self.rows_in(self.kinds.get(kind), kind)
    }

    /// [`Self::rows_for`] with the kind's entry already looked up.
    pub(crate) fn rows_in<'s>(
        &'s self,
        entry: Option<&'s KindRows>,
        kind: &'s str,
    ) -> impl Iterator<Item = &'s Row> + 's {
        let exact: &[usize] = entry.map(|k| k.rows.as_slice()).unwrap_or_default();
        let globs = self.glob_rows.iter().filter(move |i| self.rows.get(**i).is_some_and(|r| r.resource.matches(kind)));
        MergeAsc { a: exact.iter().copied().peekable(), b: globs.copied().peekable() }
            .filter_map(move |i| self.rows.get(i))
    }
}

/// Merges two ascending index streams.
struct MergeAsc<A: Iterator<Item = usize>, B: Iterator<Item = usize>> {
    a: std::iter::Peekable<A>,
    b: std::iter::Peekable<B>,
}

impl<A: Iterator<Item = usize>, B: Iterator<Item = usize>> Iterator for MergeAsc<A, B> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        match (self.a.peek(), self.b.peek()) {
            (Some(x), Some(y)) if x <= y => self.a.next(),
            (Some(_), Some(_)) | (None, Some(_)) => self.b.next(),
            (Some(_), None) => self.a.next(),
            (None, None) => None,
        }
    }
}

/// The whole compiled policy set.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Table {
    /// version → scope → rows.
    #[serde(serialize_with = "canonical::nested")]
    pub(crate) scopes: Map<String, Map<String, ScopeRows>>,
    #[serde(serialize_with = "canonical::set")]
    pub(crate) principal_scopes: Set<String>,
    #[serde(serialize_with = "canonical::set")]
    pub(crate) resource_scopes: Set<String>,
    #[serde(serialize_with = "canonical::map")]
    pub(crate) principal_permissions: Map<String, ScopePermissions>,
    #[serde(serialize_with = "canonical::map")]
    pub(crate) resource_permissions: Map<String, ScopePermissions>,
    /// scope → role → parent roles.
    #[serde(serialize_with = "canonical::nested")]
    pub(crate) parent_roles: Map<String, Map<String, Vec<String>>>,
    /// resource policy key → schemas.
    #[serde(serialize_with = "canonical::map")]
    pub(crate) schemas: Map<String, SchemaRefs>,
    /// Every parameter set, by id.
    pub(crate) params: Vec<Params>,
    /// Every derived role definition in use.
    pub(crate) derived: Vec<DerivedRoleDef>,
    /// Whether any expression mentions `runtime` (else `runtime` values are never built).
    pub(crate) uses_runtime: bool,
    /// Whether any expression reads the request's time (`now()`, `timeSince()`).
    pub(crate) reads_clock: bool,
    /// The time zones the conditions name, with their offset history.
    pub(crate) zones: std::sync::Arc<crate::cel::tz::Zones>,
    /// Referenced schema documents by path under `_schemas/`.
    #[serde(with = "json_text")]
    pub(crate) schema_docs: HashMap<String, serde_json::Value>,
}

/// Hash maps and sets written in key order, so equal tables serialize to equal bytes (a baked
/// component is then reproducible from its policies). Reading them back needs no help.
mod canonical {
    use super::{Map, Set};
    use serde::{Serialize, Serializer};
    use std::collections::{BTreeMap, BTreeSet};

    /// A map written in key order.
    struct Sorted<'a, V>(&'a Map<String, V>);

    impl<V: Serialize> Serialize for Sorted<'_, V> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.0.iter().collect::<BTreeMap<_, _>>())
        }
    }

    pub(super) fn map<V: Serialize, S: Serializer>(m: &Map<String, V>, s: S) -> Result<S::Ok, S::Error> {
        Sorted(m).serialize(s)
    }

    /// A map of maps, both levels in key order.
    pub(super) fn nested<V: Serialize, S: Serializer>(
        m: &Map<String, Map<String, V>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(m.iter().map(|(k, v)| (k, Sorted(v))).collect::<BTreeMap<_, _>>())
    }

    pub(super) fn set<S: Serializer>(m: &Set<String>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter().collect::<BTreeSet<_>>())
    }
}

/// JSON documents stored as text: compact binary formats cannot carry `serde_json::Value`.
mod json_text {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::HashMap;

    pub(super) fn serialize<S: Serializer>(m: &HashMap<String, serde_json::Value>, s: S) -> Result<S::Ok, S::Error> {
        let text: std::collections::BTreeMap<&String, String> = m.iter().map(|(k, v)| (k, v.to_string())).collect();
        text.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<HashMap<String, serde_json::Value>, D::Error> {
        let text: HashMap<String, String> = HashMap::deserialize(d)?;
        text.into_iter()
            .map(|(k, v)| serde_json::from_str(&v).map(|v| (k, v)).map_err(serde::de::Error::custom))
            .collect()
    }
}

static NO_PARAMS: OnceLock<Params> = OnceLock::new();

fn no_params() -> &'static Params {
    NO_PARAMS.get_or_init(|| Params::new(usize::MAX, &serde_json::json!({}), Vec::new()))
}

/// Builds the shared empty parameter set now (see [`crate::prepare`]).
pub(crate) fn prepare_statics() {
    let _ = no_params();
}

impl Table {
    /// Parameter set `i` (an empty one if out of range, which compilation never produces).
    pub(crate) fn params(&self, i: usize) -> &Params {
        self.params.get(i).unwrap_or_else(|| no_params())
    }

    /// Derived role definition `i`.
    pub(crate) fn derived(&self, i: usize) -> Option<&DerivedRoleDef> {
        self.derived.get(i)
    }
}

/// `resource.kind.vversion[/scope]`.
pub(crate) fn resource_key(kind: &str, version: &str, scope: &str) -> String {
    policy_key("resource", kind, version, scope)
}

/// `principal.id.vversion[/scope]`.
pub(crate) fn principal_key(id: &str, version: &str, scope: &str) -> String {
    policy_key("principal", id, version, scope)
}

/// `role.name.vversion[/scope]`.
pub(crate) fn role_key(role: &str, version: &str, scope: &str) -> String {
    policy_key("role", role, version, scope)
}

fn policy_key(kind: &str, name: &str, version: &str, scope: &str) -> String {
    let (name, version) = (sanitize(name), sanitize(version));
    let mut key = String::with_capacity(kind.len() + name.len() + version.len() + scope.len() + 4);
    for part in [kind, ".", &name, ".v", &version] {
        key.push_str(part);
    }
    if !scope.is_empty() {
        key.push('/');
        key.push_str(scope);
    }
    key
}

/// A name as Cerbos writes it in a policy key: a name of the form policies had to have before
/// Cerbos 0.30 (segments separated by `:`, each a letter followed by word characters, `@`, `.`,
/// `-` or `/`) has every run of characters other than word characters and `.` replaced by `_`
/// (`audit-bot` → `audit_bot`); any other name is kept as it is.
fn sanitize(name: &str) -> std::borrow::Cow<'_, str> {
    let keeps = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    // The usual case: nothing to replace.
    if name.bytes().all(|b| keeps(char::from(b))) {
        return std::borrow::Cow::Borrowed(name);
    }
    let old_style = name.split(':').all(|segment| {
        let mut chars = segment.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '.' | '-' | '/'))
    });
    if !old_style {
        return std::borrow::Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod sanitize_tests {
    use super::sanitize;

    #[test]
    fn old_style_names_lose_their_punctuation_others_are_kept() {
        for (name, key) in [
            ("audit-bot", "audit_bot"),
            ("leave_request", "leave_request"),
            ("a@b.c/d", "a_b.c_d"),
            ("doc:sub-type", "doc_sub_type"),
            ("x--y", "x_y"),
            ("20210210", "20210210"),
            ("spiffe://prod.example.org/ns", "spiffe://prod.example.org/ns"),
            ("has space", "has space"),
            ("", ""),
        ] {
            assert_eq!(sanitize(name), key, "{name}");
        }
    }
}

/// The parents of a scope, nearest first, ending with the root scope `""`.
pub(crate) fn scope_parents(scope: &str) -> impl Iterator<Item = &str> {
    let mut cur = Some(scope);
    std::iter::from_fn(move || {
        let s = cur?;
        if s.is_empty() {
            cur = None;
            return None;
        }
        let parent = s.rfind('.').and_then(|i| s.get(..i)).unwrap_or("");
        cur = Some(parent);
        Some(parent)
    })
}

impl Table {
    /// Every literal action a rule names for resource `kind`, in any version and scope: of
    /// resource and principal policy rows and of role policy rules (sorted, each once).
    pub(crate) fn actions_for(&self, kind: &str) -> Vec<String> {
        let mut out = std::collections::BTreeSet::new();
        for rows in self.scopes.values().flat_map(Map::values) {
            out.extend(rows.rows_for(kind).filter_map(|r| r.action.literal()).map(str::to_string));
            let rules = rows.role_policies.iter().flat_map(|p| &p.rules).filter(|r| r.resource.matches(kind));
            out.extend(rules.flat_map(|r| &r.allow_actions).filter_map(Glob::literal).map(str::to_string));
        }
        out.into_iter().collect()
    }
}

impl Table {
    /// The scopes to search, most specific first, and the key of the first policy.
    pub(crate) fn all_scopes<'q>(&self, kind: PassKind, scope: &'q str, lenient: bool) -> Names<'q> {
        let set = match kind {
            PassKind::Principal => &self.principal_scopes,
            PassKind::Resource => &self.resource_scopes,
        };
        let mut out = Names::new();
        if set.contains(scope) {
            out.push(scope);
        } else if !lenient {
            return out;
        }
        out.extend(scope_parents(scope).filter(|s| set.contains(*s)));
        out
    }

    /// The rows of `version` in `scope`.
    pub(crate) fn scope(&self, version: &str, scope: &str) -> Option<&ScopeRows> {
        self.scopes.get(version)?.get(scope)
    }

    /// Roles plus all their ancestors through role policies of `scope`.
    pub(crate) fn with_parent_roles<'x>(&'x self, scope: &str, roles: &'x [String]) -> Names<'x> {
        let mut out: Names<'x> = roles.iter().map(String::as_str).collect();
        let Some(map) = self.parent_roles.get(scope) else { return out };
        let mut i = 0;
        while let Some(r) = out.get(i).copied() {
            if let Some(parents) = map.get(r) {
                for p in parents {
                    if !out.contains(&p.as_str()) {
                        out.push(p.as_str());
                    }
                }
            }
            i += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::scope_parents;

    #[test]
    fn parents() {
        assert_eq!(scope_parents("a.b.c").collect::<Vec<_>>(), vec!["a.b", "a", ""]);
        assert_eq!(scope_parents("").count(), 0);
    }
}
