//! Cerbos's gRPC API, `cerbos.svc.v1.CerbosService` (`CheckResources`, `PlanResources`,
//! `ServerInfo`), and gRPC
//! health checking (`grpc.health.v1.Health`), on the message types of the Rust Cerbos SDK
//! (crate `cerbos`, generated from Cerbos's own protos).
//!
//! A check (or a plan) is the HTTP API's: the message becomes the Cerbos JSON a client would have posted
//! and goes to the same [`authz_api::http::Handler`] with the same decider, so limits, options,
//! errors, decisions, audit records and metrics are the HTTP endpoint's. Its answer comes back
//! as the response message; the deciding bundle's digest (which the message has no field for)
//! is the `authz-bundle-digest` response header.

use crate::http::Audited;
use crate::state::State;
use authz_api::http::{Endpoint, Request};
use cerbos::genpb::cerbos::effect::v1::Effect;
use cerbos::genpb::cerbos::engine::v1::plan_resources_filter::expression::{operand::Node, Operand};
use cerbos::genpb::cerbos::engine::v1::plan_resources_filter::{Expression, Kind as FilterKind};
use cerbos::genpb::cerbos::engine::v1::PlanResourcesFilter;
use cerbos::genpb::cerbos::engine::v1::{OutputEntry, Principal, Resource};
use cerbos::genpb::cerbos::request::v1::{AuxData, CheckResourcesRequest, PlanResourcesRequest, ServerInfoRequest};
use cerbos::genpb::cerbos::response::v1::check_resources_response::result_entry::{
    meta::EffectMeta, Meta, Resource as ResourceEcho,
};
use cerbos::genpb::cerbos::response::v1::check_resources_response::ResultEntry;
use cerbos::genpb::cerbos::response::v1::plan_resources_response::Meta as PlanMeta;
use cerbos::genpb::cerbos::response::v1::{CheckResourcesResponse, PlanResourcesResponse, ServerInfoResponse};
use cerbos::genpb::cerbos::schema::v1::{validation_error::Source, ValidationError};
use cerbos::genpb::google::protobuf::{value::Kind, ListValue, Struct, Value as Proto};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tonic::body::Body;
use tonic::codegen::{http, Service, StdError};
use tonic::{Code, Status};

/// The service's full name, as routed and as health checking names it.
const SERVICE: &str = "cerbos.svc.v1.CerbosService";

/// Serves the gRPC API on `listener` until the process stops.
pub(crate) async fn serve(listener: tokio::net::TcpListener, state: Arc<State>) -> Result<(), tonic::transport::Error> {
    let (reporter, health) = tonic_health::server::health_reporter();
    for service in crate::http::HEALTHY_SERVICES {
        reporter.set_service_status(service, tonic_health::ServingStatus::Serving).await;
    }
    let max = state.config.max_body_bytes;
    tonic::transport::Server::builder()
        .add_service(health)
        .add_service(CerbosService { state, max })
        // Without TCP_NODELAY a small answer waits for the client's delayed ACK (~40 ms).
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)))
        .await
}

/// `cerbos.svc.v1.CerbosService`: what tonic would generate for its server side, which the
/// SDK's generated code leaves out, for the two methods served.
#[derive(Clone)]
struct CerbosService {
    state: Arc<State>,
    /// Largest request message, in bytes (the HTTP API's body limit).
    max: usize,
}

impl tonic::server::NamedService for CerbosService {
    const NAME: &'static str = SERVICE;
}

type Answer = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

impl<B> Service<http::Request<B>> for CerbosService
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Answer {
        let (state, max) = (self.state.clone(), self.max);
        match request.uri().path() {
            "/cerbos.svc.v1.CerbosService/CheckResources" => unary(Method(state, check_resources), Some(max), request),
            "/cerbos.svc.v1.CerbosService/PlanResources" => unary(Method(state, plan_resources), Some(max), request),
            "/cerbos.svc.v1.CerbosService/ServerInfo" => unary(Method(state, server_info), None, request),
            _ => Box::pin(async {
                Ok(Status::unimplemented("authz serves CheckResources, PlanResources and ServerInfo").into_http())
            }),
        }
    }
}

/// Serves `request` with `method`, its message at most `max` bytes (tonic's default without).
fn unary<Q, R, B>(method: Method<Q, R>, max: Option<usize>, request: http::Request<B>) -> Answer
where
    Q: tonic_prost::prost::Message + Default + Send + 'static,
    R: tonic_prost::prost::Message + Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    Box::pin(async move {
        let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
        if max.is_some() {
            grpc = grpc.apply_max_message_size_config(max, None);
        }
        Ok(grpc.unary(method, request).await)
    })
}

