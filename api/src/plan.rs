//! Query planning (Cerbos's PlanResources): "which resources of a kind may this principal act
//! on?", answered as a filter over the resource's attributes: the model the engine plans over,
//! the Cerbos request JSON it is decoded from (with JSON paths in errors) and the response JSON.

use crate::cerbos::{Limits, WireOptions};
use crate::error::RequestError;
use crate::model::{Attributes, AuxData, CheckOptions, Principal, ValidationError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The resource of a plan: its kind and whatever of its attributes is already known.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanResource {
    /// Resource kind.
    pub kind: String,
    /// Attributes known when planning; the others stay symbolic in the filter.
    #[serde(default, deserialize_with = "crate::json::strict_object")]
    pub attr: Attributes,
    /// Policy version to use (empty: the default version).
    #[serde(default)]
    pub policy_version: String,
    /// Scope (empty: the default scope).
    #[serde(default)]
    pub scope: String,
}

/// One principal, one resource kind, the actions to plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanInput {
    /// Echoed in the output.
    pub request_id: String,
    /// Actions; the filter is what allows all of them.
    pub actions: Vec<String>,
    /// Who.
    pub principal: Principal,
    /// Which kind of resource.
    pub resource: PlanResource,
    /// Auxiliary data (verified claims).
    pub aux_data: Option<AuxData>,
}

impl PlanInput {
    /// Checks what Cerbos requires of a plan (a principal with an ID and distinct roles, a
    /// resource kind, one or more distinct actions within the limit); the error names the JSON
    /// path. Hosts that build the input from typed records (the component) call this.
    pub fn validate(&self, limits: &Limits) -> Result<(), RequestError> {
        validate_plan(&self.principal, &self.resource, &self.actions, limits)
    }
}

/// What Cerbos requires of a plan's principal, resource kind and actions.
fn validate_plan(
    principal: &Principal,
    resource: &PlanResource,
    actions: &[String],
    limits: &Limits,
) -> Result<(), RequestError> {
    crate::cerbos::validate_principal(principal)?;
    if resource.kind.is_empty() {
        return Err(crate::cerbos::invalid("$.resource.kind", "must not be empty"));
    }
    crate::cerbos::validate_actions(actions, "$.actions", limits)
}

/// What a filter says: every resource, none, or those its condition holds for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilterKind {
    /// Every resource of the kind.
    #[serde(rename = "KIND_ALWAYS_ALLOWED")]
    AlwaysAllowed,
    /// None.
    #[serde(rename = "KIND_ALWAYS_DENIED")]
    AlwaysDenied,
    /// Those the condition holds for.
    #[serde(rename = "KIND_CONDITIONAL")]
    Conditional,
}

/// A node of a filter's condition, as Cerbos writes it: a value, a variable (a resource
/// attribute such as `request.resource.attr.status`, or a lambda's parameter) or an operator
/// applied to operands (`eq`, `and`, `in`, `exists`, `lambda`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Operand {
    /// A known value.
    Value(serde_json::Value),
    /// A name.
    Variable(String),
    /// An operator and its operands.
    Expression(Expression),
}

/// An operator and its operands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expression {
    /// Cerbos's operator name.
    pub operator: String,
    /// Its operands.
    #[serde(default)]
    pub operands: Vec<Operand>,
}

impl Operand {
    /// `operator(operands...)`.
    pub fn op(operator: &str, operands: Vec<Operand>) -> Operand {
        Operand::Expression(Expression { operator: operator.to_string(), operands })
    }

    /// The boolean this operand is, when it is a boolean value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Operand::Value(serde_json::Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    fn debug(&self, out: &mut String) {
        match self {
            Operand::Value(v) => out.push_str(&v.to_string()),
            Operand::Variable(name) => out.push_str(name),
            Operand::Expression(e) => {
                out.push('(');
                out.push_str(&e.operator);
                for o in &e.operands {
                    out.push(' ');
                    o.debug(out);
                }
                out.push(')');
            }
        }
    }
}

/// A plan's filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFilter {
    /// Which resources.
    pub kind: FilterKind,
    /// The condition of a conditional filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Operand>,
}

impl PlanFilter {
    /// A filter from a condition: a boolean condition is an unconditional filter.
    pub fn from_condition(condition: Operand) -> PlanFilter {
        match condition.as_bool() {
            Some(true) => PlanFilter { kind: FilterKind::AlwaysAllowed, condition: None },
            Some(false) => PlanFilter { kind: FilterKind::AlwaysDenied, condition: None },
            None => PlanFilter { kind: FilterKind::Conditional, condition: Some(condition) },
        }
    }

    /// The filter as Cerbos's `filterDebug` writes it: `(true)`, `(false)` or the condition as
    /// an s-expression.
    pub fn debug_string(&self) -> String {
        match (&self.kind, &self.condition) {
            (FilterKind::AlwaysAllowed, _) => "(true)".into(),
            (FilterKind::AlwaysDenied, _) | (FilterKind::Conditional, None) => "(false)".into(),
            (FilterKind::Conditional, Some(c)) => {
                let mut s = String::new();
                c.debug(&mut s);
                s
            }
        }
    }
}

