//! Cerbos CheckResources JSON: decoding requests (with JSON paths in errors and
//! size limits) and encoding responses. Every host reuses this one mapping.

use crate::error::RequestError;
use crate::model::{AuxData, CheckInput, CheckOptions, CheckOutput, Principal, Resource};
use crate::{DecideError, Decider, Decision, Failure};
use serde::{Deserialize, Serialize};

/// Request limits (Cerbos's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Resources per request.
    pub max_resources: usize,
    /// Actions per resource.
    pub max_actions: usize,
    /// Request body bytes.
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_resources: 50, max_actions: 50, max_bytes: 4 * 1024 * 1024 }
    }
}

/// One resource and the actions asked about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceEntry {
    /// Actions.
    pub actions: Vec<String>,
    /// The resource.
    pub resource: Resource,
}

/// A Cerbos CheckResources request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckResourcesRequest {
    /// Echoed in the response.
    #[serde(default)]
    pub request_id: String,
    /// Who.
    pub principal: Principal,
    /// What.
    pub resources: Vec<ResourceEntry>,
    /// Cerbos's `auxData`: `{"jwt": {"token", "keySetId"}}` or `{"jwts": {name: {...}}}`,
    /// held as the tokens the engine verifies.
    #[serde(default, with = "wire_aux")]
    pub aux_data: Option<AuxData>,
    /// Include matched policy and scope per action.
    #[serde(default)]
    pub include_meta: bool,
    /// authz extension: evaluation options carried in the request (hosts with no clock,
    /// such as the component, need `now` from the caller).
    #[serde(default)]
    pub authz_options: Option<WireOptions>,
}

/// Evaluation options in a request (`authzOptions`); absent fields keep the host's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WireOptions {
    /// RFC 3339 time for `now()`.
    #[serde(default)]
    pub now: Option<String>,
    /// Globals.
    #[serde(default, deserialize_with = "crate::json::strict_object_opt")]
    pub globals: Option<crate::model::Attributes>,
    /// Version used when a request names none.
    #[serde(default)]
    pub default_policy_version: Option<String>,
    /// Scope used when a request names none.
    #[serde(default)]
    pub default_scope: Option<String>,
    /// Lenient scope search.
    #[serde(default)]
    pub lenient_scopes: Option<bool>,
    /// Schema enforcement.
    #[serde(default)]
    pub schema_enforcement: Option<crate::model::SchemaEnforcement>,
    /// A condition that fails to evaluate denies (test suites' `strictEvaluation`).
    #[serde(default)]
    pub strict_evaluation: Option<bool>,
}

impl WireOptions {
    /// Every option of `opts`, given.
    pub fn of(opts: &CheckOptions) -> WireOptions {
        WireOptions {
            now: opts.now.as_ref().map(crate::wit::time_text),
            globals: Some(opts.globals.clone()),
            default_policy_version: Some(opts.default_policy_version.clone()),
            default_scope: Some(opts.default_scope.clone()),
            lenient_scopes: Some(opts.lenient_scopes),
            schema_enforcement: Some(opts.schema_enforcement),
            strict_evaluation: Some(opts.strict_evaluation),
        }
    }

    /// Applies the options present over `opts`.
    pub fn apply(&self, opts: &mut CheckOptions) -> Result<(), RequestError> {
        if let Some(now) = &self.now {
            opts.now = Some(
                crate::model::parse_time(now)
                    .ok_or_else(|| invalid("$.authzOptions.now", format!("`{now}` is not an RFC 3339 time")))?,
            );
        }
        if let Some(g) = &self.globals {
            opts.globals = g.clone();
        }
        if let Some(v) = &self.default_policy_version {
            opts.default_policy_version = v.clone();
        }
        if let Some(s) = &self.default_scope {
            opts.default_scope = s.clone();
        }
        if let Some(l) = self.lenient_scopes {
            opts.lenient_scopes = l;
        }
        if let Some(e) = self.schema_enforcement {
            opts.schema_enforcement = e;
        }
        if let Some(s) = self.strict_evaluation {
            opts.strict_evaluation = s;
        }
        Ok(())
    }
}

