//! Cerbos's gRPC API served by `authz serve --grpc-addr`, asked by the Rust Cerbos SDK (crate
//! `cerbos`, unchanged) and compared with the real `cerbos server` on the same policies: every
//! principal of `policies/example`'s suite against every resource of it, with every action its
//! suite asks about that resource's kind. Also: the answers equal the HTTP API's; gRPC health
//! checking and ServerInfo answer; the deciding bundle's digest comes as response metadata; a
//! check is counted in /metrics like an HTTP one; a malformed request is InvalidArgument on both.
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a malformed suite or answer must stop the test loudly"
)]

use authz_conformance::differential::{cerbos_binary, Cerbos};
use authz_conformance::http::Server;
use authz_conformance::{example_grid, ExampleGrid};
use cerbos::genpb::cerbos::request::v1::ServerInfoRequest;
use cerbos::genpb::cerbos::response::v1::CheckResourcesResponse as Pb;
use cerbos::genpb::cerbos::svc::v1::cerbos_service_client::CerbosServiceClient;
use cerbos::sdk::attr::attr;
use cerbos::sdk::model::{Principal, Resource, ResourceList};
use cerbos::sdk::{CerbosAsyncClient, CerbosClientOptions, CerbosEndpoint};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/example")
}

fn grid() -> ExampleGrid {
    let grid = example_grid().expect("the example suite");
    assert!(
        grid.principals.len() >= 5 && grid.resources.len() >= 5 && grid.actions.len() >= 2,
        "the example suite shrank"
    );
    grid
}

fn attributes(v: &Value) -> Vec<cerbos::sdk::attr::Attribute> {
    v["attr"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| match v {
            Value::String(s) => attr(k.as_str(), s.as_str()),
            Value::Bool(b) => attr(k.as_str(), *b),
            Value::Number(n) => attr(k.as_str(), n.as_f64().expect("a number")),
            other => panic!("the example suite has an attribute this test does not map: {k} = {other}"),
        })
        .collect()
}

