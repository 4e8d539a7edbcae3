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
use crate::model::{Attributes, AuxData, CheckOutput, Principal, Resource};
use serde_json::{Map, Value};

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
    /// The evaluations, defaults applied, in request order.
    pub items: Vec<Evaluation>,
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

/// Decodes an Access Evaluation request (`POST /access/v1/evaluation`).
pub fn decode_evaluation(text: &str, limits: &Limits) -> Result<Evaluation, RequestError> {
    let body = parse(text, limits)?;
    known_keys(&body, "$", &["subject", "resource", "action", "context"])?;
    evaluation(&body, &Map::new(), "$", "$")
}

/// Decodes an Access Evaluations request (`POST /access/v1/evaluations`): top-level `subject`,
/// `resource`, `action` and `context` are defaults each evaluation may replace.
pub fn decode_evaluations(text: &str, limits: &Limits) -> Result<Evaluations, RequestError> {
    let body = parse(text, limits)?;
    known_keys(&body, "$", &["subject", "resource", "action", "context", "evaluations", "options"])?;
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
        return Ok(Evaluations { items: vec![evaluation(&body, &Map::new(), "$", "$")?], semantic, single: true });
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
            known_keys(e, &path, &["subject", "resource", "action", "context"])?;
            evaluation(e, &body, &path, "$")
        })
        .collect::<Result<_, _>>()?;
    Ok(Evaluations { items, semantic, single: false })
}

fn known_keys(obj: &Map<String, Value>, path: &str, keys: &[&str]) -> Result<(), RequestError> {
    match obj.keys().find(|k| !keys.contains(&k.as_str())) {
        Some(k) => Err(invalid(format!("{path}.{k}"), format!("unknown field, expected one of {keys:?}"))),
        None => Ok(()),
    }
}

/// The field `key` of `own`, or else of `defaults`, with the JSON path it came from.
fn pick<'v>(
    own: &'v Map<String, Value>,
    defaults: &'v Map<String, Value>,
    key: &str,
    own_path: &str,
    default_path: &str,
) -> Option<(&'v Value, String)> {
    match own.get(key) {
        Some(v) if !v.is_null() => Some((v, format!("{own_path}.{key}"))),
        _ => defaults.get(key).filter(|v| !v.is_null()).map(|v| (v, format!("{default_path}.{key}"))),
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
    let principal = entity(subject, &sp)?.principal(&sp)?;
    let resource = entity(resource, &rp)?.resource();
    let Value::Object(action) = action else { return Err(invalid(ap, "must be an object")) };
    known_keys(action, &ap, &["name", "properties"])?;
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
        let Value::Object(context) = context else { return Err(invalid(cp, "must be an object")) };
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
    known_keys(m, path, &["type", "id", "properties"])?;
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

/// The AuthZEN decision for an evaluation, from the engine's output for its one resource.
pub fn encode_decision(eval: &Evaluation, output: &CheckOutput, digest: &str, label: Option<&str>) -> Value {
    let action = eval.request.resources.first().and_then(|r| r.actions.first());
    let decision = action.and_then(|a| output.actions.get(a)).is_some_and(|e| e.effect == crate::Effect::Allow);
    let mut context = Map::new();
    context.insert("authz.bundleDigest".into(), digest.into());
    if let Some(l) = label {
        context.insert("authz.bundleLabel".into(), l.into());
    }
    if eval.include_meta {
        let response = cerbos::encode_response(&eval.request, std::slice::from_ref(output), digest, label);
        context.insert("cerbos.response".into(), response);
    }
    serde_json::json!({ "decision": decision, "context": context })
}

/// The body of `GET /.well-known/authzen-configuration` for a PDP at `base_url`.
pub fn configuration(base_url: &str) -> Value {
    let base = base_url.trim_end_matches('/');
    serde_json::json!({
        "policy_decision_point": base,
        "access_evaluation_endpoint": format!("{base}/access/v1/evaluation"),
        "access_evaluations_endpoint": format!("{base}/access/v1/evaluations"),
    })
}

#[cfg(test)]
#[path = "authzen_tests.rs"]
mod tests;
