//! The `wasi:http` handler: HTTP in, authz-api's handler with the imported PDP as decider,
//! HTTP out.

use authz_api::audit::DecisionRecord;
use authz_api::cerbos::{CheckResourcesRequest, Limits};
use authz_api::http::{Handler, Request, Response};
use authz_api::plan::PlanInput;
use authz_api::{CheckOptions, DecideError, Decider, Decision, Failure, PlanDecision};
use std::time::Instant;
use wasi::http::types::{Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam};

wit_bindgen::generate!({ path: "../wit", world: "gateway" });

authz_api::wit_conversions!(super::authz::pdp::authz);

use authz::pdp::authz as pdp;

/// The runtime named in decision records unless `AUTHZ_RUNTIME` names another (the shipped
/// Spin and wasmCloud manifests do): any `wasi:http` host.
const RUNTIME: &str = "wasi-http";

/// Bytes read from the body stream at a time.
const CHUNK: u64 = 64 * 1024;

struct Gateway;

wasi::http::proxy::export!(Gateway);

impl wasi::exports::http::incoming_handler::Guest for Gateway {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let config = Config::read();
        let answer = answer(&config, &request);
        respond(out, &answer);
    }
}

/// What the environment (or, built with `wasi-config`, the named configuration) configures (see
/// the crate's documentation).
struct Config {
    handler: Handler,
    host_clock: bool,
    globals_json: Option<String>,
    /// The runtime named in decision records.
    runtime: String,
    /// Why the configuration is unusable: every request is then answered 500 with it.
    error: Option<String>,
}

impl Config {
    fn read() -> Config {
        let mut errors = Vec::new();
        let mut var = |name: &str| match setting(name) {
            Ok(v) => v.filter(|v| !v.is_empty()),
            Err(e) => {
                errors.push(format!("{name}: {e}"));
                None
            }
        };
        let settings: std::collections::HashMap<&str, String> =
            SETTINGS.iter().filter_map(|&n| Some((n, var(n)?))).collect();
        let var = |name: &str| settings.get(name).cloned();
        let flag = |name: &str| var(name).is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        let mut number = |name: &str, default: usize| match var(name).map(|v| v.parse::<usize>()) {
            None => default,
            Some(Ok(n)) => n,
            Some(Err(e)) => {
                errors.push(format!("{name}: {e}"));
                default
            }
        };
        let defaults = Limits::default();
        let limits = Limits {
            max_resources: number("AUTHZ_MAX_RESOURCES", defaults.max_resources),
            max_actions: number("AUTHZ_MAX_ACTIONS", defaults.max_actions),
            max_bytes: number("AUTHZ_MAX_BODY_BYTES", defaults.max_bytes),
        };
        let globals_json = var("AUTHZ_GLOBALS");
        if let Some(g) = &globals_json {
            if let Err(e) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(g) {
                errors.push(format!("AUTHZ_GLOBALS is not a JSON object: {e}"));
            }
        }
        Config {
            handler: Handler::new(limits, flag("AUTHZ_ALLOW_REQUEST_OPTIONS")),
            host_clock: !flag("AUTHZ_NO_HOST_CLOCK"),
            globals_json,
            runtime: var("AUTHZ_RUNTIME").unwrap_or_else(|| RUNTIME.to_string()),
            error: (!errors.is_empty()).then(|| format!("the gateway's configuration: {}", errors.join("; "))),
        }
    }
}

/// The settings the gateway reads.
const SETTINGS: [&str; 7] = [
    "AUTHZ_MAX_RESOURCES",
    "AUTHZ_MAX_ACTIONS",
    "AUTHZ_MAX_BODY_BYTES",
    "AUTHZ_GLOBALS",
    "AUTHZ_ALLOW_REQUEST_OPTIONS",
    "AUTHZ_NO_HOST_CLOCK",
    "AUTHZ_RUNTIME",
];

/// A setting, from the environment.
#[cfg(not(feature = "wasi-config"))]
fn setting(name: &str) -> Result<Option<String>, String> {
    Ok(std::env::var(name).ok())
}

/// A setting, from the component's named configuration (`wasi:config/store`): wasmCloud 1.x
/// gives components no environment, and configures them this way.
#[cfg(feature = "wasi-config")]
fn setting(name: &str) -> Result<Option<String>, String> {
    use wasi_config::wasi::config::store;
    store::get(name).map_err(|e| match e {
        store::Error::Upstream(m) | store::Error::Io(m) => format!("wasi:config/store: {m}"),
    })
}

/// `wasi:config/store` as wasmCloud 1.x hosts provide it (the gateway uses `get` alone).
#[cfg(feature = "wasi-config")]
mod wasi_config {
    wit_bindgen::generate!({
        inline: "
            package wasi:config@0.2.0-draft;
            interface store {
                variant error { upstream(string), io(string) }
                get: func(key: string) -> result<option<string>, error>;
            }
            world settings { import store; }
        ",
        world: "wasi:config/settings",
    });
}