/// One unary method: a function of the shared state and the request.
struct Method<Q, R>(Arc<State>, fn(&State, tonic::Request<Q>) -> Result<tonic::Response<R>, Status>);

impl<Q: Send + 'static, R: Send + 'static> tonic::server::UnaryService<Q> for Method<Q, R> {
    type Response = R;
    type Future = Pin<Box<dyn Future<Output = Result<tonic::Response<R>, Status>> + Send>>;

    fn call(&mut self, request: tonic::Request<Q>) -> Self::Future {
        let (state, f) = (self.0.clone(), self.1);
        Box::pin(async move { f(&state, request) })
    }
}

fn server_info(
    _state: &State,
    _: tonic::Request<ServerInfoRequest>,
) -> Result<tonic::Response<ServerInfoResponse>, Status> {
    Ok(tonic::Response::new(ServerInfoResponse {
        // As `GET /api/server_info` answers.
        version: env!("CARGO_PKG_VERSION").into(),
        commit: String::new(),
        build_date: String::new(),
    }))
}

/// Decides as `POST /api/check/resources` does (on this worker, which may block briefly).
fn check_resources(
    state: &State,
    request: tonic::Request<CheckResourcesRequest>,
) -> Result<tonic::Response<CheckResourcesResponse>, Status> {
    let body = request_json(request.get_ref());
    answer(state, &request, Endpoint::CheckResources, "/api/check/resources", &body, response_message)
}

/// Plans as `POST /api/plan/resources` does.
fn plan_resources(
    state: &State,
    request: tonic::Request<PlanResourcesRequest>,
) -> Result<tonic::Response<PlanResourcesResponse>, Status> {
    let body = plan_request_json(request.get_ref());
    answer(state, &request, Endpoint::PlanResources, "/api/plan/resources", &body, plan_message)
}

/// The HTTP API's answer to `body` at `path`, as the response message `message` makes of it,
/// with the bundle digest and the request ID as headers.
fn answer<Q, R>(
    state: &State,
    request: &tonic::Request<Q>,
    endpoint: Endpoint,
    path: &str,
    body: &Value,
    message: fn(&Value) -> R,
) -> Result<tonic::Response<R>, Status> {
    let start = Instant::now();
    let request_id = request.metadata().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = body.to_string();
    let pdp = state.pdp();
    let decider = Audited::of(&pdp, &state.config);
    let (_, answer) = state.handler.handle(
        &decider,
        Request {
            method: "POST",
            path,
            host: None,
            content_type: Some(authz_api::http::Response::CONTENT_TYPE),
            request_id: request_id.as_deref(),
            body: body.as_bytes(),
        },
    );
    state.metrics.request(endpoint.name(), answer.status, start.elapsed());
    if answer.status != 200 {
        return Err(status(answer.status, &answer.body));
    }
    let digest = answer.body.get("bundleDigest").and_then(Value::as_str).unwrap_or_default().to_string();
    let mut response = tonic::Response::new(message(&answer.body));
    let headers = response.metadata_mut();
    if let Ok(v) = digest.parse() {
        headers.insert("authz-bundle-digest", v);
    }
    if let Some(v) = request_id.and_then(|id| id.parse().ok()) {
        headers.insert("x-request-id", v);
    }
    Ok(response)
}

/// The gRPC status of an error answer (`{code, message, path}`, `code` being gRPC's already).
fn status(http: u16, body: &Value) -> Status {
    let message = body.get("message").and_then(Value::as_str).unwrap_or("error");
    let message = match body.get("path").and_then(Value::as_str) {
        Some(path) => format!("{message} (at {path})"),
        None => message.to_string(),
    };
    // A code the body does not carry (or carries as OK) is the HTTP status's.
    let code = match body.get("code").and_then(Value::as_i64).and_then(|c| i32::try_from(c).ok()).map(Code::from) {
        Some(code) if code != Code::Ok => code,
        _ if http == 503 => Code::Unavailable,
        _ => Code::Internal,
    };
    Status::new(code, message)
}

