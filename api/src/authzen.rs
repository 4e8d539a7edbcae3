//! OpenID AuthZEN Authorization API 1.0 ↔ Cerbos CheckResources: the one mapping every host
//! reuses, compatible with Cerbos's own AuthZEN endpoint so its clients keep working.
//!
//! | AuthZEN                                   | Cerbos CheckResources                          |
//! |-------------------------------------------|------------------------------------------------|
//! | `subject.id`                              | `principal.id`                                 |
//! | `subject.properties["cerbos.roles"]`      | `principal.roles` (absent: `[subject.type]`)   |
//! | `subject.properties["cerbos.policyVersion"]`, `["cerbos.scope"]` | `principal.policyVersion`, `.scope` |
//! | other `subject.properties`                | `principal.attr`                               |
//! | `resource.type`, `resource.id`            | `resource.kind`, `resource.id`                 |
//! | `resource.properties["cerbos.policyVersion"]`, `["cerbos.scope"]` | `resource.policyVersion`, `.scope` |
//! | other `resource.properties`               | `resource.attr`                                |
//! | `action.name`                             | the one action asked                           |
//! | `action.properties`                       | `request.auxData.authzen.action` in conditions |
//! | `context["cerbos.requestId"]`             | `requestId`                                    |
//! | `context["cerbos.auxData"]`               | `auxData` (`{"jwt": {claims}}`)                |
//! | `context["cerbos.includeMeta"]`           | the Cerbos response in `context["cerbos.response"]` |
//! | other `context` keys                      | `request.auxData.authzen.context` in conditions |
//!
//! Every decision's response context carries `authz.bundleDigest` (and `authz.bundleLabel`).

use crate::cerbos::{self, CheckResourcesRequest, Limits, ResourceEntry};
use crate::error::RequestError;
use crate::model::{Attributes, AuxData, Principal, Resource};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// How a batch of evaluations is executed (`options.evaluations_semantic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Semantic {
    /// Every evaluation runs (the default).
    ExecuteAll,
    /// Evaluations stop after the first deny.
    DenyOnFirstDeny,
    /// Evaluations stop after the first permit.
    PermitOnFirstPermit,
}

impl Semantic {
    /// Whether no more evaluations run after one that decided `decision`.
    pub fn stops_after(self, decision: bool) -> bool {
        match self {
            Semantic::ExecuteAll => false,
            Semantic::DenyOnFirstDeny => !decision,
            Semantic::PermitOnFirstPermit => decision,
        }
    }
}

/// One AuthZEN evaluation as a one-resource, one-action CheckResources request.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The equivalent Cerbos request.
    pub request: CheckResourcesRequest,
    /// `context["cerbos.includeMeta"]`: answer the Cerbos response in the decision's context.
    pub include_meta: bool,
}

/// An Access Evaluations (batch) request.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluations {
    /// The evaluations, defaults applied, in request order: each one decodable or not. An item
    /// that is not is decided `false` with its error in its own context; the others are decided
    /// (the spec's evaluation-level errors).
    pub items: Vec<Result<Evaluation, RequestError>>,
    /// How to execute them.
    pub semantic: Semantic,
    /// No `evaluations` array: the request is a single evaluation and is answered as one.
    pub single: bool,
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> RequestError {
    RequestError::Invalid { path: path.into(), message: message.into() }
}

fn parse(text: &str, limits: &Limits) -> Result<Map<String, Value>, RequestError> {
    if text.len() > limits.max_bytes {
        return Err(RequestError::Limit {
            path: "$".into(),
            message: format!("body is {} bytes, the limit is {}", text.len(), limits.max_bytes),
        });
    }
    match crate::json::value(text)? {
        Value::Object(m) => Ok(m),
        _ => Err(invalid("$", "must be a JSON object")),
    }
}

/// Decodes an Access Evaluation request (`POST /access/v1/evaluation`). Members the spec does
/// not define are ignored, at every level (its objects are extensible).
pub fn decode_evaluation(text: &str, limits: &Limits) -> Result<Evaluation, RequestError> {
    let body = parse(text, limits)?;
    evaluation(&body, &Map::new(), "$", "$")
}

/// An Action Search request (`POST /access/v1/search/action`): which actions may this subject
/// perform on this resource, in this context.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionSearch {
    /// The evaluation each candidate action is decided as, but for its action.
    evaluation: Evaluation,
}

impl ActionSearch {
    /// The resource kind searched.
    pub fn kind(&self) -> &str {
        self.evaluation.request.resources.first().map_or("", |e| e.resource.kind.as_str())
    }

