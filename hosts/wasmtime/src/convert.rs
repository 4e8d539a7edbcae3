//! Engine request/response types ↔ the component's WIT records: the one mapping Rust hosts
//! (the HTTP server, the conformance harness, embedding apps) share. Attribute objects cross as
//! JSON text, as the WIT interface documents.

use crate::types as wit;
use authz_engine::policy::Effect;
use authz_engine::wire::CheckResourcesRequest;
use authz_engine::{
    ActionEffect, CheckOptions, CheckOutput, EvaluationError, OutputEntry, SchemaEnforcement, ValidationError,
};

fn json<T: serde::Serialize>(v: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string(v)
}

/// The typed request asking what `req` asks under `opts`. Without `opts.now`, the host
/// supplies its clock (when configured to and the bundle reads it); without `opts.globals`,
/// the host's configured globals apply. Options at the engine's defaults are left out.
pub fn request(req: &CheckResourcesRequest, opts: &CheckOptions) -> Result<wit::CheckRequest, serde_json::Error> {
    let p = &req.principal;
    Ok(wit::CheckRequest {
        request_id: req.request_id.clone(),
        principal: wit::Principal {
            id: p.id.clone(),
            roles: p.roles.clone(),
            attr_json: json(&p.attr)?,
            policy_version: p.policy_version.clone(),
            scope: p.scope.clone(),
        },
        resources: req
            .resources
            .iter()
            .map(|e| {
                let r = &e.resource;
                Ok(wit::ResourceEntry {
                    resource: wit::Resource {
                        kind: r.kind.clone(),
                        id: r.id.clone(),
                        attr_json: json(&r.attr)?,
                        policy_version: r.policy_version.clone(),
                        scope: r.scope.clone(),
                    },
                    actions: e.actions.clone(),
                })
            })
            .collect::<Result<_, serde_json::Error>>()?,
        aux_data_json: req.aux_data.as_ref().map(json).transpose()?,
        options: wit::CheckOptions {
            now: opts.now.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)),
            // Empty globals travel as `none`, which the host fills with its configured ones:
            // the engine's options cannot say "explicitly none" apart from "not given".
            globals_json: if opts.globals.is_empty() { None } else { Some(json(&opts.globals)?) },
            // The engine's defaults travel as `none` (one string fewer to copy into the guest).
            default_policy_version: (opts.default_policy_version != authz_engine::DEFAULT_POLICY_VERSION)
                .then(|| opts.default_policy_version.clone()),
            default_scope: (!opts.default_scope.is_empty()).then(|| opts.default_scope.clone()),
            lenient_scopes: opts.lenient_scopes,
            schema_enforcement: match opts.schema_enforcement {
                SchemaEnforcement::None => wit::SchemaEnforcement::None,
                SchemaEnforcement::Warn => wit::SchemaEnforcement::Warn,
                SchemaEnforcement::Reject => wit::SchemaEnforcement::Reject,
            },
            strict_evaluation: opts.strict_evaluation,
        },
    })
}

/// The engine's outputs (one per resource, in request order) from a typed response, for
/// encoding with [`authz_engine::wire::encode_response`].
pub fn outputs(response: wit::CheckResponse) -> Vec<CheckOutput> {
    let request_id = response.request_id;
    response.results.into_iter().map(|r| output(request_id.clone(), r)).collect()
}

fn output(request_id: String, r: wit::ResourceResult) -> CheckOutput {
    CheckOutput {
        request_id,
        resource_id: r.resource_id,
        actions: r
            .actions
            .into_iter()
            .map(|a| {
                let effect = match a.effect {
                    wit::Effect::Allow => Effect::Allow,
                    wit::Effect::Deny => Effect::Deny,
                };
                (a.action, ActionEffect { effect, policy: a.policy, scope: a.scope, rule: a.rule })
            })
            .collect(),
        effective_derived_roles: r.effective_derived_roles,
        validation_errors: r
            .validation_errors
            .into_iter()
            .map(|v| ValidationError { path: v.path, message: v.message, source: v.source })
            .collect(),
        outputs: r
            .outputs
            .into_iter()
            .map(|o| OutputEntry {
                src: o.src,
                action: o.action,
                val: serde_json::from_str(&o.value_json).unwrap_or(serde_json::Value::String(o.value_json)),
            })
            .collect(),
        evaluation_errors: r
            .evaluation_errors
            .into_iter()
            .map(|e| EvaluationError { expression: e.expression, message: e.message })
            .collect(),
    }
}