/// The Cerbos JSON that says what `m` says: proto3's defaults (empty strings, `false`, absent
/// messages) are left out, as Cerbos's JSON mapping of the same message leaves them out.
fn request_json(m: &CheckResourcesRequest) -> Value {
    let mut out = Map::new();
    text(&mut out, "requestId", &m.request_id);
    if m.include_meta {
        out.insert("includeMeta".into(), true.into());
    }
    if let Some(p) = &m.principal {
        out.insert("principal".into(), principal_json(p));
    }
    let resources: Vec<Value> = m
        .resources
        .iter()
        .map(|entry| {
            let mut e = Map::new();
            e.insert("actions".into(), json!(entry.actions));
            if let Some(r) = &entry.resource {
                e.insert("resource".into(), resource_json(r));
            }
            Value::Object(e)
        })
        .collect();
    out.insert("resources".into(), resources.into());
    aux_json(&mut out, m.aux_data.as_ref());
    Value::Object(out)
}

fn plan_request_json(m: &PlanResourcesRequest) -> Value {
    let mut out = Map::new();
    text(&mut out, "requestId", &m.request_id);
    #[expect(deprecated, reason = "Cerbos's older single action, which clients may still send")]
    text(&mut out, "action", &m.action);
    if !m.actions.is_empty() {
        out.insert("actions".into(), json!(m.actions));
    }
    if m.include_meta {
        out.insert("includeMeta".into(), true.into());
    }
    if let Some(p) = &m.principal {
        out.insert("principal".into(), principal_json(p));
    }
    if let Some(r) = &m.resource {
        let mut res = Map::new();
        text(&mut res, "kind", &r.kind);
        text(&mut res, "policyVersion", &r.policy_version);
        attributes(&mut res, &r.attr);
        text(&mut res, "scope", &r.scope);
        out.insert("resource".into(), Value::Object(res));
    }
    aux_json(&mut out, m.aux_data.as_ref());
    Value::Object(out)
}

/// A request's `auxData` (its signed token, the only part Cerbos reads).
fn aux_json(out: &mut Map<String, Value>, aux: Option<&AuxData>) {
    if let Some(jwt) = aux.and_then(|a| a.jwt.as_ref()) {
        let mut j = Map::new();
        text(&mut j, "token", &jwt.token);
        text(&mut j, "keySetId", &jwt.key_set_id);
        out.insert("auxData".into(), json!({ "jwt": j }));
    }
}

fn principal_json(p: &Principal) -> Value {
    let mut out = Map::new();
    text(&mut out, "id", &p.id);
    text(&mut out, "policyVersion", &p.policy_version);
    out.insert("roles".into(), json!(p.roles));
    attributes(&mut out, &p.attr);
    text(&mut out, "scope", &p.scope);
    Value::Object(out)
}

fn resource_json(r: &Resource) -> Value {
    let mut out = Map::new();
    text(&mut out, "kind", &r.kind);
    text(&mut out, "policyVersion", &r.policy_version);
    text(&mut out, "id", &r.id);
    attributes(&mut out, &r.attr);
    text(&mut out, "scope", &r.scope);
    Value::Object(out)
}

fn text(out: &mut Map<String, Value>, key: &str, value: &str) {
    if !value.is_empty() {
        out.insert(key.into(), value.into());
    }
}

fn attributes(out: &mut Map<String, Value>, attr: &HashMap<String, Proto>) {
    if !attr.is_empty() {
        out.insert("attr".into(), Value::Object(attr.iter().map(|(k, v)| (k.clone(), from_proto(v))).collect()));
    }
}

/// A `google.protobuf.Value` as JSON. Its numbers are doubles; a whole one within ±2^53 is the
/// JSON integer a client posting JSON would have written.
fn from_proto(v: &Proto) -> Value {
    match &v.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::NumberValue(n)) => {
            const EXACT: f64 = 9_007_199_254_740_992.0;
            if n.fract() == 0.0 && n.abs() <= EXACT {
                Value::from(*n as i64)
            } else {
                serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number)
            }
        }
        Some(Kind::StructValue(s)) => Value::Object(s.fields.iter().map(|(k, v)| (k.clone(), from_proto(v))).collect()),
        Some(Kind::ListValue(l)) => Value::Array(l.values.iter().map(from_proto).collect()),
    }
}

/// JSON as a `google.protobuf.Value`.
fn to_proto(v: &Value) -> Proto {
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(a) => Kind::ListValue(ListValue { values: a.iter().map(to_proto).collect() }),
        Value::Object(o) => {
            Kind::StructValue(Struct { fields: o.iter().map(|(k, v)| (k.clone(), to_proto(v))).collect() })
        }
    };
    Proto { kind: Some(kind) }
}