    /// The evaluation of `action` for this subject, resource and context.
    pub fn evaluation(&self, action: &str) -> Evaluation {
        let mut e = self.evaluation.clone();
        for entry in &mut e.request.resources {
            entry.actions = vec![action.to_string()];
        }
        e
    }
}

/// Decodes an Action Search request: `subject`, `resource` and `context` as an evaluation has
/// them (an `action` member, which the search has none of, is ignored like any other). Its
/// `page` is not read: the answer is every result at once.
pub fn decode_action_search(text: &str, limits: &Limits) -> Result<ActionSearch, RequestError> {
    let mut body = parse(text, limits)?;
    // Each candidate replaces this name ([`ActionSearch::evaluation`]).
    body.insert("action".into(), serde_json::json!({ "name": "-" }));
    Ok(ActionSearch { evaluation: evaluation(&body, &Map::new(), "$", "$")? })
}

/// Decodes an Access Evaluations request (`POST /access/v1/evaluations`): top-level `subject`,
/// `resource`, `action` and `context` are defaults each evaluation may replace (as a whole: an
/// evaluation's own `properties` are never merged with the default's; only a required
/// identifier it leaves out, `type`, `id` or `name`, is the default's, as the certification
/// scenario reads the spec). What is wrong with the payload as a whole (not JSON, a default or
/// `options` of the wrong type, too many evaluations) is an error; what is wrong with one
/// evaluation is that evaluation's.
pub fn decode_evaluations(text: &str, limits: &Limits) -> Result<Evaluations, RequestError> {
    let body = parse(text, limits)?;
    for key in ["subject", "resource", "action", "context"] {
        if body.get(key).is_some_and(|v| !v.is_null() && !v.is_object()) {
            return Err(invalid(format!("$.{key}"), "must be an object"));
        }
    }
    let semantic = match body.get("options") {
        None | Some(Value::Null) => Semantic::ExecuteAll,
        Some(Value::Object(o)) => match o.get("evaluations_semantic") {
            None | Some(Value::Null) => Semantic::ExecuteAll,
            Some(Value::String(s)) => match s.as_str() {
                "execute_all" => Semantic::ExecuteAll,
                "deny_on_first_deny" => Semantic::DenyOnFirstDeny,
                "permit_on_first_permit" => Semantic::PermitOnFirstPermit,
                other => {
                    return Err(invalid(
                        "$.options.evaluations_semantic",
                        format!(
                            "`{other}` is not one of `execute_all`, `deny_on_first_deny`, `permit_on_first_permit`"
                        ),
                    ))
                }
            },
            Some(_) => return Err(invalid("$.options.evaluations_semantic", "must be a string")),
        },
        Some(_) => return Err(invalid("$.options", "must be an object")),
    };
    let list = match body.get("evaluations") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) if a.is_empty() => None,
        Some(Value::Array(a)) => Some(a),
        Some(_) => return Err(invalid("$.evaluations", "must be an array")),
    };
    let Some(list) = list else {
        return Ok(Evaluations { items: vec![evaluation(&body, &Map::new(), "$", "$")], semantic, single: true });
    };
    // Each evaluation is one decision: the resources-per-request limit bounds a batch.
    if list.len() > limits.max_resources {
        return Err(RequestError::Limit {
            path: "$.evaluations".into(),
            message: format!("{} evaluations, the limit is {}", list.len(), limits.max_resources),
        });
    }
    let items = list
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let path = format!("$.evaluations[{i}]");
            let Value::Object(e) = e else { return Err(invalid(path, "must be an object")) };
            evaluation(e, &body, &path, "$")
        })
        .collect();
    Ok(Evaluations { items, semantic, single: false })
}

/// The identifiers an entity must have: what an evaluation's own entity takes from the
/// default's when it leaves them out.
fn required_keys(key: &str) -> &'static [&'static str] {
    match key {
        "subject" | "resource" => &["type", "id"],
        "action" => &["name"],
        _ => &[],
    }
}