/// The answer to one HTTP request.
fn answer(config: &Config, request: &IncomingRequest) -> Response {
    if let Some(e) = &config.error {
        return Response::error(500, e.clone(), None);
    }
    let method = match request.method() {
        Method::Get => "GET".to_string(),
        Method::Post => "POST".to_string(),
        Method::Put => "PUT".to_string(),
        Method::Delete => "DELETE".to_string(),
        Method::Head => "HEAD".to_string(),
        Method::Options => "OPTIONS".to_string(),
        Method::Patch => "PATCH".to_string(),
        Method::Connect => "CONNECT".to_string(),
        Method::Trace => "TRACE".to_string(),
        Method::Other(m) => m,
    };
    let path_and_query = request.path_with_query().unwrap_or_default();
    let path = path_and_query.split('?').next().unwrap_or_default();
    if let Some(answer) = authz_api::http::probe(&method, path, || wit_map::details_from_wit(pdp::bundle_info())) {
        return answer;
    }
    let fields = request.headers();
    let header = |name: &str| fields.get(name).into_iter().next().and_then(|v| String::from_utf8(v).ok());
    let (content_type, request_id) = (header("content-type"), header("x-request-id"));
    let body = if method == "POST" {
        match read_body(request, config.handler.limits().max_bytes) {
            Ok(b) => b,
            Err(answer) => return answer.echo_request_id(request_id.as_deref()),
        }
    } else {
        Vec::new()
    };
    let authority = request.authority();
    let decider = Imported {
        host_clock: config.host_clock,
        globals_json: config.globals_json.as_deref(),
        runtime: &config.runtime,
        reads_clock: std::cell::OnceCell::new(),
    };
    let request = Request {
        method: &method,
        path,
        host: authority.as_deref(),
        content_type: content_type.as_deref(),
        request_id: request_id.as_deref(),
        body: &body,
    };
    config.handler.handle(&decider, request).1
}

/// The request body, at most `limit` bytes (then a 413).
fn read_body(request: &IncomingRequest, limit: usize) -> Result<Vec<u8>, Response> {
    let failed = |what: &str| Response::error(400, format!("the request body could not be read ({what})"), None);
    let body = request.consume().map_err(|()| failed("consumed"))?;
    let stream = body.stream().map_err(|()| failed("no stream"))?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(CHUNK) {
            Ok(chunk) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > limit {
                    let message = format!("the request body is over {limit} bytes");
                    return Err(Response::error(413, message, Some("$".into())));
                }
            }
            Err(wasi::io::streams::StreamError::Closed) => break,
            Err(wasi::io::streams::StreamError::LastOperationFailed(e)) => {
                return Err(failed(&e.to_debug_string()));
            }
        }
    }
    drop(stream);
    let _trailers = wasi::http::types::IncomingBody::finish(body);
    Ok(bytes)
}

/// Writes `answer` as the response.
fn respond(out: ResponseOutparam, answer: &Response) {
    let headers = Fields::new();
    let _ = headers.set("content-type", &[Response::CONTENT_TYPE.as_bytes().to_vec()]);
    for (name, value) in &answer.headers {
        let _ = headers.set(name, &[value.as_bytes().to_vec()]);
    }
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(answer.status);
    let Ok(body) = response.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(response));
    let Ok(stream) = body.write() else {
        return;
    };
    let bytes = answer.body_bytes();
    // `blocking_write_and_flush` takes at most 4096 bytes at a time.
    for chunk in bytes.chunks(4096) {
        if stream.blocking_write_and_flush(chunk).is_err() {
            return;
        }
    }
    drop(stream);
    let _ = OutgoingBody::finish(body, None);
}

/// The imported PDP, as authz-api's decider: fills in what the request leaves to the host (its
/// clock, its configured globals), as `authz serve` does, and writes one audit line per
/// decision on stderr.
struct Imported<'a> {
    host_clock: bool,
    globals_json: Option<&'a str>,
    runtime: &'a str,
    /// Whether the bundle reads the time: asked of the PDP once per HTTP request, not once per
    /// decision (an AuthZEN batch decides up to its limit).
    reads_clock: std::cell::OnceCell<bool>,
}

impl Decider for Imported<'_> {
    fn decide(&self, request: &CheckResourcesRequest, options: &CheckOptions) -> Result<Decision, DecideError> {
        let start = Instant::now();
        let mut typed = wit_map::request_to_wit(request, options);
        self.fill_in(&mut typed.options);
        let decision = match pdp::check_resources(&typed) {
            Ok(response) => wit_map::response_from_wit(response),
            Err(e) => return Err(pdp_error(e)),
        };
        for record in DecisionRecord::of_decision(request, &decision, self.runtime, start.elapsed()) {
            eprintln!("{}", record.to_line());
        }
        Ok(decision)
    }
    fn actions(&self, kind: &str) -> Result<Vec<String>, DecideError> {
        pdp::actions(kind).map_err(pdp_error)
    }

    fn plan(&self, input: &PlanInput, options: &CheckOptions) -> Result<PlanDecision, DecideError> {
        let start = Instant::now();
        let mut typed = wit_map::plan_request_to_wit(input, options);
        self.fill_in(&mut typed.options);
        let response = pdp::plan_resources(&typed).map_err(pdp_error)?;
        let plan = wit_map::plan_response_from_wit(response).map_err(|e| DecideError::runtime(Failure::Internal, e))?;
        for record in DecisionRecord::of_plan(input, &plan, self.runtime, start.elapsed()) {
            eprintln!("{}", record.to_line());
        }
        Ok(plan)
    }
}

impl Imported<'_> {
    /// What the request leaves to the host: its clock (when the bundle reads the time), its
    /// configured globals.
    fn fill_in(&self, options: &mut pdp::CheckOptions) {
        if options.now.is_none() && self.host_clock && *self.reads_clock.get_or_init(|| pdp::bundle_info().reads_clock)
        {
            let now = chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now());
            options.now = Some(now.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
        }
        if options.globals_json.is_none() {
            options.globals_json = self.globals_json.map(str::to_string);
        }
    }
}

/// The imported PDP's error: the request's, or why it cannot decide.
fn pdp_error(e: pdp::Error) -> DecideError {
    match wit_map::error_from_wit(e) {
        Ok(request_error) => DecideError::Request(request_error),
        Err(reason) => DecideError::runtime(Failure::Unavailable, reason),
    }
}
