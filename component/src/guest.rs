//! The exported `authz` interface: translates WIT records to engine types and back.

use crate::slot;
use authz_api::audit::DecisionRecord;
use authz_api::cerbos::{CheckResourcesRequest, Limits};
use authz_api::plan::PlanInput;
use authz_api::{http, CheckOptions, DecideError, Decider, Decision, Failure, PlanDecision};
use authz_engine::Bundle;
use std::cell::RefCell;
use std::sync::OnceLock;
use std::time::Duration;

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

authz_api::wit_conversions!(super::exports::authz::pdp::authz);

/// The request's own error, as the WIT error.
fn request_error(e: authz_api::RequestError) -> api::Error {
    wit_map::request_error_to_wit(e)
}

/// The engine never fails to decide; anything but a request error is reported as having no
/// usable bundle (the caller denies either way).
fn decide_error(e: DecideError) -> api::Error {
    match e {
        DecideError::Request(r) => request_error(r),
        DecideError::Runtime { source, .. } => api::Error::BundleUnavailable(source.to_string()),
    }
}

impl api::Guest for Pdp {
    fn check_resources(request: api::CheckRequest) -> Result<api::CheckResponse, api::Error> {
        let b = bundle()?;
        let (mut req, opts) = wit_map::request_from_wit(request).map_err(request_error)?;
        req.validate(&Limits::default()).map_err(request_error)?;
        if let Some(aux) = req.aux_data.as_mut() {
            b.verify_tokens(aux, opts.now.as_ref()).map_err(request_error)?;
        }
        // The request is ours: taken apart into the engine's inputs and then into the response,
        // never copied (deciding through `Decider` would copy each input's principal).
        let request_id = req.request_id.clone();
        let inputs = req.into_inputs();
        let outputs = b.check(&opts, &inputs);
        let decision = authz_api::Decision {
            outputs,
            bundle_digest: b.digest().to_string(),
            bundle_label: b.label().map(str::to_string),
        };
        let entries = inputs.into_iter().map(|i| (i.actions, i.resource.id, i.resource.kind));
        Ok(wit_map::results_to_wit(request_id, entries, decision))
    }

    fn check_json(request: String, defaults: api::CheckOptions) -> Result<String, api::Error> {
        let b = bundle()?;
        let defaults = wit_map::options_from_wit(defaults).map_err(request_error)?;
        authz_api::cerbos::check_json(b, &request, &Limits::default(), &defaults)
            .map(|response| response.to_string())
            .map_err(decide_error)
    }

    fn plan_resources(request: api::PlanRequest) -> Result<api::PlanResponse, api::Error> {
        let b = bundle()?;
        let (input, opts) = wit_map::plan_request_from_wit(request).map_err(request_error)?;
        input.validate(&Limits::default()).map_err(request_error)?;
        let plan = Decider::plan(b, &input, &opts).map_err(decide_error)?;
        Ok(wit_map::plan_response_to_wit(plan))
    }

    fn plan_json(request: String, defaults: api::CheckOptions) -> Result<String, api::Error> {
        let b = bundle()?;
        let defaults = wit_map::options_from_wit(defaults).map_err(request_error)?;
        authz_api::plan::plan_json(b, &request, &Limits::default(), &defaults)
            .map(|response| response.to_string())
            .map_err(decide_error)
    }

    fn bundle_info() -> api::BundleDetails {
        wit_map::details_to_wit(details())
    }

    fn actions(kind: String) -> Result<Vec<String>, api::Error> {
        Ok(bundle()?.actions_for(&kind))
    }

    fn handle_http(request: api::HttpRequest, config: api::HttpConfig) -> api::HttpResponse {
        let api::HttpRequest { method, path, host, content_type, request_id, body } = request;
        if let Some(answer) = http::probe(&method, &path, details) {
            return wit_map::http_response_to_wit(answer, Vec::new());
        }
        let (handler, runtime) = match wit_map::http_config_from_wit(config) {
            Ok(c) => c,
            Err(e) => {
                let answer = http::Response::error(500, format!("the host's http-config: {e}"), Some(e.path().into()));
                return wit_map::http_response_to_wit(answer, Vec::new());
            }
        };
        let decider = Recording { bundle: bundle().ok(), runtime: &runtime, records: RefCell::new(Vec::new()) };
        let request = http::Request {
            method: &method,
            path: &path,
            host: host.as_deref(),
            content_type: content_type.as_deref(),
            request_id: request_id.as_deref(),
            body: &body,
        };
        let (_, answer) = handler.handle(&decider, request);
        wit_map::http_response_to_wit(answer, decider.records.into_inner())
    }
}

/// The baked bundle's details; for a component without one, what a host needs to know to
/// call it anyway.
fn details() -> authz_api::BundleDetails {
    match bundle() {
        Ok(b) => b.details(),
        Err(_) => authz_api::BundleDetails {
            digest: String::new(),
            label: None,
            policy_count: 0,
            engine_version: authz_engine::VERSION.to_string(),
            // Unknown: a host that supplies the time anyway loses nothing.
            reads_clock: true,
        },
    }
}

/// The baked bundle as the HTTP API's decider, keeping the decision record of every
/// (resource, action) it decides as its audit line.
struct Recording<'a> {
    bundle: Option<&'static Bundle>,
    runtime: &'a str,
    records: RefCell<Vec<String>>,
}

impl Decider for Recording<'_> {
    fn decide(&self, request: &CheckResourcesRequest, options: &CheckOptions) -> Result<Decision, DecideError> {
        let Some(bundle) = self.bundle else {
            return Err(DecideError::runtime(Failure::Internal, NOT_BAKED));
        };
        let decision = bundle.decide(request, options)?;
        // No clock here: the host that times the call fills in `durationMicros`.
        let records = DecisionRecord::of_decision(request, &decision, self.runtime, Duration::ZERO);
        self.records.borrow_mut().extend(records.iter().map(DecisionRecord::to_line));
        Ok(decision)
    }

    fn actions(&self, kind: &str) -> Result<Vec<String>, DecideError> {
        let Some(bundle) = self.bundle else {
            return Err(DecideError::runtime(Failure::Internal, NOT_BAKED));
        };
        Ok(bundle.actions_for(kind))
    }

    fn plan(&self, input: &PlanInput, options: &CheckOptions) -> Result<PlanDecision, DecideError> {
        let Some(bundle) = self.bundle else {
            return Err(DecideError::runtime(Failure::Internal, NOT_BAKED));
        };
        let plan = Decider::plan(bundle, input, options)?;
        let records = DecisionRecord::of_plan(input, &plan, self.runtime, Duration::ZERO);
        self.records.borrow_mut().extend(records.iter().map(DecisionRecord::to_line));
        Ok(plan)
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
