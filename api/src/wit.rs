//! The WIT `authz:pdp` records ↔ the model, written once.
//!
//! Each side of the component boundary has its own generated bindings (wit-bindgen in the
//! guest and in gateways that import `authz`, wasmtime's `bindgen!` in Rust hosts), so the
//! mapping is a macro, [`wit_conversions!`](crate::wit_conversions), that each side instantiates
//! over its generated module. Every record is built with all its fields and taken apart with
//! all its fields (no `..`), in both directions: a field added to the WIT fails every side's
//! build until it is mapped (`api/tests/wit_exhaustive.rs` proves it).
//!
//! The functions here are what the expansion calls: the parts that do not depend on the
//! generated types.

use crate::error::RequestError;
use crate::model::{Attributes, AuxData, Timestamp, DEFAULT_POLICY_VERSION};

/// `now` as RFC 3339 text, exactly as [`crate::cerbos::encode_request`] writes it.
pub fn time_text(t: &Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

/// `now` from RFC 3339 text, or an error at `path`.
pub fn time(text: &str, path: &str) -> Result<Timestamp, RequestError> {
    crate::model::parse_time(text).ok_or_else(|| invalid(path, format!("`{text}` is not an RFC 3339 time")))
}

/// An attribute object as JSON text (serializing a map with string keys cannot fail).
pub fn object_text(object: &Attributes) -> String {
    serde_json::to_string(object).unwrap_or_else(|_| "{}".into())
}

/// A JSON object from `text`, read strictly ([`crate::json::value`]); errors are at `path`.
pub fn object(text: &str, path: &str) -> Result<Attributes, RequestError> {
    object_at(text, || path.to_string())
}

/// [`object`] with the path made only for an error (a resource's path has its index in it).
pub fn object_at(text: &str, path: impl FnOnce() -> String) -> Result<Attributes, RequestError> {
    match crate::json::value(text) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err(invalid(&path(), "must be a JSON object")),
        Err(e) => Err(invalid(&path(), e.to_string())),
    }
}

/// Empty globals travel as `none`, which a host fills with its configured ones: the model
/// cannot tell "explicitly none" from "not given".
pub fn globals_text(globals: &Attributes) -> Option<String> {
    (!globals.is_empty()).then(|| object_text(globals))
}

/// Globals from `globals-json`: none is empty.
pub fn globals(text: Option<String>) -> Result<Attributes, RequestError> {
    text.map_or_else(|| Ok(Attributes::new()), |t| object(&t, "$.options.globals"))
}

/// The default version travels as `none` (one string fewer to copy into the guest).
pub fn version_text(version: &str) -> Option<String> {
    (version != DEFAULT_POLICY_VERSION).then(|| version.to_string())
}

/// The version from `default-policy-version`: none is `default`.
pub fn version(text: Option<String>) -> String {
    text.unwrap_or_else(|| DEFAULT_POLICY_VERSION.to_string())
}

/// Auxiliary data as JSON text.
pub fn aux_text(aux: &AuxData) -> String {
    serde_json::to_string(aux).unwrap_or_else(|_| "{}".into())
}

/// Auxiliary data from JSON text, read strictly; errors are at `$.auxData`.
pub fn aux(text: &str) -> Result<AuxData, RequestError> {
    let v = crate::json::value(text).map_err(|e| invalid("$.auxData", e.to_string()))?;
    serde_json::from_value::<AuxData>(v).map_err(|e| invalid("$.auxData", e.to_string()))
}

/// An output's value from JSON text (the guest wrote it; text that is not JSON stays text).
pub fn value(text: String) -> serde_json::Value {
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
}

/// An invalid-request error at `path`.
pub fn invalid(path: &str, message: impl Into<String>) -> RequestError {
    RequestError::Invalid { path: path.to_string(), message: message.into() }
}

/// The JSON path of a WIT request error (`$` when the guest knew none).
pub fn path(json_path: Option<String>) -> String {
    json_path.unwrap_or_else(|| "$".to_string())
}

/// A filter condition as JSON text.
pub fn condition_text(c: &crate::plan::Operand) -> String {
    serde_json::to_string(c).unwrap_or_else(|_| "null".into())
}

/// A filter condition from JSON text (the guest wrote it).
pub fn condition(text: &str) -> Result<crate::plan::Operand, String> {
    serde_json::from_str(text).map_err(|e| format!("the plan's condition is not a filter condition: {e}"))
}

