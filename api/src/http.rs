//! The PDP's HTTP API, transport-neutral: `(method, path, host, body) → (status, body)`.
//!
//! Every route a PDP answers with a decision (Cerbos CheckResources, AuthZEN 1.0 evaluation and
//! evaluations, the AuthZEN discovery document), every request limit, every error → status
//! mapping and `{code, message, path}` body, and the AuthZEN batch semantics live here once. A
//! host (axum in `authz serve`, a `wasi:http` gateway) reads the body within its own size and
//! time bounds, calls [`Handler::handle`] with its [`Decider`], and writes the answer back.

use crate::cerbos::{self, Limits};
use crate::error::RequestError;
use crate::model::CheckOptions;
use crate::{authzen, DecideError, Decider, Failure};
use serde_json::{json, Value};

/// `GET /healthz`: the process answers.
pub fn health() -> Value {
    json!({ "status": "ok" })
}

/// `GET /readyz`: the bundle being served, and who signed it when it is signed.
pub fn readiness(details: &crate::BundleDetails, signature: Option<&crate::audit::Signature>) -> Value {
    json!({
        "status": "ready",
        "bundleDigest": details.digest,
        "bundleLabel": details.label,
        "policyCount": details.policy_count,
        "engineVersion": details.engine_version,
        "readsClock": details.reads_clock,
        "signature": signature.map(|s| json!({ "keyId": s.key_id, "value": s.value })),
    })
}

/// `GET /healthz` and `GET /readyz` for a host that routes them beside the API without a
/// signature to show (the `wasi:http` gateway, the component's own `handle-http`); `None` for
/// any other request. `details` is asked only for `/readyz`.
pub fn probe(method: &str, path: &str, details: impl FnOnce() -> crate::BundleDetails) -> Option<Response> {
    match (method, path) {
        ("GET", "/healthz") => Some(Response::ok(health())),
        ("GET", "/readyz") => Some(Response::ok(readiness(&details(), None))),
        _ => None,
    }
}

/// The routes [`Handler`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /api/check/resources`: Cerbos CheckResources.
    CheckResources,
    /// `POST /access/v1/evaluation`: one AuthZEN evaluation.
    Evaluation,
    /// `POST /access/v1/evaluations`: an AuthZEN batch.
    Evaluations,
    /// `GET /.well-known/authzen-configuration`: AuthZEN discovery.
    Configuration,
    /// `POST /access/v1/search/action`: the actions an AuthZEN subject may perform on a resource.
    SearchAction,
    /// `POST /api/plan/resources`: Cerbos PlanResources (query planning).
    PlanResources,
}

impl Endpoint {
    /// Every endpoint, for hosts that count requests per endpoint.
    pub const ALL: [Endpoint; 6] = [
        Endpoint::CheckResources,
        Endpoint::PlanResources,
        Endpoint::Evaluation,
        Endpoint::Evaluations,
        Endpoint::Configuration,
        Endpoint::SearchAction,
    ];

    /// The endpoint at `path`, whatever the method.
    pub fn at(path: &str) -> Option<Endpoint> {
        Some(match path {
            "/api/check/resources" => Endpoint::CheckResources,
            "/api/plan/resources" => Endpoint::PlanResources,
            "/access/v1/evaluation" => Endpoint::Evaluation,
            "/access/v1/evaluations" => Endpoint::Evaluations,
            "/.well-known/authzen-configuration" => Endpoint::Configuration,
            "/access/v1/search/action" => Endpoint::SearchAction,
            _ => return None,
        })
    }

    /// The method it answers.
    pub fn method(self) -> &'static str {
        match self {
            Endpoint::Configuration => "GET",
            _ => "POST",
        }
    }

    /// Its name in metrics (`check_resources`, `authzen_evaluation`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::CheckResources => "check_resources",
            Endpoint::Evaluation => "authzen_evaluation",
            Endpoint::Evaluations => "authzen_evaluations",
            Endpoint::Configuration => "authzen_configuration",
            Endpoint::SearchAction => "authzen_search_action",
            Endpoint::PlanResources => "plan_resources",
        }
    }
}

/// One HTTP request, as much of it as the API reads.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path, without the query string.
    pub path: &'a str,
    /// The `Host` header, for the discovery document's URLs.
    pub host: Option<&'a str>,
    /// The `Content-Type` header: AuthZEN requests must be `application/json`.
    pub content_type: Option<&'a str>,
    /// The `X-Request-ID` header, echoed in the answer's headers.
    pub request_id: Option<&'a str>,
    /// The body, already read within the host's bounds.
    pub body: &'a [u8],
}

/// The answer: a status, headers beyond `Content-Type`, and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers to send besides `Content-Type` (every body is JSON): `X-Request-ID`, echoed.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Value,
}

impl Response {
    /// `Content-Type` of every body.
    pub const CONTENT_TYPE: &'static str = "application/json";

    fn ok(body: Value) -> Self {
        Response { status: 200, headers: Vec::new(), body }
    }

