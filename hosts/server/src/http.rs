//! The server's routes. The PDP API (Cerbos CheckResources, AuthZEN 1.0, discovery) is
//! `authz-api`'s transport-neutral [`Handler`]: this module reads bodies within the server's
//! bounds, hands them over with the serving component as the decider, and counts the answers.
//! Health, metrics and the admin API are the server's own.

use crate::state::State;
use authz_api::cerbos::Limits;
use authz_api::http::{Endpoint, Handler, Request, Response as Answer};
use authz_api::plan::PlanInput;
use authz_api::{CheckOptions, DecideError, Decider, Decision, Failure, PlanDecision};
use authz_wasmtime::Pdp;
use axum::body::{Body, Bytes};
use axum::extract::State as Shared;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

type S = Shared<Arc<State>>;

pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        // Cerbos's own health and server-information routes, which its SDKs call.
        .route("/_cerbos/health", get(cerbos_health))
        .route("/api/server_info", get(server_info))
        .route("/admin/reload", post(admin_reload))
        .route("/admin/bundle", put(admin_bundle))
        // Everything else is the PDP API.
        .fallback(api)
        // Bodies are read with our own limit (see `read`), to answer a JSON error.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}

/// The PDP API's handler for this server's configuration.
pub(crate) fn handler(config: &crate::ServeConfig) -> Handler {
    let limits = Limits {
        max_resources: config.max_resources,
        max_actions: config.max_actions,
        max_bytes: config.max_body_bytes,
    };
    let options = authz_api::CheckOptions { globals: serde_json::Map::new(), now: None, ..config.options.clone() };
    Handler::new(limits, config.request_options).with_defaults(options)
}

/// An error answer in the API's `{code, message, path}` shape.
fn failure(status: StatusCode, message: impl Into<String>, path: Option<&str>) -> Answer {
    Answer::error(status.as_u16(), message, path.map(str::to_string))
}