/// Decodes a request and applies its `authzOptions` over `base`.
pub fn decode_request_with_options(
    text: &str,
    limits: &Limits,
    base: &CheckOptions,
) -> Result<(CheckResourcesRequest, CheckOptions), RequestError> {
    let req = decode_request(text, limits)?;
    let mut opts = base.clone();
    if let Some(o) = &req.authz_options {
        o.apply(&mut opts)?;
    }
    Ok((req, opts))
}

/// `$`-rooted JSON path from serde_path_to_error's (`.` is the root; a syntax error's unknown
/// position is `?`, dropped so the path names the innermost known field).
fn json_path(path: &str) -> String {
    let mut path = path;
    while let Some(p) = path.strip_suffix(".?").or_else(|| path.strip_suffix('?')) {
        path = p;
    }
    if path.is_empty() || path == "." {
        "$".to_string()
    } else {
        format!("$.{path}")
    }
}

pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> RequestError {
    RequestError::Invalid { path: path.into(), message: message.into() }
}

/// The index of the first item equal to an earlier one (Cerbos refuses repeated roles and
/// actions). Lists are short (the action limit bounds them): a quadratic scan allocates nothing.
fn first_repeat(items: &[String]) -> Option<usize> {
    (1..items.len()).find(|&j| items.get(..j).zip(items.get(j)).is_some_and(|(before, x)| before.contains(x)))
}

/// Decodes and validates a request; the error names the offending JSON path.
pub fn decode_request(text: &str, limits: &Limits) -> Result<CheckResourcesRequest, RequestError> {
    let req: CheckResourcesRequest = decode_json(text, limits)?;
    req.validate(limits)?;
    Ok(req)
}

/// Decodes a request body of type `T` within the byte limit; the error names the offending
/// JSON path.
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(text: &str, limits: &Limits) -> Result<T, RequestError> {
    if text.len() > limits.max_bytes {
        return Err(RequestError::Limit {
            path: "$".into(),
            message: format!("body is {} bytes, the limit is {}", text.len(), limits.max_bytes),
        });
    }
    // Strict as `json::value` is, in the one pass: serde refuses a field given twice, the
    // object fields refuse a key given twice (`json::strict_object`), and nothing may follow.
    let de = &mut serde_json::Deserializer::from_str(text);
    let req: T = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        // A field given twice is reported at its struct's path, with the field named.
        let path = json_path(&e.path().to_string());
        let msg = e.inner().to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        invalid(path, msg)
    })?;
    de.end().map_err(|e| {
        let msg = e.to_string();
        invalid("$", msg.split(" at line ").next().unwrap_or(&msg).to_string())
    })?;
    Ok(req)
}

/// What Cerbos requires of a request's principal: an ID and distinct roles.
pub(crate) fn validate_principal(principal: &Principal) -> Result<(), RequestError> {
    if principal.id.is_empty() {
        return Err(invalid("$.principal.id", "must not be empty"));
    }
    if principal.roles.is_empty() {
        return Err(invalid("$.principal.roles", "must contain at least one role"));
    }
    if let Some(j) = first_repeat(&principal.roles) {
        return Err(invalid(format!("$.principal.roles[{j}]"), "repeated value must contain unique items"));
    }
    Ok(())
}

/// What Cerbos requires of the actions at `path`: one or more, none empty, none repeated,
/// within the limit.
pub(crate) fn validate_actions(actions: &[String], path: &str, limits: &Limits) -> Result<(), RequestError> {
    if actions.is_empty() {
        return Err(invalid(path, "must contain at least one action"));
    }
    if actions.len() > limits.max_actions {
        return Err(RequestError::Limit {
            path: path.to_string(),
            message: format!("{} actions, the limit is {}", actions.len(), limits.max_actions),
        });
    }
    if let Some(j) = actions.iter().position(String::is_empty) {
        return Err(invalid(format!("{path}[{j}]"), "must not be empty"));
    }
    if let Some(j) = first_repeat(actions) {
        return Err(invalid(format!("{path}[{j}]"), "repeated value must contain unique items"));
    }
    Ok(())
}