/// The field `key` of `own`, or else of `defaults`, with the JSON path it came from. An own
/// entity replaces the default as a whole, but for the required identifiers it leaves out
/// (then, and only then, it is copied to take them).
fn pick<'v>(
    own: &'v Map<String, Value>,
    defaults: &'v Map<String, Value>,
    key: &str,
    own_path: &str,
    default_path: &str,
) -> Option<(Cow<'v, Value>, String)> {
    let default = defaults.get(key).filter(|v| !v.is_null());
    match own.get(key) {
        Some(v) if !v.is_null() => {
            // The required identifiers `v` leaves out that the default has.
            let missing: Vec<(&String, &Value)> = match (v, default) {
                (Value::Object(o), Some(Value::Object(d))) => required_keys(key)
                    .iter()
                    .filter(|k| !o.contains_key(**k))
                    .filter_map(|k| d.get_key_value(*k))
                    .collect(),
                _ => Vec::new(),
            };
            let v = match v {
                Value::Object(o) if !missing.is_empty() => {
                    let mut o = o.clone();
                    o.extend(missing.into_iter().map(|(k, dv)| (k.clone(), dv.clone())));
                    Cow::Owned(Value::Object(o))
                }
                _ => Cow::Borrowed(v),
            };
            Some((v, format!("{own_path}.{key}")))
        }
        _ => default.map(|v| (Cow::Borrowed(v), format!("{default_path}.{key}"))),
    }
}

fn evaluation(
    own: &Map<String, Value>,
    defaults: &Map<String, Value>,
    own_path: &str,
    default_path: &str,
) -> Result<Evaluation, RequestError> {
    let required = |key: &str| {
        pick(own, defaults, key, own_path, default_path)
            .ok_or_else(|| invalid(format!("{own_path}.{key}"), "is required"))
    };
    let (subject, sp) = required("subject")?;
    let (resource, rp) = required("resource")?;
    let (action, ap) = required("action")?;
    let principal = entity(&subject, &sp)?.principal(&sp)?;
    let resource = entity(&resource, &rp)?.resource();
    let Value::Object(action) = action.as_ref() else { return Err(invalid(ap, "must be an object")) };
    let name = match action.get("name") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) => return Err(invalid(format!("{ap}.name"), "must not be empty")),
        Some(_) => return Err(invalid(format!("{ap}.name"), "must be a string")),
        None => return Err(invalid(format!("{ap}.name"), "is required")),
    };
    let action_properties = object(action.get("properties"), &format!("{ap}.properties"))?;

    let mut request_id = String::new();
    let mut include_meta = false;
    let mut aux: Option<AuxData> = None;
    let mut extra_context = Attributes::new();
    if let Some((context, cp)) = pick(own, defaults, "context", own_path, default_path) {
        let Value::Object(context) = context.as_ref() else { return Err(invalid(cp, "must be an object")) };
        for (k, v) in context {
            let path = format!("{cp}[\"{k}\"]");
            match k.as_str() {
                "cerbos.requestId" => request_id = string(v, &path)?,
                "cerbos.includeMeta" => {
                    include_meta = v.as_bool().ok_or_else(|| invalid(path, "must be a boolean"))?;
                }
                "cerbos.auxData" => {
                    aux = Some(AuxData::deserialize_at(v, &path)?);
                }
                _ => {
                    extra_context.insert(k.clone(), v.clone());
                }
            }
        }
    }
    let mut authzen = Attributes::new();
    if !action_properties.is_empty() {
        authzen.insert("action".into(), Value::Object(action_properties));
    }
    if !extra_context.is_empty() {
        authzen.insert("context".into(), Value::Object(extra_context));
    }
    if !authzen.is_empty() {
        aux.get_or_insert_with(AuxData::default).authzen = authzen;
    }
    let request = CheckResourcesRequest {
        request_id,
        principal,
        resources: vec![ResourceEntry { actions: vec![name], resource }],
        aux_data: aux,
        include_meta,
        authz_options: None,
    };
    Ok(Evaluation { request, include_meta })
}

impl AuxData {
    fn deserialize_at(v: &Value, path: &str) -> Result<AuxData, RequestError> {
        serde_path_to_error::deserialize(v.clone()).map_err(|e| {
            let inner = e.path().to_string();
            let path = if inner == "." { path.to_string() } else { format!("{path}.{inner}") };
            invalid(path, e.inner().to_string())
        })
    }
}

fn string(v: &Value, path: &str) -> Result<String, RequestError> {
    v.as_str().map(str::to_string).ok_or_else(|| invalid(path, "must be a string"))
}