/// The plan for one [`PlanInput`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanOutput {
    /// Echo of the input's request ID.
    pub request_id: String,
    /// The actions planned.
    pub actions: Vec<String>,
    /// The resource kind.
    pub resource_kind: String,
    /// The policy version planned under.
    pub policy_version: String,
    /// The resource scope planned in.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// Which resources the principal may act on.
    pub filter: PlanFilter,
    /// Per action, the scope whose rules decided (empty: the root scope).
    pub matched_scopes: BTreeMap<String, String>,
    /// Schema violations of the principal's and the known resource attributes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation_errors: Vec<ValidationError>,
}

/// A Cerbos PlanResources request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanResourcesRequest {
    /// Echoed in the response.
    #[serde(default)]
    pub request_id: String,
    /// One action (Cerbos's older field; `actions` is the newer).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub action: String,
    /// Actions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    /// Who.
    pub principal: Principal,
    /// Which kind of resource, with what is known of it.
    pub resource: PlanResource,
    /// Cerbos's `auxData` (tokens the engine verifies).
    #[serde(default, with = "crate::cerbos::wire_aux")]
    pub aux_data: Option<AuxData>,
    /// Include `filterDebug` and `matchedScopes`.
    #[serde(default)]
    pub include_meta: bool,
    /// authz extension: evaluation options carried in the request (see
    /// [`crate::cerbos::CheckResourcesRequest::authz_options`]).
    #[serde(default)]
    pub authz_options: Option<WireOptions>,
}

impl PlanResourcesRequest {
    /// Checks what Cerbos requires (a principal with an ID and roles, a resource kind, one or
    /// more distinct actions) and the action limit; the error names the JSON path.
    pub fn validate(&self, limits: &Limits) -> Result<(), RequestError> {
        if !self.action.is_empty() && !self.actions.is_empty() {
            return Err(crate::cerbos::invalid("$.action", "give `action` or `actions`, not both"));
        }
        // The older single `action` is one action: never empty, never repeated.
        let single;
        let actions = if self.action.is_empty() {
            &self.actions[..]
        } else {
            single = [self.action.clone()];
            &single[..]
        };
        validate_plan(&self.principal, &self.resource, actions, limits)
    }

    /// The engine's input.
    pub fn into_input(self) -> PlanInput {
        let actions = if self.action.is_empty() { self.actions } else { vec![self.action] };
        PlanInput {
            request_id: self.request_id,
            actions,
            principal: self.principal,
            resource: self.resource,
            aux_data: self.aux_data,
        }
    }
}

/// Decodes and validates a PlanResources request and applies its `authzOptions` over `base`;
/// the error names the offending JSON path.
pub fn decode_plan_request(
    text: &str,
    limits: &Limits,
    base: &CheckOptions,
) -> Result<(PlanResourcesRequest, CheckOptions), RequestError> {
    let req: PlanResourcesRequest = crate::cerbos::decode_json(text, limits)?;
    req.validate(limits)?;
    let mut opts = base.clone();
    if let Some(o) = &req.authz_options {
        o.apply(&mut opts)?;
    }
    Ok((req, opts))
}

/// Cerbos's PlanResources response JSON for `output`, decided by the bundle `digest` (the
/// response's `bundleDigest`, as CheckResources answers it, beside Cerbos's fields). `meta` (`filterDebug`,
/// `matchedScopes`) is included when the request asked for it.
pub fn encode_plan_response(output: &PlanOutput, include_meta: bool, digest: &str) -> serde_json::Value {
    let mut body = serde_json::json!({
        "requestId": output.request_id,
        "actions": output.actions,
        "resourceKind": output.resource_kind,
        "policyVersion": output.policy_version,
        "filter": output.filter,
        "bundleDigest": digest,
    });
    if let Some(obj) = body.as_object_mut() {
        if !output.scope.is_empty() {
            obj.insert("scope".into(), output.scope.clone().into());
        }
        if include_meta {
            obj.insert(
                "meta".into(),
                serde_json::json!({
                    "filterDebug": output.filter.debug_string(),
                    "matchedScopes": output.matched_scopes,
                }),
            );
        }
        if !output.validation_errors.is_empty() {
            obj.insert("validationErrors".into(), serde_json::json!(output.validation_errors));
        }
    }
    body
}

/// Plans a Cerbos PlanResources JSON request (options in `authzOptions`, over `base`): the one
/// JSON path the component and every host share.
pub fn plan_json(
    decider: &dyn crate::Decider,
    text: &str,
    limits: &Limits,
    base: &CheckOptions,
) -> Result<serde_json::Value, crate::DecideError> {
    let (req, opts) = decode_plan_request(text, limits, base)?;
    let include_meta = req.include_meta;
    let d = decider.plan(&req.into_input(), &opts)?;
    Ok(encode_plan_response(&d.output, include_meta, &d.bundle_digest))
}

/// The PlanResources request (with `includeMeta` and every option in `authzOptions`) that asks
/// exactly what `input` asks under `opts`: how a caller holding the model talks to a runtime's
/// JSON.
pub fn encode_plan_request(opts: &CheckOptions, input: &PlanInput) -> serde_json::Value {
    let PlanInput { request_id, actions, principal, resource, aux_data } = input.clone();
    let req = PlanResourcesRequest {
        request_id,
        action: String::new(),
        actions,
        principal,
        resource,
        aux_data,
        include_meta: true,
        authz_options: Some(WireOptions::of(opts)),
    };
    serde_json::to_value(req).unwrap_or_default()
}