    /// An error answer: `{"code", "message", "path"?}` with Cerbos's (gRPC) code for `status`.
    pub fn error(status: u16, message: impl Into<String>, path: Option<String>) -> Self {
        let code = match status {
            400 | 422 => 3,
            413 => 8,
            401 => 16,
            404 => 5,
            405 => 12,
            503 => 14,
            408 => 4,
            _ => 13,
        };
        let mut body = serde_json::Map::new();
        body.insert("code".into(), code.into());
        body.insert("message".into(), message.into().into());
        if let Some(p) = path {
            body.insert("path".into(), p.into());
        }
        Response { status, headers: Vec::new(), body: Value::Object(body) }
    }

    /// The same error as the AuthZEN spec shapes it: the body is the error message, a string
    /// (the JSON path, when there is one, is in it).
    fn into_authzen_error(mut self) -> Self {
        if self.status >= 400 {
            let message = self.body.get("message").and_then(Value::as_str).unwrap_or("error").to_string();
            self.body = Value::String(message);
        }
        self
    }

    /// The same answer echoing `request_id` (a request's `X-Request-ID`) when there is one:
    /// what [`Handler::handle`] does to every answer, for a host's own answers (a body it could
    /// not read) to do the same.
    #[must_use]
    pub fn echo_request_id(mut self, request_id: Option<&str>) -> Self {
        if let Some(id) = request_id {
            self.headers.push(("X-Request-ID".into(), id.into()));
        }
        self
    }

    /// The body as bytes.
    pub fn body_bytes(&self) -> Vec<u8> {
        self.body.to_string().into_bytes()
    }
}

impl From<RequestError> for Response {
    fn from(e: RequestError) -> Self {
        let status = match e {
            RequestError::Invalid { .. } => 400,
            RequestError::Limit { .. } => 413,
        };
        Response::error(status, e.to_string(), Some(e.path().to_string()))
    }
}

impl From<DecideError> for Response {
    fn from(e: DecideError) -> Self {
        match e {
            DecideError::Request(r) => r.into(),
            DecideError::Runtime { failure, source } => {
                let status = match failure {
                    Failure::Overrun => 422,
                    Failure::Busy | Failure::Unavailable => 503,
                    Failure::Internal => 500,
                };
                Response::error(status, source.to_string(), None)
            }
        }
    }
}

/// The request handler, configured once per server.
#[derive(Debug, Clone, PartialEq)]
pub struct Handler {
    limits: Limits,
    request_options: bool,
    defaults: CheckOptions,
}

impl Handler {
    /// A handler with these request limits. With `request_options`, Cerbos requests may set
    /// evaluation options in `authzOptions`; without, such a request is refused (the operator's
    /// options decide).
    pub fn new(limits: Limits, request_options: bool) -> Self {
        Handler { limits, request_options, defaults: CheckOptions::default() }
    }

    /// The same handler deciding under `defaults` (the host's globals, default policy version
    /// and scope, scope search, schema enforcement, strictness, `now`) wherever a request does
    /// not set its own: every Cerbos request without `authzOptions` and every AuthZEN evaluation.
    #[must_use]
    pub fn with_defaults(mut self, defaults: CheckOptions) -> Self {
        self.defaults = defaults;
        self
    }

    /// The limits requests are held to.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Answers `request` with `decider`; also says which endpoint answered (`None`: no route).
    /// Every answer echoes the request's `X-Request-ID`.
    pub fn handle(&self, decider: &dyn Decider, request: Request<'_>) -> (Option<Endpoint>, Response) {
        let (endpoint, answer) = self.route(decider, request);
        (endpoint, answer.echo_request_id(request.request_id))
    }

    fn route(&self, decider: &dyn Decider, request: Request<'_>) -> (Option<Endpoint>, Response) {
        let Some(endpoint) = Endpoint::at(request.path) else {
            return (None, Response::error(404, "no such endpoint", None));
        };
        let authzen = !matches!(endpoint, Endpoint::CheckResources | Endpoint::PlanResources);
        if request.method != endpoint.method() {
            let message = format!("`{}` answers {} only", request.path, endpoint.method());
            let answer = Response::error(405, message, None);
            return (Some(endpoint), if authzen { answer.into_authzen_error() } else { answer });
        }
        let answer = match endpoint {
            Endpoint::Configuration => Ok(Response::ok(authzen::configuration(&format!(
                "http://{}",
                request.host.unwrap_or("127.0.0.1:3592")
            )))),
            // The AuthZEN HTTPS binding: requests are `application/json`.
            _ if authzen && !is_json(request.content_type) => Err(Response::error(
                400,
                format!(
                    "the request's Content-Type must be application/json, not {}",
                    request.content_type.map_or_else(|| "absent".to_string(), |t| format!("`{t}`"))
                ),
                None,
            )),
            _ => match std::str::from_utf8(request.body) {
                Err(_) => Err(Response::error(400, "the body is not UTF-8 text", Some("$".into()))),
                Ok(text) => match endpoint {
                    Endpoint::CheckResources => self.check_resources(decider, text),
                    Endpoint::PlanResources => self.plan_resources(decider, text),
                    Endpoint::Evaluation => self.evaluation(decider, text, false),
                    Endpoint::SearchAction => self.search_action(decider, text),
                    _ => self.evaluation(decider, text, true),
                },
            },
        };
        let answer = answer.unwrap_or_else(|e| e);
        (Some(endpoint), if authzen { answer.into_authzen_error() } else { answer })
    }

