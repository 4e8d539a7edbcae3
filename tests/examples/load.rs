//! Bounded load generator for the HTTP PDPs: a fixed number of requests over keep-alive
//! loopback connections, reporting requests/s, decisions/s and p50/p99 latency for the Cerbos
//! and AuthZEN endpoints with 1 and 50 resources per request.
//!
//! ```text
//! cargo build --release -p authz && cargo run --release -p authz-conformance --example load -- [REQUESTS] [CONNECTIONS] [HOSTS]
//! ```
//! HOSTS is `serve` (default), `spin`, or `serve,spin` (side by side in one run, scenario by
//! scenario): `authz serve` with the embedded example bundle, and `authz bake --http` of the
//! example under `wasmtime serve` (Spin's model: a fresh instance per request), both from the
//! same target directory. `AUTHZ_WASMTIME_SERVE_OPTIONS` adds `wasmtime serve` options.

use authz_conformance::http::Server;
use serde_json::json;
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

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let requests: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let connections: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(8);
    let hosts = args.get(3).map_or("serve", String::as_str);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut servers = Vec::new();
    for host in hosts.split(',') {
        match host {
            "serve" => servers.push(("authz serve", Server::start(&[])?)),
            "spin" => servers.push(("wasmtime serve (spin app)", spin_app(dir.path())?)),
            other => return Err(format!("unknown host `{other}`: serve or spin")),
        }
    }
    for (name, server) in &servers {
        println!("{name} on {} (example bundle)", server.addr);
    }
    println!("{requests} requests per scenario over {connections} connections");
    println!("| host | endpoint | decisions/request | requests/s | decisions/s | p50 | p99 |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    let scenarios = [
        ("/api/check/resources", 1, cerbos(1)),
        ("/api/check/resources", 50, cerbos(50)),
        ("/access/v1/evaluation", 1, authzen(1)),
        ("/access/v1/evaluations", 50, authzen(50)),
    ];
    for (path, per_request, body) in scenarios {
        for (name, server) in &servers {
            run(name, server, path, per_request, &body, requests, connections)?;
        }
    }
    Ok(())
}

/// One scenario against one server; prints its row.
fn run(
    name: &str,
    server: &Server,
    path: &'static str,
    per_request: usize,
    body: &str,
    requests: usize,
    connections: usize,
) -> Result<(), String> {
    {
        // Fewer of the big requests: the run stays bounded.
        let n = if per_request > 1 { (requests / 10).max(connections) } else { requests };
        // Warm up: instances, connections, caches.
        let mut warm = server.client();
        for _ in 0..200 {
            let r = warm.post_json(path, body)?;
            if r.status != 200 {
                return Err(format!("{path}: {} {}", r.status, r.body));
            }
        }
        let start = Instant::now();
        let threads: Vec<_> = (0..connections)
            .map(|t| {
                let mut client = server.client();
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
        let elapsed = start.elapsed().as_secs_f64();
        all.sort();
        let rps = all.len() as f64 / elapsed;
        println!(
            "| {name} | `{path}` | {per_request} | {rps:.0} | {:.0} | {:.0} µs | {:.0} µs |",
            rps * per_request as f64,
            percentile(&all, 0.50).as_secs_f64() * 1e6,
            percentile(&all, 0.99).as_secs_f64() * 1e6,
        );
    }
    Ok(())
}