impl CheckResourcesRequest {
    /// Checks what Cerbos requires of a decoded request (a principal with an ID and roles,
    /// at least one resource, each with a kind and actions) and the structural limits; the
    /// error names the offending JSON path. Hosts that build a request from typed records
    /// (the component) call this instead of going through JSON.
    pub fn validate(&self, limits: &Limits) -> Result<(), RequestError> {
        validate_principal(&self.principal)?;
        if self.resources.is_empty() {
            return Err(invalid("$.resources", "must contain at least one resource"));
        }
        if self.resources.len() > limits.max_resources {
            return Err(RequestError::Limit {
                path: "$.resources".into(),
                message: format!("{} resources, the limit is {}", self.resources.len(), limits.max_resources),
            });
        }
        for (i, r) in self.resources.iter().enumerate() {
            if r.resource.kind.is_empty() {
                return Err(invalid(format!("$.resources[{i}].resource.kind"), "must not be empty"));
            }
            validate_actions(&r.actions, &format!("$.resources[{i}].actions"), limits)?;
        }
        Ok(())
    }

    /// One engine input per resource, taking the request apart instead of cloning it.
    pub fn into_inputs(self) -> Vec<CheckInput> {
        let CheckResourcesRequest { request_id, principal, resources, aux_data, .. } = self;
        let mut shared = Some((request_id, principal, aux_data));
        let last = resources.len().saturating_sub(1);
        resources
            .into_iter()
            .enumerate()
            .filter_map(|(i, r)| {
                // The last input takes the shared parts; the others copy them.
                let (request_id, principal, aux_data) = if i == last { shared.take()? } else { shared.clone()? };
                Some(CheckInput { request_id, principal, resource: r.resource, actions: r.actions, aux_data })
            })
            .collect()
    }

    /// The request (with `includeMeta`, no options) that asks exactly what `input` asks.
    pub fn for_input(input: &CheckInput) -> Self {
        CheckResourcesRequest {
            request_id: input.request_id.clone(),
            principal: input.principal.clone(),
            resources: vec![ResourceEntry { actions: input.actions.clone(), resource: input.resource.clone() }],
            aux_data: input.aux_data.clone(),
            include_meta: true,
            authz_options: None,
        }
    }

    /// One engine input per resource.
    pub fn inputs(&self) -> Vec<CheckInput> {
        self.resources
            .iter()
            .map(|r| CheckInput {
                request_id: self.request_id.clone(),
                principal: self.principal.clone(),
                resource: r.resource.clone(),
                actions: r.actions.clone(),
                aux_data: self.aux_data.clone(),
            })
            .collect()
    }
}

/// Encodes the Cerbos CheckResources response, adding the bundle digest (and label).
pub fn encode_response(
    req: &CheckResourcesRequest,
    outputs: &[CheckOutput],
    digest: &str,
    label: Option<&str>,
) -> serde_json::Value {
    let results: Vec<serde_json::Value> = req
        .resources
        .iter()
        .zip(outputs)
        .map(|(entry, out)| {
            let r = &entry.resource;
            let mut actions = serde_json::Map::new();
            let mut meta_actions = serde_json::Map::new();
            for a in &entry.actions {
                if let Some(e) = out.actions.get(a) {
                    actions.insert(a.clone(), e.effect.as_str().into());
                    let mut m = serde_json::Map::new();
                    m.insert("matchedPolicy".into(), (*e.policy).into());
                    if !e.scope.is_empty() {
                        m.insert("matchedScope".into(), e.scope.clone().into());
                    }
                    meta_actions.insert(a.clone(), m.into());
                }
            }
            let mut res = serde_json::Map::new();
            res.insert(
                "resource".into(),
                serde_json::json!({ "id": r.id, "kind": r.kind, "policyVersion": r.policy_version, "scope": r.scope }),
            );
            res.insert("actions".into(), actions.into());
            if !out.validation_errors.is_empty() {
                res.insert("validationErrors".into(), serde_json::to_value(&out.validation_errors).unwrap_or_default());
            }
            if req.include_meta {
                let meta = serde_json::json!({ "actions": meta_actions, "effectiveDerivedRoles": out.effective_derived_roles });
                res.insert("meta".into(), meta);
            }
            if !out.outputs.is_empty() {
                let outs = out
                    .outputs
                    .iter()
                    .map(|o| match &o.error {
                        // As Cerbos answers: the value, or why the expression failed.
                        None => serde_json::json!({ "src": o.src, "val": o.val, "action": o.action }),
                        Some(e) => serde_json::json!({ "src": o.src, "action": o.action, "error": e }),
                    })
                    .collect();
                res.insert("outputs".into(), outs);
            }
            serde_json::Value::Object(res)
        })
        .collect();
    let mut resp = serde_json::Map::new();
    resp.insert("requestId".into(), req.request_id.clone().into());
    resp.insert("results".into(), results.into());
    resp.insert("bundleDigest".into(), digest.into());
    if let Some(l) = label {
        resp.insert("bundleLabel".into(), l.into());
    }
    serde_json::Value::Object(resp)
}

