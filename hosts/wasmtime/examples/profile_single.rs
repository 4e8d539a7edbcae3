//! Runs the single-check workload N times, for profilers (callgrind, perf) and for
//! `scripts/count-instructions.sh`: `profile_single N [native|typed|json]`.
//!
//! `native` calls the engine; `typed` and `json` call the example baked into the generic
//! component through `authz-wasmtime` (a warm instance, the host's defaults except: no pool,
//! whose address-space reservation valgrind cannot make, and an on-disk compile cache).
//! `WIDE=1` adds 40 nested attributes to the principal and to the resource.
#[path = "../benches/shared/component.rs"]
mod component;

fn main() {
    match run() {
        Ok(answered) => println!("{answered}"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}

/// Runs the workload; the count of answers keeps the calls from being optimized away.
fn run() -> Result<usize, String> {
    let bundle = authz_benches::authz_bundle();
    let opts = authz_engine::CheckOptions::default();
    let mut input = authz_benches::authz_input(0, &["view"]);
    if std::env::var_os("WIDE").is_some() {
        for i in 0..40 {
            input.principal.attr.insert(format!("p{i}"), serde_json::json!({"nested": [i, "x"], "s": "value"}));
            input.resource.attr.insert(format!("r{i}"), serde_json::json!({"nested": [i, "y"], "s": "value"}));
        }
    }
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let mode = args.next().unwrap_or_else(|| "native".into());
    let mut answered = 0;
    match mode.as_str() {
        "native" => {
            let input = [input];
            for _ in 0..n {
                answered += bundle.check(&opts, std::hint::black_box(&input)).len();
            }
        }
        "typed" | "json" => {
            let pdp = component(&bundle)?;
            let typed = authz_conformance::runtime::typed_request(&opts, &input);
            let request = authz_api::cerbos::CheckResourcesRequest::for_input(&input);
            let json = authz_api::cerbos::encode_request(&opts, &request).to_string();
            for _ in 0..n {
                answered += if mode == "typed" {
                    pdp.check(std::hint::black_box(&typed)).map(|r| r.results.len()).unwrap_or(0)
                } else {
                    pdp.check_json(std::hint::black_box(&json)).map(|r| usize::from(!r.is_empty())).unwrap_or(0)
                };
            }
        }
        other => return Err(format!("unknown mode `{other}`: native, typed or json")),
    }
    Ok(answered)
}

/// The example bundle baked into the generic component, loaded without the pool (valgrind
/// cannot reserve its address space).
fn component(bundle: &authz_engine::Bundle) -> Result<authz_wasmtime::Pdp, String> {
    let config = authz_wasmtime::Config { pool_instances: 0, ..component::config(8) };
    authz_wasmtime::Pdp::from_bytes(&component::baked_cached(bundle)?, config).map_err(|e| e.to_string())
}
