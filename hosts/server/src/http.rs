//! Routes: Cerbos CheckResources, OpenID AuthZEN 1.0, health, metrics, admin. Handlers only
//! translate (through the engine's `wire` and `authzen` mappings) and call the component.

use crate::metrics::ENDPOINTS;
use crate::state::State;
use authz_engine::wire::{self, CheckResourcesRequest, Limits};
use authz_engine::{authzen, CheckOptions, CheckOutput, RequestError};
use authz_wasmtime::{convert, HostError, Pdp};
use axum::body::{Body, Bytes};
use axum::extract::State as Shared;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

type S = Shared<Arc<State>>;

pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/api/check/resources", post(check_resources))
        .route("/access/v1/evaluation", post(evaluation))
        .route("/access/v1/evaluations", post(evaluations))
        .route("/.well-known/authzen-configuration", get(authzen_configuration))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/admin/reload", post(admin_reload))
        .route("/admin/bundle", put(admin_bundle))
        .fallback(not_found)
        // Bodies are read with our own limit (see `body`), to answer a JSON error.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}

/// A failed request: status and a JSON body `{"code", "message", "path"?}` (Cerbos-style codes).
struct Failure {
    status: StatusCode,
    message: String,
    path: Option<String>,
}

impl Failure {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Failure { status, message: message.into(), path: None }
    }
}