/// Decides a Cerbos CheckResources JSON request (options in `authzOptions`, over `base`):
/// the one JSON path that the CLI, the component and every host share.
pub fn check_json(
    decider: &dyn Decider,
    text: &str,
    limits: &Limits,
    base: &CheckOptions,
) -> Result<serde_json::Value, DecideError> {
    let (req, opts) = decode_request_with_options(text, limits, base)?;
    let d = decide(decider, &req, &opts)?;
    Ok(encode_response(&req, &d.outputs, &d.bundle_digest, d.bundle_label.as_deref()))
}

/// `decider`'s decision on `req`, refused when it has another number of results than `req` has
/// resources: an answer must never silently leave a resource out.
pub fn decide(
    decider: &dyn Decider,
    req: &CheckResourcesRequest,
    opts: &CheckOptions,
) -> Result<Decision, DecideError> {
    let d = decider.decide(req, opts)?;
    if d.outputs.len() != req.resources.len() {
        let message = format!("the decider answered {} results for {} resources", d.outputs.len(), req.resources.len());
        return Err(DecideError::runtime(Failure::Internal, message));
    }
    Ok(d)
}

/// The CheckResources request (with `includeMeta` and every option in `authzOptions`) that asks
/// exactly what `req` asks under `opts`: how a caller holding the model talks to a runtime's JSON.
pub fn encode_request(opts: &CheckOptions, req: &CheckResourcesRequest) -> serde_json::Value {
    let req = CheckResourcesRequest { include_meta: true, authz_options: Some(WireOptions::of(opts)), ..req.clone() };
    serde_json::to_value(req).unwrap_or_default()
}

/// `auxData` as Cerbos's API writes it: signed tokens, in the model's [`AuxData::tokens`].
pub(crate) mod wire_aux {
    use crate::model::{Attributes, AuxData, Token};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    #[derive(Serialize, Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Wire {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        jwt: Option<Token>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        jwts: BTreeMap<String, Token>,
        /// authz's own: what an AuthZEN request carried beyond Cerbos's model.
        #[serde(
            default,
            skip_serializing_if = "Attributes::is_empty",
            deserialize_with = "crate::json::strict_object"
        )]
        authzen: Attributes,
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<AuxData>, D::Error> {
        let Some(w) = Option::<Wire>::deserialize(d)? else { return Ok(None) };
        // As Cerbos: a `jwt` token is the only one read; an empty token is no token.
        let tokens: BTreeMap<String, Token> = match w.jwt {
            Some(t) => [(String::new(), t)].into_iter().collect(),
            None => w.jwts,
        };
        let tokens = tokens.into_iter().filter(|(_, t)| !t.token.is_empty()).collect();
        Ok(Some(AuxData { tokens, authzen: w.authzen, ..AuxData::default() }))
    }

    pub(crate) fn serialize<S: Serializer>(aux: &Option<AuxData>, s: S) -> Result<S::Ok, S::Error> {
        let Some(aux) = aux else { return s.serialize_none() };
        let mut w = Wire { authzen: aux.authzen.clone(), ..Wire::default() };
        for (name, t) in &aux.tokens {
            if name.is_empty() {
                w.jwt = Some(t.clone());
            } else {
                w.jwts.insert(name.clone(), t.clone());
            }
        }
        w.serialize(s)
    }
}
