//! The exported `authz` interface: translates WIT records to engine types and back.

use crate::slot;
use authz_engine::wire::{CheckResourcesRequest, Limits, ResourceEntry};
use authz_engine::{Attributes, AuxData, Bundle, CheckOptions, Principal, Resource, SchemaEnforcement};
use std::sync::OnceLock;

wit_bindgen::generate!({ path: "../wit", world: "pdp" });

use exports::authz::pdp::authz as api;

struct Pdp;

static BUNDLE: OnceLock<Result<Bundle, String>> = OnceLock::new();

/// Why a component without a decoded bundle cannot decide.
const NOT_BAKED: &str = "no bundle is baked into this component: run `authz bake`";

/// The baked bundle, decoded by [`authz_preinitialize`] when `authz bake` snapshotted the
/// component. Only that initializer reaches the decoder, so the snapshot drops its code; a
/// component that was never pre-initialized (the generic one) has no bundle.
fn bundle() -> Result<&'static Bundle, api::Error> {
    match BUNDLE.get() {
        Some(decoded) => decoded.as_ref().map_err(|e| api::Error::BundleUnavailable(e.clone())),
        None => Err(api::Error::BundleUnavailable(NOT_BAKED.into())),
    }
}

/// Decodes the baked bundle (no parsing: the bytes hold the compiled table).
fn decode_bundle() -> Result<Bundle, String> {
    match slot::baked() {
        Some(bytes) => Bundle::from_bytes(bytes).map_err(|e| e.to_string()),
        None => Err(NOT_BAKED.into()),
    }
}

fn invalid(message: impl Into<String>, path: &str) -> api::Error {
    api::Error::InvalidRequest(api::RequestError { message: message.into(), json_path: Some(path.to_string()) })
}

/// A JSON object from `text`, or why it is not one (the caller adds the JSON path).
fn json_object(text: &str) -> Result<Attributes, String> {
    match authz_engine::json::value(text) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err("must be a JSON object".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn options(o: &api::CheckOptions) -> Result<CheckOptions, api::Error> {
    let mut opts = CheckOptions::default();
    if let Some(now) = &o.now {
        opts.now = Some(
            authz_engine::parse_time(now)
                .ok_or_else(|| invalid(format!("`{now}` is not an RFC 3339 time"), "$.options.now"))?,
        );
    }
    if let Some(g) = &o.globals_json {
        opts.globals = json_object(g).map_err(|m| invalid(m, "$.options.globals"))?;
    }
    if let Some(v) = &o.default_policy_version {
        opts.default_policy_version = v.clone();
    }
    if let Some(s) = &o.default_scope {
        opts.default_scope = s.clone();
    }
    opts.lenient_scopes = o.lenient_scopes;
    opts.strict_evaluation = o.strict_evaluation;
    opts.schema_enforcement = match o.schema_enforcement {
        api::SchemaEnforcement::None => SchemaEnforcement::None,
        api::SchemaEnforcement::Warn => SchemaEnforcement::Warn,
        api::SchemaEnforcement::Reject => SchemaEnforcement::Reject,
    };
    Ok(opts)
}

/// The engine's request from the typed records, moved rather than copied; only the attribute
/// objects are parsed. Validated like a decoded Cerbos request, with the same JSON paths.
fn engine_request(
    request_id: String,
    principal: api::Principal,
    resources: Vec<api::ResourceEntry>,
    aux_data_json: Option<String>,
) -> Result<CheckResourcesRequest, api::Error> {
    let principal = Principal {
        attr: json_object(&principal.attr_json).map_err(|m| invalid(m, "$.principal.attr"))?,
        id: principal.id,
        roles: principal.roles,
        policy_version: principal.policy_version,
        scope: principal.scope,
    };
    let resources = resources
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let r = e.resource;
            Ok(ResourceEntry {
                actions: e.actions,
                resource: Resource {
                    attr: json_object(&r.attr_json)
                        .map_err(|m| invalid(m, &format!("$.resources[{i}].resource.attr")))?,
                    kind: r.kind,
                    id: r.id,
                    policy_version: r.policy_version,
                    scope: r.scope,
                },
            })
        })
        .collect::<Result<_, api::Error>>()?;
    let aux_data = match aux_data_json {
        Some(text) => {
            let v = authz_engine::json::value(&text).map_err(|e| invalid(e.to_string(), "$.auxData"))?;
            Some(serde_json::from_value::<AuxData>(v).map_err(|e| invalid(e.to_string(), "$.auxData"))?)
        }
        None => None,
    };
    let req =
        CheckResourcesRequest { request_id, principal, resources, aux_data, include_meta: true, authz_options: None };
    req.validate(&Limits::default()).map_err(|e| invalid(e.to_string(), e.path()))?;
    Ok(req)
}