fn reply(r: Answer) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response =
        (status, [(header::CONTENT_TYPE, authz_api::http::Response::CONTENT_TYPE)], r.body_bytes()).into_response();
    for (name, value) in &r.headers {
        if let (Ok(name), Ok(value)) =
            (header::HeaderName::try_from(name.as_str()), header::HeaderValue::try_from(value))
        {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// Reads a body of at most `limit` bytes within the body time limit. A larger declared
/// `Content-Length` is refused before reading any of it.
async fn read(state: &State, headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, Answer> {
    let too_large = || {
        failure(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is larger than the limit of {limit} bytes"), Some("$"))
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let timeout = state.config.body_timeout;
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(too_large()),
        Err(_) => Err(failure(
            StatusCode::REQUEST_TIMEOUT,
            format!("the body did not arrive within {} ms", timeout.as_millis()),
            None,
        )),
    }
}

/// The serving component as the API's decider. Under `--audit-required`, a decision whose
/// record could not be written is not answered.
pub(crate) struct Audited<'a> {
    pub(crate) pdp: &'a Pdp,
    pub(crate) required: bool,
    /// Whether decisions write an audit log (blocking I/O on the calling thread).
    pub(crate) writes: bool,
}

impl<'a> Audited<'a> {
    /// The decider of a server configured by `config`.
    pub(crate) fn of(pdp: &'a Pdp, config: &crate::ServeConfig) -> Self {
        Audited { pdp, required: config.audit_required, writes: config.audit.is_some() }
    }

    /// Runs a call to the component. A decision is CPU work of a few microseconds, bounded by
    /// the host's time limit: it runs on the async worker. Handing the worker to another thread
    /// around each call (`block_in_place`) cost more than the decision (measured: 27,000 against
    /// 31,000 single checks/s, p99 2.2 ms against 0.9 ms). Where the call also writes audit
    /// records, which is blocking I/O, the worker's other tasks move to another thread
    /// meanwhile.
    fn call<T>(&self, call: impl FnOnce() -> T) -> (T, bool) {
        if self.writes {
            tokio::task::block_in_place(|| crate::audit::call_audited(call))
        } else {
            crate::audit::call_audited(call)
        }
    }
}

/// Why an unaudited decision is not answered.
#[derive(Debug, thiserror::Error)]
#[error("the decision could not be written to the audit log, which this server requires (--audit-required)")]
struct Unaudited;

impl Decider for Audited<'_> {
    fn decide(
        &self,
        request: &authz_api::cerbos::CheckResourcesRequest,
        options: &CheckOptions,
    ) -> Result<Decision, DecideError> {
        let (decision, audited) = self.call(|| self.pdp.decide(request, options));
        let decision = decision?;
        if self.required && !audited {
            return Err(DecideError::runtime(Failure::Unavailable, Unaudited));
        }
        Ok(decision)
    }
    fn actions(&self, kind: &str) -> Result<Vec<String>, DecideError> {
        Ok(self.call(|| self.pdp.actions(kind)).0?)
    }

    fn plan(&self, input: &PlanInput, options: &CheckOptions) -> Result<PlanDecision, DecideError> {
        let (plan, audited) = self.call(|| Decider::plan(self.pdp, input, options));
        let plan = plan?;
        if self.required && !audited {
            return Err(DecideError::runtime(Failure::Unavailable, Unaudited));
        }
        Ok(plan)
    }
}

/// The PDP API: reads the body (for the endpoints that take one), decides on this worker
/// (which may block briefly), and counts the answer under its endpoint.
async fn api(Shared(state): S, method: Method, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    let start = Instant::now();
    let endpoint = Endpoint::at(uri.path());
    let text = |name: header::HeaderName| headers.get(name).and_then(|h| h.to_str().ok());
    let request_id = text(header::HeaderName::from_static("x-request-id"));
    let bytes = match endpoint {
        Some(e) if e.method() == "POST" && method == Method::POST => {
            match read(&state, &headers, body, state.config.max_body_bytes).await {
                Ok(b) => b,
                Err(r) => {
                    state.metrics.request(e.name(), r.status, start.elapsed());
                    return reply(r.echo_request_id(request_id));
                }
            }
        }
        _ => Bytes::new(),
    };
    let pdp = state.pdp();
    let decider = Audited::of(&pdp, &state.config);
    let request = Request {
        method: method.as_str(),
        path: uri.path(),
        host: text(header::HOST),
        content_type: text(header::CONTENT_TYPE),
        request_id,
        body: &bytes,
    };
    let (endpoint, answer) = state.handler.handle(&decider, request);
    if let Some(e) = endpoint {
        state.metrics.request(e.name(), answer.status, start.elapsed());
    }
    reply(answer)
}

async fn metrics(Shared(state): S) -> Response {
    let pdp = state.pdp();
    let info = pdp.bundle_info();
    let text = state.metrics.render(&info.digest, info.label.as_deref());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn healthz() -> Response {
    axum::Json(authz_api::http::health()).into_response()
}

/// The services Cerbos's health check knows and `authz serve` serves: the server as a whole
/// (`""`) and the check API.
pub(crate) const HEALTHY_SERVICES: [&str; 2] = ["", "cerbos.svc.v1.CerbosService"];

/// `GET /_cerbos/health[?service=NAME]`, as `cerbos server` answers it.
async fn cerbos_health(uri: Uri) -> Response {
    let service = uri
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("service="))
        .unwrap_or_default();
    if HEALTHY_SERVICES.contains(&service) {
        axum::Json(json!({ "status": "SERVING" })).into_response()
    } else {
        reply(failure(StatusCode::NOT_FOUND, "unknown service", None))
    }
}

/// `GET /api/server_info`: this authz's version (Cerbos answers its own there).
async fn server_info() -> Response {
    axum::Json(json!({ "version": env!("CARGO_PKG_VERSION"), "commit": "", "buildDate": "" })).into_response()
}

async fn readyz(Shared(state): S) -> Response {
    let pdp = state.pdp();
    let info = pdp.bundle_info();
    let details = authz_api::BundleDetails {
        digest: info.digest.clone(),
        label: info.label.clone(),
        policy_count: info.policy_count,
        engine_version: info.engine_version.clone(),
        reads_clock: info.reads_clock,
    };
    axum::Json(authz_api::http::readiness(&details, info.signature.as_ref())).into_response()
}

fn authorize(state: &State, headers: &HeaderMap) -> Result<(), Answer> {
    let Some(token) = &state.config.admin_token else {
        return Err(failure(StatusCode::NOT_FOUND, "the admin API is disabled: start with --admin-token", None));
    };
    let given =
        headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()).and_then(|h| h.strip_prefix("Bearer "));
    // Constant-time comparison: the token guards bundle replacement.
    let same = given.is_some_and(|g| {
        g.len() == token.len() && g.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    });
    if same {
        Ok(())
    } else {
        Err(failure(StatusCode::UNAUTHORIZED, "missing or wrong bearer token", None))
    }
}

fn swapped(result: Result<authz_wasmtime::BundleInfo, crate::state::ReloadError>) -> Response {
    match result {
        Ok(info) => axum::Json(json!({ "bundleDigest": info.digest, "bundleLabel": info.label })).into_response(),
        Err(e) => reply(failure(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the new bundle was rejected; the old one is still served: {e}"),
            None,
        )),
    }
}

async fn admin_reload(Shared(state): S, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers) {
        return reply(r);
    }
    swapped(state.reload().await)
}

/// Replaces the bundle with the baked component in the body.
async fn admin_bundle(Shared(state): S, headers: HeaderMap, body: Body) -> Response {
    if let Err(r) = authorize(&state, &headers) {
        return reply(r);
    }
    // A component is bigger than a request: allow up to 64 MiB.
    match read(&state, &headers, body, 64 << 20).await {
        Ok(bytes) => swapped(state.replace(Ok(bytes.to_vec())).await),
        Err(r) => reply(r),
    }
}
