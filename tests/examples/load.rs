//! Bounded load generator for the PDPs: a fixed number of requests over keep-alive loopback
//! connections, reporting requests/s, decisions/s and p50/p99 latency for the Cerbos and AuthZEN
//! endpoints with 1 and 50 resources per request, over HTTP and (built with the `grpc` feature)
//! Cerbos's gRPC API, and each server's resident memory after the run.
//!
//! ```text
//! cargo build --release -p authz [--features grpc]
//! cargo run --release -p authz-conformance [--features grpc] --example load -- [REQUESTS] [CONNECTIONS] [HOSTS]
//! ```
//! HOSTS is a comma-separated list, run side by side in one run, scenario by scenario: `serve`
//! (default; `authz serve` with the embedded example bundle, its gRPC API too with the
//! feature), `spin` (`authz bake --http` of the example under `wasmtime serve`, Spin's model: a
//! fresh instance per request), `cerbos` (the real `cerbos server` on `policies/example`, HTTP
//! and gRPC; `scripts/cerbos.sh` installs it). `AUTHZ_WASMTIME_SERVE_OPTIONS` adds `wasmtime
//! serve` options.

use authz_conformance::differential::{cerbos_binary, Cerbos};
use authz_conformance::http::{Client, Server};
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn cerbos(resources: usize) -> String {
    let resources: Vec<_> = (0..resources)
        .map(|i| {
            json!({"actions": ["view"], "resource": {"kind": "document", "id": format!("doc-{i}"),
                   "attr": {"owner": if i % 2 == 0 { "alice" } else { "bob" }, "department": "finance", "status": "DRAFT"}}})
        })
        .collect();
    json!({"requestId": "load", "principal": {"id": "alice", "roles": ["user"], "attr": {"department": "finance"}},
           "resources": resources})
    .to_string()
}