impl api::Guest for Pdp {
    fn check_resources(request: api::CheckRequest) -> Result<api::CheckResponse, api::Error> {
        let b = bundle()?;
        let request_id = request.request_id.clone();
        let req = engine_request(request.request_id, request.principal, request.resources, request.aux_data_json)?;
        let opts = options(&request.options)?;
        let inputs = req.into_inputs();
        let outputs = b.check(&opts, &inputs);
        // The inputs and outputs are ours: moved into the response, not copied (only an
        // action's policy, scope and rule are, since a request may name an action twice).
        let results = inputs
            .into_iter()
            .zip(outputs)
            .map(|(entry, out)| api::ResourceResult {
                actions: entry
                    .actions
                    .into_iter()
                    .filter_map(|a| out.actions.get(&a).map(|e| (a, e)))
                    .map(|(action, e)| api::ActionResult {
                        action,
                        effect: if e.effect == authz_engine::policy::Effect::Allow {
                            api::Effect::Allow
                        } else {
                            api::Effect::Deny
                        },
                        policy: e.policy.clone(),
                        scope: e.scope.clone(),
                        rule: e.rule.clone(),
                    })
                    .collect(),
                resource_id: entry.resource.id,
                resource_kind: entry.resource.kind,
                effective_derived_roles: out.effective_derived_roles,
                outputs: out
                    .outputs
                    .into_iter()
                    .map(|o| api::OutputEntry { value_json: o.val.to_string(), src: o.src, action: o.action })
                    .collect(),
                validation_errors: out
                    .validation_errors
                    .into_iter()
                    .map(|v| api::ValidationError { path: v.path, message: v.message, source: v.source })
                    .collect(),
                evaluation_errors: out
                    .evaluation_errors
                    .into_iter()
                    .map(|v| api::EvaluationError { expression: v.expression, message: v.message })
                    .collect(),
            })
            .collect();
        Ok(api::CheckResponse {
            request_id,
            results,
            bundle_digest: b.digest().to_string(),
            bundle_label: b.label().map(str::to_string),
        })
    }

    fn check_json(request: String) -> Result<String, api::Error> {
        let b = bundle()?;
        authz_engine::wire::check_json(b, &request, &Limits::default(), &CheckOptions::default())
            .map(|response| response.to_string())
            .map_err(|e| invalid(e.to_string(), e.path()))
    }

    fn bundle_info() -> api::BundleDetails {
        match bundle() {
            Ok(b) => api::BundleDetails {
                digest: b.digest().to_string(),
                label: b.label().map(str::to_string),
                policy_count: u32::try_from(b.policy_count()).unwrap_or(u32::MAX),
                engine_version: env!("CARGO_PKG_VERSION").to_string(),
                reads_clock: b.reads_clock(),
            },
            Err(_) => api::BundleDetails {
                digest: String::new(),
                label: None,
                policy_count: 0,
                engine_version: env!("CARGO_PKG_VERSION").to_string(),
                // Unknown: a host that supplies the time anyway loses nothing.
                reads_clock: true,
            },
        }
    }
}

/// The core module's pre-initializer, outside the WIT world (the component never exports it):
/// `authz bake` runs it once in the baked core module (decoding the bundle, building the CEL
/// runtime), snapshots the memory into data segments and drops this export (wasmtime's wizer).
#[no_mangle]
pub extern "C" fn authz_preinitialize() {
    let _ = BUNDLE.get_or_init(decode_bundle);
    // SAFETY: the decoded bundle owns its data; no slice of the slot is held past here.
    unsafe { crate::slot::release() };
    let _ = authz_engine::prepare();
    // Everything allocated so far lives for ever; calls allocate from the arena.
    crate::arena::arm();
}

export!(Pdp);