fn object(v: Option<&Value>, path: &str) -> Result<Attributes, RequestError> {
    match v {
        None | Some(Value::Null) => Ok(Attributes::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(invalid(path, "must be an object")),
    }
}

/// A subject or a resource, `cerbos.*` properties taken out.
struct Entity {
    kind: String,
    id: String,
    policy_version: String,
    scope: String,
    attr: Attributes,
}

fn entity(v: &Value, path: &str) -> Result<Entity, RequestError> {
    let Value::Object(m) = v else { return Err(invalid(path, "must be an object")) };
    let field = |key: &str| -> Result<String, RequestError> {
        match m.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(Value::String(_)) => Err(invalid(format!("{path}.{key}"), "must not be empty")),
            Some(_) => Err(invalid(format!("{path}.{key}"), "must be a string")),
            None => Err(invalid(format!("{path}.{key}"), "is required")),
        }
    };
    let kind = field("type")?;
    let id = field("id")?;
    let mut attr = object(m.get("properties"), &format!("{path}.properties"))?;
    let mut take = |k: &str| {
        attr.remove(k)
            .map(|v| string(&v, &format!("{path}.properties[\"{k}\"]")))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    let policy_version = take("cerbos.policyVersion")?;
    let scope = take("cerbos.scope")?;
    Ok(Entity { kind, id, policy_version, scope, attr })
}

impl Entity {
    /// The subject as a principal: roles from `cerbos.roles`, else its type.
    fn principal(mut self, path: &str) -> Result<Principal, RequestError> {
        let at = format!("{path}.properties[\"cerbos.roles\"]");
        let roles = match self.attr.remove("cerbos.roles") {
            None => vec![self.kind],
            Some(Value::Array(a)) if !a.is_empty() => a
                .iter()
                .enumerate()
                .map(|(i, r)| match r {
                    Value::String(s) if !s.is_empty() => Ok(s.clone()),
                    _ => Err(invalid(format!("{at}[{i}]"), "must be a non-empty string")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid(at, "must be a non-empty array of role names")),
        };
        Ok(Principal { id: self.id, policy_version: self.policy_version, roles, attr: self.attr, scope: self.scope })
    }

    fn resource(self) -> Resource {
        Resource {
            kind: self.kind,
            id: self.id,
            policy_version: self.policy_version,
            attr: self.attr,
            scope: self.scope,
        }
    }
}

/// A decision object: `decision`, and a context with the deciding bundle's digest (and label)
/// and, when asked for, the Cerbos response it came from.
fn decision(allowed: bool, digest: &str, label: Option<&str>, response: Option<&Value>) -> Value {
    let mut context = Map::new();
    context.insert("authz.bundleDigest".into(), digest.into());
    if let Some(l) = label {
        context.insert("authz.bundleLabel".into(), l.into());
    }
    if let Some(r) = response {
        context.insert("cerbos.response".into(), r.clone());
    }
    serde_json::json!({ "decision": allowed, "context": context })
}

/// The decision for an evaluation that cannot be decided: `false`, its error in its context
/// (the spec's evaluation-level error: `{"status", "message"}`, and the JSON path).
pub fn error_decision(error: &RequestError) -> Value {
    let status = match error {
        RequestError::Invalid { .. } => 400,
        RequestError::Limit { .. } => 413,
    };
    serde_json::json!({
        "decision": false,
        "context": { "error": { "status": status, "message": error.to_string(), "path": error.path() } }
    })
}

fn set(answers: &mut [Result<Value, RequestError>], i: usize, answer: Result<Value, RequestError>) {
    if let Some(slot) = answers.get_mut(i) {
        *slot = answer;
    }
}

/// Whether `action` on `resource` can go in entry `e`: the same resource, and the action there
/// already or room for one more.
fn fits(e: &ResourceEntry, resource: &Resource, action: &str, caps: &Limits) -> bool {
    e.resource == *resource && (e.actions.iter().any(|a| a == action) || e.actions.len() < caps.max_actions)
}

/// One CheckResources request standing for several evaluations.
struct Group {
    request: CheckResourcesRequest,
    /// (evaluation index, resource entry, action) of each evaluation it decides.
    members: Vec<(usize, usize, String)>,
}

impl Group {
    /// Whether an evaluation asking `r` (for `action` on `resource`) belongs here: the same
    /// subject, aux data (with the AuthZEN action properties and context), request id and
    /// `includeMeta`, and room for it within `caps`.
    fn takes(&self, r: &CheckResourcesRequest, resource: &Resource, action: &str, caps: &Limits) -> bool {
        let g = &self.request;
        g.principal == r.principal
            && g.aux_data == r.aux_data
            && g.request_id == r.request_id
            && g.include_meta == r.include_meta
            && (g.resources.len() < caps.max_resources || g.resources.iter().any(|e| fits(e, resource, action, caps)))
    }

    /// Adds evaluation `index` (resource `resource`, action `action`): to the entry of the same
    /// resource while it has room for one more action, else to a new entry.
    fn add(&mut self, index: usize, resource: &Resource, action: &str, limits: &Limits) {
        let entries = &mut self.request.resources;
        let at = entries.iter().position(|e| fits(e, resource, action, limits));
        let at = at.unwrap_or_else(|| {
            entries.push(ResourceEntry { actions: Vec::new(), resource: resource.clone() });
            entries.len() - 1
        });
        if let Some(entry) = entries.get_mut(at) {
            if !entry.actions.iter().any(|a| a == action) {
                entry.actions.push(action.to_string());
            }
        }
        self.members.push((index, at, action.to_string()));
    }
}

/// Decides evaluations, in order: each one's decision object, or the error that kept it from
/// being decided (it could not be decoded, or the decider refused its request as invalid: a
/// batch answers it with [`error_decision`], a single evaluation with an error status). The others are grouped as Cerbos's AuthZEN
/// endpoint groups them: those that share a subject, aux data, request id and `includeMeta`
/// are one CheckResources request (an entry per distinct resource, its actions together,
/// within `limits`), decided in one call, and with `cerbos.includeMeta` each one's
/// `context["cerbos.response"]` is that request's response. Grouping changes no decision: a
/// CheckResources request decides each (resource, action) on its own. A decider that fails is
/// the caller's error (the request is answered with an error status, nothing allowed).
pub fn decide_all(
    decider: &dyn crate::Decider,
    options: &crate::CheckOptions,
    items: &[Result<Evaluation, RequestError>],
    limits: &Limits,
) -> Result<Vec<Result<Value, RequestError>>, crate::DecideError> {
    // A group is one request, within the host's limits and the ones every decider holds a
    // request to (the component's are the defaults): never refused for its size.
    let defaults = Limits::default();
    let caps = Limits {
        max_resources: limits.max_resources.min(defaults.max_resources).max(1),
        max_actions: limits.max_actions.min(defaults.max_actions).max(1),
        max_bytes: limits.max_bytes,
    };
    // Fail closed: every slot is a denial until its decision is in.
    let mut answers = vec![Ok(serde_json::json!({ "decision": false })); items.len()];
    let mut groups: Vec<Group> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let asked = item.as_ref().map_err(Clone::clone).and_then(|e| {
            let r = &e.request;
            r.resources
                .first()
                .and_then(|entry| entry.actions.first().map(|a| (r, entry, a)))
                .ok_or_else(|| invalid("$", "an evaluation without a resource or an action"))
        });
        let (r, entry, action) = match asked {
            Ok(a) => a,
            Err(e) => {
                set(&mut answers, i, Err(e));
                continue;
            }
        };
        let at = groups.iter().position(|g| g.takes(r, &entry.resource, action, &caps)).unwrap_or_else(|| {
            let request = CheckResourcesRequest { resources: Vec::new(), ..r.clone() };
            groups.push(Group { request, members: Vec::new() });
            groups.len() - 1
        });
        if let Some(g) = groups.get_mut(at) {
            g.add(i, &entry.resource, action, &caps);
        }
    }
    for g in groups {
        match cerbos::decide(decider, &g.request, options) {
            Ok(d) => {
                let label = d.bundle_label.as_deref();
                let response = g
                    .request
                    .include_meta
                    .then(|| cerbos::encode_response(&g.request, &d.outputs, &d.bundle_digest, label));
                for (i, at, action) in &g.members {
                    let allowed = d
                        .outputs
                        .get(*at)
                        .and_then(|o| o.actions.get(action))
                        .is_some_and(|e| e.effect == crate::Effect::Allow);
                    set(&mut answers, *i, Ok(decision(allowed, &d.bundle_digest, label, response.as_ref())));
                }
            }
            Err(crate::DecideError::Request(e)) => {
                for (i, ..) in &g.members {
                    set(&mut answers, *i, Err(e.clone()));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(answers)
}

/// The body of `GET /.well-known/authzen-configuration` for a PDP at `base_url`.
pub fn configuration(base_url: &str) -> Value {
    let base = base_url.trim_end_matches('/');
    serde_json::json!({
        "policy_decision_point": base,
        "access_evaluation_endpoint": format!("{base}/access/v1/evaluation"),
        "access_evaluations_endpoint": format!("{base}/access/v1/evaluations"),
        "search_action_endpoint": format!("{base}/access/v1/search/action"),
    })
}

#[cfg(test)]
#[path = "authzen_tests.rs"]
mod tests;