/// The response message for the HTTP API's answer (Cerbos's CheckResources response JSON).
fn response_message(body: &Value) -> CheckResourcesResponse {
    let s = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let list = |v: &Value, key: &str| v.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
    let results = list(body, "results")
        .iter()
        .map(|r| {
            let resource = r.get("resource").unwrap_or(&Value::Null);
            let actions = r.get("actions").and_then(Value::as_object);
            let meta = r.get("meta");
            ResultEntry {
                resource: Some(ResourceEcho {
                    id: s(resource, "id"),
                    kind: s(resource, "kind"),
                    policy_version: s(resource, "policyVersion"),
                    scope: s(resource, "scope"),
                }),
                actions: actions
                    .into_iter()
                    .flatten()
                    .map(|(a, e)| {
                        let effect = e.as_str().and_then(Effect::from_str_name).unwrap_or(Effect::Deny);
                        (a.clone(), effect as i32)
                    })
                    .collect(),
                validation_errors: validation_errors(r),
                meta: meta.map(|m| Meta {
                    actions: m
                        .get("actions")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                        .map(|(a, em)| {
                            (
                                a.clone(),
                                EffectMeta {
                                    matched_policy: s(em, "matchedPolicy"),
                                    matched_scope: s(em, "matchedScope"),
                                },
                            )
                        })
                        .collect(),
                    effective_derived_roles: list(m, "effectiveDerivedRoles")
                        .iter()
                        .filter_map(|d| d.as_str().map(str::to_string))
                        .collect(),
                }),
                outputs: list(r, "outputs")
                    .iter()
                    .map(|o| OutputEntry { src: s(o, "src"), val: o.get("val").map(to_proto) })
                    .collect(),
            }
        })
        .collect();
    CheckResourcesResponse { request_id: s(body, "requestId"), results, cerbos_call_id: s(body, "cerbosCallId") }
}

/// The PlanResources response message for the HTTP API's answer (Cerbos's response JSON).
fn plan_message(body: &Value) -> PlanResourcesResponse {
    let s = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let filter = body.get("filter").unwrap_or(&Value::Null);
    let kind = match filter.get("kind").and_then(Value::as_str) {
        Some("KIND_ALWAYS_ALLOWED") => FilterKind::AlwaysAllowed,
        Some("KIND_CONDITIONAL") => FilterKind::Conditional,
        // Anything unreadable filters everything out.
        _ => FilterKind::AlwaysDenied,
    };
    let meta = body.get("meta").map(|m| PlanMeta {
        filter_debug: s(m, "filterDebug"),
        matched_scopes: m
            .get("matchedScopes")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(a, scope)| (a.clone(), scope.as_str().unwrap_or_default().to_string()))
            .collect(),
        ..PlanMeta::default()
    });
    PlanResourcesResponse {
        request_id: s(body, "requestId"),
        actions: body
            .get("actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect(),
        resource_kind: s(body, "resourceKind"),
        policy_version: s(body, "policyVersion"),
        filter: Some(PlanResourcesFilter { kind: kind as i32, condition: filter.get("condition").map(operand) }),
        meta,
        validation_errors: validation_errors(body),
        ..PlanResourcesResponse::default()
    }
}

/// The `validationErrors` of an answer (or of one of its results) as messages.
fn validation_errors(v: &Value) -> Vec<ValidationError> {
    let s = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    v.get("validationErrors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| ValidationError {
            path: s(e, "path"),
            message: s(e, "message"),
            source: Source::from_str_name(&s(e, "source")).unwrap_or(Source::Unspecified) as i32,
        })
        .collect()
}

/// A filter condition's JSON (`{"expression"}`, `{"variable"}` or `{"value"}`) as its message.
fn operand(v: &Value) -> Operand {
    let node = if let Some(e) = v.get("expression") {
        let operator = e.get("operator").and_then(Value::as_str).unwrap_or_default().to_string();
        let operands = e.get("operands").and_then(Value::as_array).into_iter().flatten().map(operand).collect();
        Some(Node::Expression(Expression { operator, operands }))
    } else if let Some(name) = v.get("variable").and_then(Value::as_str) {
        Some(Node::Variable(name.to_string()))
    } else {
        v.get("value").map(|x| Node::Value(to_proto(x)))
    };
    Operand { node }
}

#[cfg(test)]
#[path = "grpc_tests.rs"]
mod tests;