/// A WIT `u32` as a size (saturating where `usize` is narrower).
pub fn size(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// An error in an `http-config`'s `defaults`, its path moved under `$.config.defaults`.
pub fn under_config(e: RequestError) -> RequestError {
    let moved = |path: String| path.replacen("$.options", "$.config.defaults", 1);
    match e {
        RequestError::Invalid { path, message } => RequestError::Invalid { path: moved(path), message },
        RequestError::Limit { path, message } => RequestError::Limit { path: moved(path), message },
    }
}

/// Instantiates the WIT ↔ model mapping over one side's generated bindings, as a module
/// `wit_map` in the calling module. The argument is the path of the generated `authz`
/// interface module (for wasmtime: `bindings::exports::authz::pdp::authz`; for a wit-bindgen
/// guest exporting it: `exports::authz::pdp::authz`; for one importing it: `authz::pdp::authz`).
///
/// ```ignore
/// authz_api::wit_conversions!(crate::bindings::exports::authz::pdp::authz);
/// let typed = wit_map::request_to_wit(&request, &options);
/// ```
#[macro_export]
macro_rules! wit_conversions {
    ($($wit:tt)+) => {
        /// The WIT records ↔ the `authz-api` model (from `authz_api::wit_conversions!`).
        #[allow(dead_code)]
        pub mod wit_map {
            use $($wit)+ as wit;
            use $crate::__wit as h;
            use $crate::cerbos::{CheckResourcesRequest, ResourceEntry};
            use $crate::plan::{FilterKind, PlanFilter, PlanInput, PlanOutput, PlanResource};
            use $crate::{
                ActionEffect, BundleDetails, CheckOptions, CheckOutput, Decision, Effect, EvaluationError,
                OutputEntry, PlanDecision, Principal, RequestError, Resource, SchemaEnforcement, ValidationError,
            };

            /// The options as a WIT record.
            pub fn options_to_wit(o: &CheckOptions) -> wit::CheckOptions {
                let CheckOptions {
                    now,
                    globals,
                    default_policy_version,
                    default_scope,
                    lenient_scopes,
                    schema_enforcement,
                    strict_evaluation,
                } = o;
                wit::CheckOptions {
                    now: now.as_ref().map(h::time_text),
                    globals_json: h::globals_text(globals),
                    default_policy_version: h::version_text(default_policy_version),
                    default_scope: (!default_scope.is_empty()).then(|| default_scope.clone()),
                    lenient_scopes: *lenient_scopes,
                    schema_enforcement: match schema_enforcement {
                        SchemaEnforcement::None => wit::SchemaEnforcement::None,
                        SchemaEnforcement::Warn => wit::SchemaEnforcement::Warn,
                        SchemaEnforcement::Reject => wit::SchemaEnforcement::Reject,
                    },
                    strict_evaluation: *strict_evaluation,
                }
            }

            /// The options from a WIT record; errors name `$.options.<field>`.
            pub fn options_from_wit(o: wit::CheckOptions) -> Result<CheckOptions, RequestError> {
                let wit::CheckOptions {
                    now,
                    globals_json,
                    default_policy_version,
                    default_scope,
                    lenient_scopes,
                    schema_enforcement,
                    strict_evaluation,
                } = o;
                Ok(CheckOptions {
                    now: now.map(|t| h::time(&t, "$.options.now")).transpose()?,
                    globals: h::globals(globals_json)?,
                    default_policy_version: h::version(default_policy_version),
                    default_scope: default_scope.unwrap_or_default(),
                    lenient_scopes,
                    schema_enforcement: match schema_enforcement {
                        wit::SchemaEnforcement::None => SchemaEnforcement::None,
                        wit::SchemaEnforcement::Warn => SchemaEnforcement::Warn,
                        wit::SchemaEnforcement::Reject => SchemaEnforcement::Reject,
                    },
                    strict_evaluation,
                })
            }

            fn principal_to_wit(p: &Principal) -> wit::Principal {
                let Principal { id, policy_version, roles, attr, scope } = p;
                wit::Principal {
                    id: id.clone(),
                    roles: roles.clone(),
                    attr_json: h::object_text(attr),
                    policy_version: policy_version.clone(),
                    scope: scope.clone(),
                }
            }

            fn principal_from_wit(p: wit::Principal) -> Result<Principal, RequestError> {
                let wit::Principal { id, roles, attr_json, policy_version, scope } = p;
                Ok(Principal { attr: h::object(&attr_json, "$.principal.attr")?, id, roles, policy_version, scope })
            }

            /// The typed request asking what `req` asks under `opts`.
            pub fn request_to_wit(req: &CheckResourcesRequest, opts: &CheckOptions) -> wit::CheckRequest {
                // Cerbos-only fields: `includeMeta` is always answered typed, and options
                // travel as the `options` record.
                let CheckResourcesRequest { request_id, principal, resources, aux_data, include_meta: _, authz_options: _ } =
                    req;
                wit::CheckRequest {
                    request_id: request_id.clone(),
                    principal: principal_to_wit(principal),
                    resources: resources
                        .iter()
                        .map(|ResourceEntry { actions, resource }| {
                            let Resource { kind, id, policy_version, attr, scope } = resource;
                            wit::ResourceEntry {
                                resource: wit::Resource {
                                    kind: kind.clone(),
                                    id: id.clone(),
                                    attr_json: h::object_text(attr),
                                    policy_version: policy_version.clone(),
                                    scope: scope.clone(),
                                },
                                actions: actions.clone(),
                            }
                        })
                        .collect(),
                    aux_data_json: aux_data.as_ref().map(h::aux_text),
                    options: options_to_wit(opts),
                }
            }

            /// The model's request and options from a typed request, moved rather than copied
            /// (only the JSON texts are parsed); errors name the field's JSON path.
            pub fn request_from_wit(
                r: wit::CheckRequest,
            ) -> Result<(CheckResourcesRequest, CheckOptions), RequestError> {
                let wit::CheckRequest { request_id, principal, resources, aux_data_json, options } = r;
                let principal = principal_from_wit(principal)?;
                let resources = resources
                    .into_iter()
                    .enumerate()
                    .map(|(i, wit::ResourceEntry { resource, actions })| {
                        let wit::Resource { kind, id, attr_json, policy_version, scope } = resource;
                        let attr = h::object_at(&attr_json, || format!("$.resources[{i}].resource.attr"))?;
                        Ok(ResourceEntry { actions, resource: Resource { kind, id, policy_version, attr, scope } })
                    })
                    .collect::<Result<_, RequestError>>()?;
                let aux_data = aux_data_json.as_deref().map(h::aux).transpose()?;
                let request = CheckResourcesRequest {
                    request_id,
                    principal,
                    resources,
                    aux_data,
                    include_meta: true,
                    authz_options: None,
                };
                Ok((request, options_from_wit(options)?))
            }

            fn effect_to_wit(e: Effect) -> wit::Effect {
                match e {
                    Effect::Allow => wit::Effect::Allow,
                    Effect::Deny => wit::Effect::Deny,
                }
            }

            /// The typed response for `req`, taking the request and the decision apart: one
            /// result per resource entry, one action result per action asked, in request order.
            pub fn response_to_wit(req: CheckResourcesRequest, decision: Decision) -> wit::CheckResponse {
                let entries = req.resources.into_iter().map(|e| (e.actions, e.resource.id, e.resource.kind));
                results_to_wit(req.request_id, entries, decision)
            }

            /// [`response_to_wit`] from what it needs of each resource entry (its actions, the
            /// resource's ID and kind), for callers that took the request apart to decide it.
            pub fn results_to_wit(
                request_id: String,
                entries: impl Iterator<Item = (Vec<String>, String, String)>,
                decision: Decision,
            ) -> wit::CheckResponse {
                let Decision { outputs, bundle_digest, bundle_label } = decision;
                let results = entries
                    .zip(outputs)
                    .map(|((entry_actions, resource_id, resource_kind), out)| {
                        let CheckOutput {
                            request_id: _,
                            resource_id: _,
                            actions,
                            effective_derived_roles,
                            validation_errors,
                            outputs,
                            evaluation_errors,
                        } = out;
                        wit::ResourceResult {
                            // An action's policy, scope and rule are copied: a request may name
                            // an action twice.
                            actions: entry_actions
                                .into_iter()
                                .filter_map(|a| actions.get(&a).map(|e| (a, e)))
                                .map(|(action, ActionEffect { effect, policy, scope, rule })| wit::ActionResult {
                                    action,
                                    effect: effect_to_wit(*effect),
                                    policy: policy.to_string(),
                                    scope: scope.clone(),
                                    rule: rule.to_string(),
                                })
                                .collect(),
                            resource_id,
                            resource_kind,
                            effective_derived_roles,
                            outputs: outputs
                                .into_iter()
                                .map(|OutputEntry { src, val, action, error }| wit::OutputEntry {
                                    value_json: val.to_string(),
                                    src,
                                    action,
                                    error,
                                })
                                .collect(),
                            validation_errors: validation_errors
                                .into_iter()
                                .map(|ValidationError { path, message, source }| wit::ValidationError {
                                    path,
                                    message,
                                    source,
                                })
                                .collect(),
                            evaluation_errors: evaluation_errors
                                .into_iter()
                                .map(|EvaluationError { expression, message }| wit::EvaluationError {
                                    expression,
                                    message,
                                })
                                .collect(),
                        }
                    })
                    .collect();
                wit::CheckResponse { request_id, results, bundle_digest, bundle_label }
            }

            /// The decision in a typed response.
            pub fn response_from_wit(r: wit::CheckResponse) -> Decision {
                let wit::CheckResponse { request_id, results, bundle_digest, bundle_label } = r;
                let outputs = results
                    .into_iter()
                    .map(|res| {
                        let wit::ResourceResult {
                            resource_id,
                            resource_kind: _,
                            actions,
                            effective_derived_roles,
                            outputs,
                            validation_errors,
                            evaluation_errors,
                        } = res;
                        CheckOutput {
                            request_id: request_id.clone(),
                            resource_id,
                            actions: actions
                                .into_iter()
                                .map(|wit::ActionResult { action, effect, policy, scope, rule }| {
                                    let effect = match effect {
                                        wit::Effect::Allow => Effect::Allow,
                                        wit::Effect::Deny => Effect::Deny,
                                    };
                                    (action, ActionEffect { effect, policy: policy.into(), scope, rule: rule.into() })
                                })
                                .collect(),
                            effective_derived_roles,
                            validation_errors: validation_errors
                                .into_iter()
                                .map(|wit::ValidationError { path, message, source }| ValidationError {
                                    path,
                                    message,
                                    source,
                                })
                                .collect(),
                            outputs: outputs
                                .into_iter()
                                .map(|wit::OutputEntry { src, action, value_json, error }| OutputEntry {
                                    src,
                                    action,
                                    val: h::value(value_json),
                                    error,
                                })
                                .collect(),
                            evaluation_errors: evaluation_errors
                                .into_iter()
                                .map(|wit::EvaluationError { expression, message }| EvaluationError {
                                    expression,
                                    message,
                                })
                                .collect(),
                        }
                    })
                    .collect();
                Decision { outputs, bundle_digest, bundle_label }
            }

            /// The typed plan request asking what `input` asks under `opts`.
            pub fn plan_request_to_wit(input: &PlanInput, opts: &CheckOptions) -> wit::PlanRequest {
                let PlanInput { request_id, actions, principal, resource, aux_data } = input;
                let PlanResource { kind, attr, policy_version, scope } = resource;
                wit::PlanRequest {
                    request_id: request_id.clone(),
                    principal: principal_to_wit(principal),
                    resource: wit::PlanResource {
                        kind: kind.clone(),
                        attr_json: h::object_text(attr),
                        policy_version: policy_version.clone(),
                        scope: scope.clone(),
                    },
                    actions: actions.clone(),
                    aux_data_json: aux_data.as_ref().map(h::aux_text),
                    options: options_to_wit(opts),
                }
            }

            /// The model's plan input and options from a typed request; errors name the field's
            /// JSON path.
            pub fn plan_request_from_wit(r: wit::PlanRequest) -> Result<(PlanInput, CheckOptions), RequestError> {
                let wit::PlanRequest { request_id, principal, resource, actions, aux_data_json, options } = r;
                let principal = principal_from_wit(principal)?;
                let wit::PlanResource { kind, attr_json, policy_version, scope } = resource;
                let resource =
                    PlanResource { attr: h::object(&attr_json, "$.resource.attr")?, kind, policy_version, scope };
                let aux_data = aux_data_json.as_deref().map(h::aux).transpose()?;
                let input = PlanInput { request_id, actions, principal, resource, aux_data };
                Ok((input, options_from_wit(options)?))
            }

            /// The typed response for a plan.
            pub fn plan_response_to_wit(d: PlanDecision) -> wit::PlanResponse {
                let PlanDecision { output, bundle_digest, bundle_label } = d;
                let filter_debug = output.filter.debug_string();
                let PlanOutput {
                    request_id,
                    actions,
                    resource_kind,
                    policy_version,
                    scope,
                    filter,
                    matched_scopes,
                    validation_errors,
                } = output;
                let PlanFilter { kind, condition } = filter;
                wit::PlanResponse {
                    request_id,
                    actions,
                    resource_kind,
                    policy_version,
                    scope,
                    kind: match kind {
                        FilterKind::AlwaysAllowed => wit::FilterKind::AlwaysAllowed,
                        FilterKind::AlwaysDenied => wit::FilterKind::AlwaysDenied,
                        FilterKind::Conditional => wit::FilterKind::Conditional,
                    },
                    condition_json: condition.as_ref().map(h::condition_text),
                    filter_debug,
                    matched_scopes: matched_scopes.into_iter().collect(),
                    validation_errors: validation_errors
                        .into_iter()
                        .map(|ValidationError { path, message, source }| wit::ValidationError { path, message, source })
                        .collect(),
                    bundle_digest,
                    bundle_label,
                }
            }

            /// The plan in a typed response; the error says why its condition is unreadable.
            pub fn plan_response_from_wit(r: wit::PlanResponse) -> Result<PlanDecision, String> {
                let wit::PlanResponse {
                    request_id,
                    actions,
                    resource_kind,
                    policy_version,
                    scope,
                    kind,
                    condition_json,
                    filter_debug: _,
                    matched_scopes,
                    validation_errors,
                    bundle_digest,
                    bundle_label,
                } = r;
                let kind = match kind {
                    wit::FilterKind::AlwaysAllowed => FilterKind::AlwaysAllowed,
                    wit::FilterKind::AlwaysDenied => FilterKind::AlwaysDenied,
                    wit::FilterKind::Conditional => FilterKind::Conditional,
                };
                let condition = condition_json.as_deref().map(h::condition).transpose()?;
                let output = PlanOutput {
                    request_id,
                    actions,
                    resource_kind,
                    policy_version,
                    scope,
                    filter: PlanFilter { kind, condition },
                    matched_scopes: matched_scopes.into_iter().collect(),
                    validation_errors: validation_errors
                        .into_iter()
                        .map(|wit::ValidationError { path, message, source }| ValidationError { path, message, source })
                        .collect(),
                };
                Ok(PlanDecision { output, bundle_digest, bundle_label })
            }

            /// A request error as the WIT error.
            pub fn request_error_to_wit(e: RequestError) -> wit::Error {
                match e {
                    RequestError::Invalid { path, message } => {
                        wit::Error::InvalidRequest(wit::RequestError { message, json_path: Some(path) })
                    }
                    RequestError::Limit { path, message } => {
                        wit::Error::RequestTooLarge(wit::RequestError { message, json_path: Some(path) })
                    }
                }
            }

            /// The WIT error: a request error, or why the component has no bundle.
            pub fn error_from_wit(e: wit::Error) -> Result<RequestError, String> {
                match e {
                    wit::Error::InvalidRequest(wit::RequestError { message, json_path }) => {
                        Ok(RequestError::Invalid { path: h::path(json_path), message })
                    }
                    wit::Error::RequestTooLarge(wit::RequestError { message, json_path }) => {
                        Ok(RequestError::Limit { path: h::path(json_path), message })
                    }
                    wit::Error::BundleUnavailable(reason) => Err(reason),
                }
            }

            /// The bundle's details as a WIT record.
            pub fn details_to_wit(d: BundleDetails) -> wit::BundleDetails {
                let BundleDetails { digest, label, policy_count, engine_version, reads_clock } = d;
                wit::BundleDetails { digest, label, policy_count, engine_version, reads_clock }
            }

            /// The HTTP API's handler as a WIT `http-config` configures it, and the runtime its
            /// decision records name; errors name `$.config.defaults.<field>`.
            pub fn http_config_from_wit(
                c: wit::HttpConfig,
            ) -> Result<($crate::http::Handler, String), RequestError> {
                let wit::HttpConfig {
                    max_resources,
                    max_actions,
                    max_body_bytes,
                    allow_request_options,
                    defaults,
                    runtime,
                } = c;
                let default = $crate::cerbos::Limits::default();
                let limits = $crate::cerbos::Limits {
                    max_resources: max_resources.map_or(default.max_resources, h::size),
                    max_actions: max_actions.map_or(default.max_actions, h::size),
                    max_bytes: max_body_bytes.map_or(default.max_bytes, h::size),
                };
                let defaults = options_from_wit(defaults).map_err(h::under_config)?;
                Ok(($crate::http::Handler::new(limits, allow_request_options).with_defaults(defaults), runtime))
            }

            /// An HTTP answer and the decision records (audit lines) made for it.
            pub fn http_response_to_wit(r: $crate::http::Response, decisions: Vec<String>) -> wit::HttpResponse {
                let $crate::http::Response { status, headers, body } = r;
                wit::HttpResponse { status, headers, body: body.to_string(), decisions }
            }

            /// The bundle's details from a WIT record.
            pub fn details_from_wit(d: wit::BundleDetails) -> BundleDetails {
                let wit::BundleDetails { digest, label, policy_count, engine_version, reads_clock } = d;
                BundleDetails { digest, label, policy_count, engine_version, reads_clock }
            }
        }
    };
}
