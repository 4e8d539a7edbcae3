//! One request's warm single-check latency through three runtimes in one run, for
//! BENCHMARKS.md: the native engine (authz-api's Cerbos JSON handling over the bundle), the
//! component in wasmtime (the host library's JSON call) and the JS package in Node (`node
//! js/bench.mjs` on the same baked component and the same request text). The example
//! policies; the three answers are compared (bundle digest included) before anything is timed.
//! Median of 21 batches each; timings are printed, never asserted.
//!
//! ```text
//! cargo run --release -p authz-conformance --example runtimes -- [CALLS_PER_BATCH]
//! ```

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

/// µs per call of `f`: the median of 21 batches of `n` calls (this machine's neighbours make
/// single means noisy), and the fastest batch.
fn time(n: u32, mut f: impl FnMut() -> bool) -> (f64, f64) {
    let mut batches: Vec<f64> = (0..21)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                black_box(f());
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(n.max(1))
        })
        .collect();
    batches.sort_by(f64::total_cmp);
    (batches.get(10).copied().unwrap_or_default(), batches.first().copied().unwrap_or_default())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("runtimes: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let n: u32 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let sources = authz::store::load_dir(&root.join("policies/example")).map_err(|e| e.to_string())?;
    let bundle = authz_engine::Bundle::build(sources, None).map_err(|e| e.to_string())?;
    let generic = std::fs::read(authz_conformance::runtime::generic_component_path()).map_err(|e| e.to_string())?;
    let baked = authz_wasmtime::bake::bake(&generic, &bundle.to_bytes()).map_err(|e| e.to_string())?;
    // The request of js/bench.mjs, its time in the request so every runtime decides alike.
    let request = serde_json::json!({
        "requestId": "bench",
        "principal": {"id": "alice", "roles": ["user"], "attr": {"department": "finance"}},
        "resources": [{"actions": ["view"], "resource": {"kind": "document", "id": "doc-0",
                       "attr": {"owner": "alice", "department": "finance", "status": "DRAFT"}}}],
        "authzOptions": {"now": "2026-12-01T12:00:00Z"},
    })
    .to_string();

    let limits = authz_api::cerbos::Limits::default();
    let options = authz_api::CheckOptions::default();
    let native = || authz_api::cerbos::check_json(&bundle, &request, &limits, &options).map(|v| v.to_string());
    let config = authz_wasmtime::Config { warm_instances: 8, ..Default::default() };
    let pdp = authz_wasmtime::Pdp::from_bytes(&baked, config).map_err(|e| e.to_string())?;
    let component = || pdp.check_json(&request).map_err(|e| e.to_string());

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("example.wasm");
    std::fs::write(&file, &baked).map_err(|e| e.to_string())?;
    let request_file = dir.path().join("request.json");
    std::fs::write(&request_file, &request).map_err(|e| e.to_string())?;

    let want: serde_json::Value =
        serde_json::from_str(&native().map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let got: serde_json::Value = serde_json::from_str(&component()?).map_err(|e| e.to_string())?;
    if got != want {
        return Err(format!("the component answered {got}, the engine {want}"));
    }
    println!("request: {request}");
    let (median, fastest) = time(n, || native().is_ok());
    println!("native engine (check_json): median {median:.2} µs per call (fastest batch {fastest:.2})");
    let (median, fastest) = time(n, || component().is_ok());
    println!(
        "component in wasmtime (JSON call, warm instance): median {median:.2} µs per call (fastest batch {fastest:.2})"
    );
    // Node compares its own answer with this one before timing.
    let status = std::process::Command::new(std::env::var("AUTHZ_NODE").unwrap_or_else(|_| "node".into()))
        .arg(root.join("js/bench.mjs"))
        .arg(&file)
        .arg(&request_file)
        .env("AUTHZ_BENCH_EXPECT", want.to_string())
        .env("AUTHZ_BENCH_CALLS", n.to_string())
        .status()
        .map_err(|e| format!("running node: {e}"))?;
    if !status.success() {
        return Err("js/bench.mjs failed".into());
    }
    Ok(())
}