impl From<RequestError> for Failure {
    fn from(e: RequestError) -> Self {
        let status = match e {
            RequestError::Invalid { .. } => StatusCode::BAD_REQUEST,
            RequestError::Limit { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        };
        Failure { status, path: Some(e.path().to_string()), message: e.to_string() }
    }
}

impl From<HostError> for Failure {
    fn from(e: HostError) -> Self {
        let status = match &e {
            HostError::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            HostError::RequestTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            // The request made the decision overrun its budget: the caller's input, not us.
            HostError::Timeout(_) | HostError::OutOfFuel | HostError::MemoryLimit(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            HostError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            HostError::Load(_) | HostError::BundleUnavailable(_) | HostError::Trap(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let path = match &e {
            HostError::InvalidRequest { json_path, .. } => json_path.clone(),
            _ => None,
        };
        Failure { status, message: e.to_string(), path }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let code = match self.status {
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => 3,
            StatusCode::PAYLOAD_TOO_LARGE => 8,
            StatusCode::UNAUTHORIZED => 16,
            StatusCode::NOT_FOUND => 5,
            StatusCode::SERVICE_UNAVAILABLE => 14,
            _ => 13,
        };
        let mut body = serde_json::Map::new();
        body.insert("code".into(), code.into());
        body.insert("message".into(), self.message.into());
        if let Some(p) = self.path {
            body.insert("path".into(), p.into());
        }
        (self.status, axum::Json(body)).into_response()
    }
}

/// Reads a body up to the configured limit as UTF-8 text.
async fn text(state: &State, headers: &HeaderMap, body: Body) -> Result<String, Failure> {
    let bytes = read(state, headers, body, state.config.max_body_bytes).await?;
    String::from_utf8(bytes.to_vec()).map_err(|_| Failure {
        status: StatusCode::BAD_REQUEST,
        message: "the body is not UTF-8 text".into(),
        path: Some("$".into()),
    })
}

/// Reads a body of at most `limit` bytes within the body time limit. A larger declared
/// `Content-Length` is refused before reading any of it.
async fn read(state: &State, headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, Failure> {
    let too_large = || Failure {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        message: format!("the body is larger than the limit of {limit} bytes"),
        path: Some("$".into()),
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
        Err(_) => Err(Failure::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the body did not arrive within {} ms", timeout.as_millis()),
        )),
    }
}

fn limits(state: &State) -> Limits {
    Limits {
        max_resources: state.config.max_resources,
        max_actions: state.config.max_actions,
        max_bytes: state.config.max_body_bytes,
    }
}

/// Options every request starts from: the server's globals; `now` from the host clock.
fn base_options(state: &State) -> CheckOptions {
    CheckOptions { globals: state.config.globals.clone(), ..CheckOptions::default() }
}

/// Runs one Cerbos request through the component (on this worker, which may block briefly).
/// Under `--audit-required`, a decision whose record could not be written is not answered.
fn decide(
    state: &State,
    pdp: &Pdp,
    req: &CheckResourcesRequest,
    opts: &CheckOptions,
) -> Result<(Vec<CheckOutput>, String, Option<String>), Failure> {
    let typed = convert::request(req, opts).map_err(|e| Failure::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let (response, audited) = tokio::task::block_in_place(|| crate::audit::call_audited(|| pdp.check(&typed)));
    let response = response?;
    if state.config.audit_required && !audited {
        return Err(Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the decision could not be written to the audit log, which this server requires (--audit-required)",
        ));
    }
    let (digest, label) = (response.bundle_digest.clone(), response.bundle_label.clone());
    Ok((convert::outputs(response), digest, label))
}

/// Times a handler and counts its status under `endpoint`.
async fn measured(
    state: &State,
    endpoint: &'static str,
    work: impl std::future::Future<Output = Result<Value, Failure>>,
) -> Response {
    debug_assert!(ENDPOINTS.contains(&endpoint));
    let start = Instant::now();
    let response = match work.await {
        Ok(v) => axum::Json(v).into_response(),
        Err(f) => f.into_response(),
    };
    state.metrics.request(endpoint, response.status().as_u16(), start.elapsed());
    response
}

async fn check_resources(Shared(state): S, headers: HeaderMap, body: Body) -> Response {
    let s = state.clone();
    measured(&state, "check_resources", async move {
        let text = text(&s, &headers, body).await?;
        let (req, opts) = wire::decode_request_with_options(&text, &limits(&s), &base_options(&s))?;
        if req.authz_options.is_some() && !s.config.request_options {
            return Err(Failure {
                status: StatusCode::BAD_REQUEST,
                message: "this server decides with its operator's options; start it with --allow-request-options \
                          to let requests set `authzOptions`"
                    .into(),
                path: Some("$.authzOptions".into()),
            });
        }
        let pdp = s.pdp();
        let (outputs, digest, label) = decide(&s, &pdp, &req, &opts)?;
        Ok(wire::encode_response(&req, &outputs, &digest, label.as_deref()))
    })
    .await
}

fn evaluate(
    state: &State,
    pdp: &Pdp,
    eval: &authzen::Evaluation,
    opts: &CheckOptions,
) -> Result<(bool, Value), Failure> {
    let (outputs, digest, label) = decide(state, pdp, &eval.request, opts)?;
    let Some(output) = outputs.first() else {
        return Err(Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "the component answered no result"));
    };
    let decision = authzen::encode_decision(eval, output, &digest, label.as_deref());
    Ok((decision.get("decision") == Some(&Value::Bool(true)), decision))
}

async fn evaluation(Shared(state): S, headers: HeaderMap, body: Body) -> Response {
    let s = state.clone();
    measured(&state, "authzen_evaluation", async move {
        let text = text(&s, &headers, body).await?;
        let eval = authzen::decode_evaluation(&text, &limits(&s))?;
        Ok(evaluate(&s, &s.pdp(), &eval, &base_options(&s))?.1)
    })
    .await
}

async fn evaluations(Shared(state): S, headers: HeaderMap, body: Body) -> Response {
    let s = state.clone();
    measured(&state, "authzen_evaluations", async move {
        let text = text(&s, &headers, body).await?;
        let batch = authzen::decode_evaluations(&text, &limits(&s))?;
        // One bundle answers the whole batch, even if a reload lands meanwhile.
        let pdp = s.pdp();
        let opts = base_options(&s);
        let mut decisions = Vec::with_capacity(batch.items.len());
        for eval in &batch.items {
            let (allowed, decision) = evaluate(&s, &pdp, eval, &opts)?;
            decisions.push(decision);
            if batch.semantic.stops_after(allowed) {
                break;
            }
        }
        if batch.single {
            return Ok(decisions.pop().unwrap_or(Value::Null));
        }
        Ok(json!({ "evaluations": decisions }))
    })
    .await
}

async fn authzen_configuration(headers: HeaderMap) -> Response {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:3592");
    axum::Json(authzen::configuration(&format!("http://{host}"))).into_response()
}

async fn metrics(Shared(state): S) -> Response {
    let pdp = state.pdp();
    let info = pdp.bundle_info();
    let text = state.metrics.render(&info.digest, info.label.as_deref());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn healthz() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

async fn readyz(Shared(state): S) -> Response {
    let pdp = state.pdp();
    let info = pdp.bundle_info();
    axum::Json(json!({
        "status": "ready",
        "bundleDigest": info.digest,
        "bundleLabel": info.label,
        "policyCount": info.policy_count,
        "engineVersion": info.engine_version,
        "readsClock": info.reads_clock,
        "signature": info.signature.as_ref().map(|s| json!({ "keyId": s.key_id, "value": s.value })),
    }))
    .into_response()
}

fn authorize(state: &State, headers: &HeaderMap) -> Result<(), Failure> {
    let Some(token) = &state.config.admin_token else {
        return Err(Failure::new(StatusCode::NOT_FOUND, "the admin API is disabled: start with --admin-token"));
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
        Err(Failure::new(StatusCode::UNAUTHORIZED, "missing or wrong bearer token"))
    }
}

fn swapped(result: Result<authz_wasmtime::BundleInfo, String>) -> Response {
    match result {
        Ok(info) => axum::Json(json!({ "bundleDigest": info.digest, "bundleLabel": info.label })).into_response(),
        Err(e) => Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the new bundle was rejected; the old one is still served: {e}"),
        )
        .into_response(),
    }
}

async fn admin_reload(Shared(state): S, headers: HeaderMap) -> Response {
    if let Err(f) = authorize(&state, &headers) {
        return f.into_response();
    }
    swapped(state.reload().await)
}

/// Replaces the bundle with the baked component in the body.
async fn admin_bundle(Shared(state): S, headers: HeaderMap, body: Body) -> Response {
    if let Err(f) = authorize(&state, &headers) {
        return f.into_response();
    }
    // A component is bigger than a request: allow up to 64 MiB.
    match read(&state, &headers, body, 64 << 20).await {
        Ok(bytes) => swapped(state.replace(Ok(bytes.to_vec())).await),
        Err(f) => f.into_response(),
    }
}

async fn not_found() -> Response {
    Failure::new(StatusCode::NOT_FOUND, "no such endpoint").into_response()
}