fn principal(p: &Value) -> Principal {
    let roles: Vec<&str> = p["roles"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    Principal::new(p["id"].as_str().expect("an id"), roles).with_attributes(attributes(p))
}

fn resources(grid: &ExampleGrid) -> ResourceList {
    grid.resources.iter().fold(ResourceList::new(), |list, r| {
        let kind = r["kind"].as_str().expect("a kind");
        let mut resource = Resource::new(r["id"].as_str().expect("an id"), kind).with_attributes(attributes(r));
        if let Some(scope) = r["scope"].as_str() {
            resource = resource.with_scope(scope);
        }
        list.add(resource, grid.actions[kind].clone())
    })
}

async fn client(addr: SocketAddr) -> CerbosAsyncClient {
    let options = CerbosClientOptions::new(CerbosEndpoint::HostPort("127.0.0.1", addr.port()))
        .with_plaintext()
        .with_request_id_gen(|| "sdk-test".to_string());
    CerbosAsyncClient::new(options).await.expect("an SDK client")
}

/// The answer without what differs by design: Cerbos's call ID (authz has none).
fn comparable(mut r: Pb) -> Pb {
    r.cerbos_call_id.clear();
    r
}

/// `cerbos server` and `authz serve` (with gRPC) on the example, and an SDK client of each (the
/// real Cerbos's first): the processes must live as long as the clients are used.
async fn both() -> (Cerbos, Server, CerbosAsyncClient, CerbosAsyncClient) {
    let Some(bin) = cerbos_binary() else {
        panic!("the Cerbos binary was not found (bash scripts/cerbos.sh installs it): the gRPC API cannot be compared");
    };
    let cerbos = Cerbos::start(&bin, &example(), &[]).expect("cerbos server");
    let policies = example().to_string_lossy().to_string();
    let authz = Server::start(&["--policies", &policies, "--grpc-addr", "127.0.0.1:0"]).expect("authz serve with gRPC");
    let (cerbos_grpc, authz_grpc) = (cerbos.grpc_addr.expect("cerbos's gRPC address"), grpc_addr(&authz));
    let (want, got) = (client(cerbos_grpc).await, client(authz_grpc).await);
    (cerbos, authz, want, got)
}

fn grpc_addr(server: &Server) -> SocketAddr {
    server.announced("listening on grpc://").expect("authz announced its gRPC address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_sdk_gets_the_same_answers_from_authz_over_grpc_as_from_cerbos() {
    let (_cerbos, authz, mut want, mut got) = both().await;
    let grid = grid();
    let mut allowed = 0;
    for p in &grid.principals {
        let w = want.check_resources(principal(p), resources(&grid), None).await.expect("cerbos answers");
        let g = got.check_resources(principal(p), resources(&grid), None).await.expect("authz answers");
        assert_eq!(comparable(g.response.clone()), comparable(w.response), "principal {p}");
        allowed += g.iter().map(|r| grid.actions.values().flatten().filter(|a| r.is_allowed(a)).count()).sum::<usize>();
        // The same request over HTTP: the same decisions.
        let http = http_answer(&authz, p, &grid);
        assert_eq!(http, effects(&g.response), "principal {p}: gRPC and HTTP differ");
    }
    // Not a grid of denials: the comparison saw both effects.
    assert!(allowed > 0, "nothing was allowed: the comparison proves little");

    // A principal without an ID: both refuse it as an invalid argument.
    let (w, g) = (refusal(&mut want).await, refusal(&mut got).await);
    assert_eq!(g, Some(Some(tonic::Code::InvalidArgument)), "authz accepted a principal without an ID");
    assert_eq!(g, w);
}

/// The gRPC code a principal without an ID is refused with (`None`: it was not refused).
async fn refusal(client: &mut CerbosAsyncClient) -> Option<Option<tonic::Code>> {
    let resource = Resource::new("d", "document");
    let answer =
        client.check_resources(Principal::new("", ["user"]), ResourceList::new().add(resource, ["view"]), None).await;
    let code = |e: anyhow::Error| e.chain().find_map(|c| c.downcast_ref::<tonic::Status>()).map(tonic::Status::code);
    answer.err().map(code)
}

/// authz's HTTP answer to the grid's request for principal `p`: each resource's effects.
fn http_answer(authz: &Server, p: &Value, grid: &ExampleGrid) -> Vec<BTreeMap<String, String>> {
    let resources: Vec<Value> = grid
        .resources
        .iter()
        .map(|r| serde_json::json!({"actions": grid.actions[r["kind"].as_str().unwrap_or_default()], "resource": r}))
        .collect();
    let body = serde_json::json!({"requestId": "sdk-test", "principal": p, "resources": resources});
    let answer = authz.client().post_json("/api/check/resources", &body.to_string()).expect("HTTP answer");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let json = answer.json().expect("JSON");
    json["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            r["actions"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(a, e)| (a.clone(), e.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .collect()
}

fn effects(r: &Pb) -> Vec<BTreeMap<String, String>> {
    r.results
        .iter()
        .map(|e| {
            e.actions
                .iter()
                .map(|(a, x)| {
                    let effect = cerbos::genpb::cerbos::effect::v1::Effect::try_from(*x).expect("an effect");
                    (a.clone(), effect.as_str_name().to_string())
                })
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_server_info_the_bundle_digest_metrics_and_audit_records() {
    let policies = example().to_string_lossy().to_string();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let audit = dir.path().join("audit.log");
    let audit_arg = audit.to_string_lossy().to_string();
    let args = ["--policies", &policies, "--grpc-addr", "127.0.0.1:0", "--audit-log", &audit_arg];
    let authz = Server::start(&args).expect("authz serve with gRPC");
    let url = format!("http://{}", grpc_addr(&authz));
    let channel = tonic::transport::Endpoint::from_shared(url).expect("a URL").connect().await.expect("connects");

    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for service in ["", "cerbos.svc.v1.CerbosService"] {
        let request = tonic_health::pb::HealthCheckRequest { service: service.into() };
        let status = health.check(request).await.expect("health answers").into_inner().status;
        assert_eq!(status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32, "{service:?}");
    }

    // Cerbos's HTTP health route, which its SDKs call, knows the same services.
    for (query, want) in [("", 200), ("?service=cerbos.svc.v1.CerbosService", 200), ("?service=nope", 404)] {
        let answer = authz.client().get(&format!("/_cerbos/health{query}")).expect("an answer");
        assert_eq!(answer.status, want, "/_cerbos/health{query}: {}", answer.body);
    }

    let mut raw = CerbosServiceClient::new(channel);
    let info = raw.server_info(ServerInfoRequest {}).await.expect("ServerInfo").into_inner();
    assert!(!info.version.is_empty());

    let readyz = authz.client().get("/readyz").expect("readyz").json().expect("JSON");
    let digest = readyz["bundleDigest"].as_str().expect("a digest").to_string();
    let metric = |authz: &Server| -> u64 {
        let text = authz.client().get("/metrics").expect("metrics").body;
        let counter = "authz_http_requests_total{endpoint=\"check_resources\",status=\"200\"} ";
        text.lines().find_map(|l| l.strip_prefix(counter)?.parse().ok()).unwrap_or(0)
    };
    let before = metric(&authz);
    use cerbos::genpb::cerbos::engine::v1 as engine;
    use cerbos::genpb::cerbos::request::v1::{check_resources_request::ResourceEntry, CheckResourcesRequest};
    let request = CheckResourcesRequest {
        request_id: "r".into(),
        principal: Some(engine::Principal { id: "bob".into(), roles: vec!["user".into()], ..Default::default() }),
        resources: vec![ResourceEntry {
            actions: vec!["view".into()],
            resource: Some(engine::Resource { kind: "document".into(), id: "doc-9".into(), ..Default::default() }),
        }],
        ..Default::default()
    };
    let answer = raw.check_resources(request).await.expect("CheckResources");
    let header = answer.metadata().get("authz-bundle-digest").and_then(|v| v.to_str().ok()).map(str::to_string);
    assert_eq!(header.as_deref(), Some(digest.as_str()));
    assert_eq!(answer.into_inner().results.len(), 1);
    assert_eq!(metric(&authz), before + 1, "a gRPC check is counted as the HTTP endpoint's are");

    // The same check over HTTP: the same audit record (its duration aside).
    let body = r#"{"requestId":"r","principal":{"id":"bob","roles":["user"]},
        "resources":[{"actions":["view"],"resource":{"kind":"document","id":"doc-9"}}]}"#;
    assert_eq!(authz.client().post_json("/api/check/resources", body).expect("HTTP").status, 200);
    let records: Vec<Value> = std::fs::read_to_string(&audit)
        .expect("the audit log")
        .lines()
        .map(|l| {
            let mut r: Value = serde_json::from_str(l).expect("a JSON record");
            r.as_object_mut().expect("an object").remove("durationMicros");
            r
        })
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0], records[1]);
    assert_eq!(records[0]["bundleDigest"], Value::String(digest));
}

/// A filter condition as an s-expression with the operands of commutative operators in one
/// order: two plans that differ only in that order are the same plan.
fn canonical(o: &cerbos::genpb::cerbos::engine::v1::plan_resources_filter::expression::Operand) -> String {
    use cerbos::genpb::cerbos::engine::v1::plan_resources_filter::expression::operand::Node;
    match &o.node {
        Some(Node::Expression(e)) => {
            let mut ops: Vec<String> = e.operands.iter().map(canonical).collect();
            if matches!(e.operator.as_str(), "and" | "or" | "eq" | "ne") {
                ops.sort();
            }
            format!("({} {})", e.operator, ops.join(" "))
        }
        Some(Node::Variable(v)) => v.clone(),
        Some(Node::Value(v)) => format!("{v:?}"),
        None => "<none>".into(),
    }
}

/// A plan's filter: its kind and canonical condition.
fn filter(r: &cerbos::sdk::model::PlanResourcesResponse) -> (i32, Option<String>) {
    let f = r.response.filter.clone().unwrap_or_default();
    (f.kind, f.condition.as_ref().map(canonical))
}

/// PlanResources over gRPC: for every principal of the example's suite, every resource kind and
/// every action its suite asks about, and for a few actions at once, authz plans what the real
/// Cerbos plans (filters compared with commutative operands in any order), but where the skip
/// list says Cerbos's planner contradicts Cerbos's checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_sdk_gets_the_same_plans_from_authz_over_grpc_as_from_cerbos() {
    let (_cerbos, _authz, mut want, mut got) = both().await;
    let grid = grid();
    let (mut plans, mut conditional, mut differ) = (0, 0, Vec::new());
    // Where Cerbos's planner contradicts its own checks (tests/divergences.md).
    let skips = authz_conformance::skip_list();
    for p in &grid.principals {
        for (kind, actions) in &grid.actions {
            let mut asks: Vec<Vec<String>> = actions.iter().map(|a| vec![a.clone()]).collect();
            asks.push(actions.iter().take(3).cloned().collect());
            for ask in asks {
                let resource = || cerbos::sdk::model::ResourceKind::new(kind.clone());
                let w = want
                    .plan_resources_for_actions(ask.clone(), principal(p), resource(), None)
                    .await
                    .expect("cerbos plans");
                let g = got
                    .plan_resources_for_actions(ask.clone(), principal(p), resource(), None)
                    .await
                    .expect("authz plans");
                let key = format!("grpc-plan/{}/{kind}/{}", p["id"].as_str().unwrap_or_default(), ask.join("+"));
                let known = skips.contains_key(&key);
                if filter(&g) != filter(&w) && !known {
                    differ.push(format!("{key}: authz {:?}, cerbos {:?}", filter(&g), filter(&w)));
                }
                if filter(&g) == filter(&w) && known {
                    differ.push(format!("{key} is in the skip list but now agrees with Cerbos: remove it"));
                }
                assert_eq!(g.response.actions, w.response.actions);
                assert_eq!(g.response.resource_kind, w.response.resource_kind);
                plans += 1;
                conditional += usize::from(filter(&g).1.is_some());
            }
        }
    }
    assert!(conditional > 0, "no plan was conditional: the comparison proves little ({plans} plans)");
    assert!(differ.is_empty(), "{} of {plans} plans differ:\n{}", differ.len(), differ.join("\n"));
}