fn authzen(evaluations: usize) -> String {
    let subject =
        json!({"type": "user", "id": "alice", "properties": {"cerbos.roles": ["user"], "department": "finance"}});
    let resource = |i: usize| {
        json!({"type": "document", "id": format!("doc-{i}"),
               "properties": {"owner": if i % 2 == 0 { "alice" } else { "bob" }, "department": "finance", "status": "DRAFT"}})
    };
    if evaluations == 1 {
        return json!({"subject": subject, "resource": resource(0), "action": {"name": "view"}}).to_string();
    }
    let evals: Vec<_> = (0..evaluations).map(|i| json!({"resource": resource(i)})).collect();
    json!({"subject": subject, "action": {"name": "view"}, "evaluations": evals}).to_string()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

/// `authz bake --http` of the example, for `wasmtime serve`.
fn spin_app(dir: &std::path::Path) -> Result<Server, String> {
    let out = dir.join("app.wasm");
    authz_conformance::http::bake_example(&out, &["--http"])?;
    // More `wasmtime serve` options, for comparing its settings (e.g. `-O pooling-allocator`).
    let options = std::env::var("AUTHZ_WASMTIME_SERVE_OPTIONS").unwrap_or_default();
    let options: Vec<&str> = options.split_whitespace().collect();
    authz_conformance::runtime::SpinApp::new()?.serve_with(&out, &[], &options)
}

/// One PDP under load.
struct Target {
    name: &'static str,
    http: SocketAddr,
    /// Its gRPC API's address, when it serves one.
    grpc: Option<SocketAddr>,
    pid: u32,
    /// What keeps it running (stopped on drop).
    _process: Box<dyn std::any::Any>,
}

fn authz_serve() -> Result<Target, String> {
    let args: &[&str] = if cfg!(feature = "grpc") { &["--grpc-addr", "127.0.0.1:0"] } else { &[] };
    let server = Server::start(args)?;
    let grpc = server.announced("listening on grpc://");
    if cfg!(feature = "grpc") && grpc.is_none() {
        return Err("authz serve did not announce its gRPC address".into());
    }
    Ok(Target { name: "authz serve", http: server.addr, grpc, pid: server.pid(), _process: Box::new(server) })
}

fn cerbos_server() -> Result<Target, String> {
    let bin = cerbos_binary().ok_or("no cerbos binary: bash scripts/cerbos.sh installs it")?;
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/example");
    let cerbos = Cerbos::start(&bin, &example, &[])?;
    Ok(Target {
        name: "cerbos server",
        http: cerbos.addr,
        grpc: cerbos.grpc_addr,
        pid: cerbos.pid(),
        _process: Box::new(cerbos),
    })
}

/// Resident and peak resident memory of a process, in MiB (Linux).
fn rss(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        status.lines().find_map(|l| l.strip_prefix(key)?.split_whitespace().next()?.parse::<f64>().ok()).unwrap_or(0.0)
    };
    (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let requests: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let connections: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(8);
    let hosts = args.get(3).map_or("serve", String::as_str);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut targets = Vec::new();
    for host in hosts.split(',') {
        targets.push(match host {
            "serve" => authz_serve()?,
            "spin" => {
                let server = spin_app(dir.path())?;
                Target {
                    name: "wasmtime serve (spin app)",
                    http: server.addr,
                    grpc: None,
                    pid: server.pid(),
                    _process: Box::new(server),
                }
            }
            "cerbos" => cerbos_server()?,
            other => return Err(format!("unknown host `{other}`: serve, spin or cerbos")),
        });
    }
    for t in &targets {
        let grpc = t.grpc.map(|g| format!(", gRPC {g}")).unwrap_or_default();
        println!("{} on {}{grpc} (example policies)", t.name, t.http);
    }
    println!("{requests} requests per scenario over {connections} connections");
    println!("| host | API | endpoint | decisions/request | requests/s | decisions/s | p50 | p99 |");
    println!("|---|---|---|---:|---:|---:|---:|---:|");
    let scenarios = [
        ("/api/check/resources", 1, cerbos(1)),
        ("/api/check/resources", 50, cerbos(50)),
        ("/access/v1/evaluation", 1, authzen(1)),
        ("/access/v1/evaluations", 50, authzen(50)),
    ];
    for (path, per_request, body) in &scenarios {
        for t in &targets {
            let latencies = http_load(t.http, path, body, count(*per_request, requests, connections), connections)?;
            row(t.name, "HTTP", &format!("`POST {path}`"), *per_request, latencies);
        }
    }
    #[cfg(feature = "grpc")]
    for per_request in [1, 50] {
        for t in &targets {
            if let Some(addr) = t.grpc {
                let n = count(per_request, requests, connections);
                let latencies = grpc::load(addr, &cerbos(per_request), n, connections)?;
                row(t.name, "gRPC", "`CerbosService/CheckResources`", per_request, latencies);
            }
        }
    }
    println!();
    println!("| host | resident memory after the run | peak |");
    println!("|---|---:|---:|");
    for t in &targets {
        let (now, peak) = rss(t.pid);
        println!("| {} | {now:.0} MiB | {peak:.0} MiB |", t.name);
    }
    Ok(())
}

/// Requests per scenario: fewer of the big ones, so that the run stays bounded.
fn count(per_request: usize, requests: usize, connections: usize) -> usize {
    if per_request > 1 {
        (requests / 10).max(connections)
    } else {
        requests
    }
}

/// Prints a scenario's row from its (unsorted, wall-clock-timed) latencies and duration.
fn row(name: &str, api: &str, endpoint: &str, per_request: usize, (mut all, elapsed): (Vec<Duration>, f64)) {
    all.sort();
    let rps = all.len() as f64 / elapsed;
    println!(
        "| {name} | {api} | {endpoint} | {per_request} | {rps:.0} | {:.0} | {:.0} µs | {:.0} µs |",
        rps * per_request as f64,
        percentile(&all, 0.50).as_secs_f64() * 1e6,
        percentile(&all, 0.99).as_secs_f64() * 1e6,
    );
}

/// `n` POSTs of `body` to `path` over `connections` keep-alive connections, after 200 warm-up
/// requests: every latency, and the seconds the whole took.
fn http_load(
    addr: SocketAddr,
    path: &'static str,
    body: &str,
    n: usize,
    connections: usize,
) -> Result<(Vec<Duration>, f64), String> {
    // Warm up: instances, connections, caches.
    let mut warm = Client::new(addr);
    for _ in 0..200 {
        let r = warm.post_json(path, body)?;
        if r.status != 200 {
            return Err(format!("{path}: {} {}", r.status, r.body));
        }
    }
    let start = Instant::now();
    let threads: Vec<_> = (0..connections)
        .map(|t| {
            let mut client = Client::new(addr);
            let body = body.to_string();
            let count = n / connections + usize::from(t < n % connections);
            std::thread::spawn(move || -> Result<Vec<Duration>, String> {
                let mut lat = Vec::with_capacity(count);
                for _ in 0..count {
                    let t0 = Instant::now();
                    let r = client.post_json(path, &body)?;
                    lat.push(t0.elapsed());
                    if r.status != 200 {
                        return Err(format!("{path}: {} {}", r.status, r.body));
                    }
                }
                Ok(lat)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(n);
    for t in threads {
        all.extend(t.join().map_err(|_| "a load thread panicked".to_string())??);
    }
    Ok((all, start.elapsed().as_secs_f64()))
}

/// The same load over Cerbos's gRPC API, with the Rust Cerbos SDK's generated client.
#[cfg(feature = "grpc")]
mod grpc {
    use cerbos::genpb::cerbos::engine::v1::{Principal, Resource};
    use cerbos::genpb::cerbos::request::v1::check_resources_request::ResourceEntry;
    use cerbos::genpb::cerbos::request::v1::CheckResourcesRequest;
    use cerbos::genpb::cerbos::svc::v1::cerbos_service_client::CerbosServiceClient;
    use cerbos::genpb::google::protobuf::{value::Kind, ListValue, Struct, Value as Proto};
    use serde_json::Value;
    use std::collections::HashMap;
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    fn proto(v: &Value) -> Proto {
        let kind = match v {
            Value::Null => Kind::NullValue(0),
            Value::Bool(b) => Kind::BoolValue(*b),
            Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
            Value::String(s) => Kind::StringValue(s.clone()),
            Value::Array(a) => Kind::ListValue(ListValue { values: a.iter().map(proto).collect() }),
            Value::Object(o) => Kind::StructValue(Struct { fields: attr(&Value::Object(o.clone())) }),
        };
        Proto { kind: Some(kind) }
    }

    fn attr(v: &Value) -> HashMap<String, Proto> {
        v.as_object().into_iter().flatten().map(|(k, v)| (k.clone(), proto(v))).collect()
    }

    fn text(v: &Value, key: &str) -> String {
        v.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
    }

    /// The message for a Cerbos JSON request (principal, resources, actions, attributes).
    fn request(json: &str) -> Result<CheckResourcesRequest, String> {
        let v: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let p = v.get("principal").ok_or("no principal")?;
        let strings = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array).into_iter().flatten().filter_map(|s| s.as_str().map(str::to_string)).collect()
        };
        let resources = v
            .get("resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|e| {
                let r = e.get("resource").unwrap_or(&Value::Null);
                ResourceEntry {
                    actions: strings(e.get("actions")),
                    resource: Some(Resource {
                        kind: text(r, "kind"),
                        id: text(r, "id"),
                        attr: attr(r.get("attr").unwrap_or(&Value::Null)),
                        ..Default::default()
                    }),
                }
            })
            .collect();
        Ok(CheckResourcesRequest {
            request_id: text(&v, "requestId"),
            principal: Some(Principal {
                id: text(p, "id"),
                roles: strings(p.get("roles")),
                attr: attr(p.get("attr").unwrap_or(&Value::Null)),
                ..Default::default()
            }),
            resources,
            ..Default::default()
        })
    }

    /// `n` CheckResources calls of `json`'s request over `connections` HTTP/2 connections, after
    /// 200 warm-up calls: every latency, and the seconds the whole took.
    pub fn load(addr: SocketAddr, json: &str, n: usize, connections: usize) -> Result<(Vec<Duration>, f64), String> {
        let request = request(json)?;
        let expected = request.resources.len();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let mut clients = Vec::new();
            for _ in 0..connections {
                let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                    .map_err(|e| e.to_string())?
                    .connect()
                    .await
                    .map_err(|e| format!("gRPC {addr}: {e}"))?;
                clients.push(CerbosServiceClient::new(channel));
            }
            let call = move |mut client: CerbosServiceClient<tonic::transport::Channel>,
                             request: CheckResourcesRequest| async move {
                let answer = client.check_resources(request).await.map_err(|s| format!("gRPC {addr}: {s}"))?;
                match answer.into_inner().results.len() {
                    r if r == expected => Ok(client),
                    r => Err(format!("gRPC {addr}: {r} results for {expected} resources")),
                }
            };
            let mut warm = clients.first().cloned().ok_or("no connections")?;
            for _ in 0..200 {
                warm = call(warm, request.clone()).await?;
            }
            let start = Instant::now();
            let tasks: Vec<_> = clients
                .into_iter()
                .enumerate()
                .map(|(t, mut client)| {
                    let request = request.clone();
                    let count = n / connections + usize::from(t < n % connections);
                    tokio::spawn(async move {
                        let mut lat = Vec::with_capacity(count);
                        for _ in 0..count {
                            let t0 = Instant::now();
                            client = call(client, request.clone()).await?;
                            lat.push(t0.elapsed());
                        }
                        Ok::<_, String>(lat)
                    })
                })
                .collect();
            let mut all = Vec::with_capacity(n);
            for t in tasks {
                all.extend(t.await.map_err(|e| e.to_string())??);
            }
            Ok((all, start.elapsed().as_secs_f64()))
        })
    }
}