    /// Refuses a request's `authzOptions` unless requests may set options.
    fn request_options(&self, given: bool) -> Result<(), Response> {
        if given && !self.request_options {
            return Err(Response::error(
                400,
                "this server decides with its operator's options; start it with --allow-request-options to let \
                 requests set `authzOptions`",
                Some("$.authzOptions".into()),
            ));
        }
        Ok(())
    }

    fn check_resources(&self, decider: &dyn Decider, text: &str) -> Result<Response, Response> {
        let (req, opts) = cerbos::decode_request_with_options(text, &self.limits, &self.defaults)?;
        self.request_options(req.authz_options.is_some())?;
        let d = cerbos::decide(decider, &req, &opts)?;
        Ok(Response::ok(cerbos::encode_response(&req, &d.outputs, &d.bundle_digest, d.bundle_label.as_deref())))
    }

    /// A PlanResources request: Cerbos's response JSON with `bundleDigest`.
    fn plan_resources(&self, decider: &dyn Decider, text: &str) -> Result<Response, Response> {
        let (req, opts) = crate::plan::decode_plan_request(text, &self.limits, &self.defaults)?;
        self.request_options(req.authz_options.is_some())?;
        let include_meta = req.include_meta;
        let d = decider.plan(&req.into_input(), &opts)?;
        Ok(Response::ok(crate::plan::encode_plan_response(&d.output, include_meta, &d.bundle_digest)))
    }

    /// An Action Search request: every action the bundle names for the resource's kind is
    /// decided as an evaluation of it (audited like any), and the allowed ones are the results,
    /// in name order. An action only a wildcard rule allows is not among the candidates.
    fn search_action(&self, decider: &dyn Decider, text: &str) -> Result<Response, Response> {
        let search = authzen::decode_action_search(text, &self.limits)?;
        let candidates = decider.actions(search.kind())?;
        let items: Vec<_> = candidates.iter().map(|a| Ok(search.evaluation(a))).collect();
        let decisions = authzen::decide_all(decider, &self.defaults, &items, &self.limits)?;
        let mut results = Vec::new();
        for (action, decision) in candidates.iter().zip(decisions) {
            // A request the decider refuses (a repeated role) is the search's error.
            if decision?.get("decision") == Some(&Value::Bool(true)) {
                results.push(json!({ "name": action }));
            }
        }
        Ok(Response::ok(json!({ "results": results })))
    }

    /// An Access Evaluation (`batch`: Access Evaluations) request.
    fn evaluation(&self, decider: &dyn Decider, text: &str, batch: bool) -> Result<Response, Response> {
        let batch = if batch {
            authzen::decode_evaluations(text, &self.limits)?
        } else {
            let item = authzen::decode_evaluation(text, &self.limits)?;
            authzen::Evaluations { items: vec![Ok(item)], semantic: authzen::Semantic::ExecuteAll, single: true }
        };
        let decided = |d: &Result<Value, _>| matches!(d, Ok(v) if v.get("decision") == Some(&Value::Bool(true)));
        let mut decisions = if batch.semantic == authzen::Semantic::ExecuteAll {
            authzen::decide_all(decider, &self.defaults, &batch.items, &self.limits)?
        } else {
            // A short-circuiting batch is decided one evaluation at a time, in order: nothing
            // past where its semantic stops is decided, or audited.
            let mut decisions = Vec::with_capacity(batch.items.len());
            for item in &batch.items {
                let one = authzen::decide_all(decider, &self.defaults, std::slice::from_ref(item), &self.limits)?;
                let stop = one.iter().any(|d| batch.semantic.stops_after(decided(d)));
                decisions.extend(one);
                if stop {
                    break;
                }
            }
            decisions
        };
        if batch.single {
            // A single evaluation that cannot be decided is the request's error.
            return match decisions.pop() {
                Some(Ok(d)) => Ok(Response::ok(d)),
                Some(Err(e)) => Err(e.into()),
                None => Ok(Response::ok(json!({ "decision": false }))),
            };
        }
        let decisions: Vec<Value> =
            decisions.iter().map(|d| d.as_ref().map_or_else(authzen::error_decision, Value::clone)).collect();
        Ok(Response::ok(json!({ "evaluations": decisions })))
    }
}

/// Whether a `Content-Type` is JSON's: `application/json`, in any case, parameters allowed.
fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .is_some_and(|t| t.split(';').next().is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json")))
}
