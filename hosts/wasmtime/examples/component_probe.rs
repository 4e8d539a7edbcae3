//! Where a component call's time goes: the single-check workload through the baked component
//! with fuel metering on and off, on a warm instance and on a fresh instance per call (prints
//! µs per call, median of 21 batches; a probe for profiling, not a benchmark).
use std::hint::black_box;

fn main() {
    let bundle = authz_benches::authz_bundle();
    let opts = authz_engine::CheckOptions::default();
    let input = authz_benches::authz_input(0, &["view"]);
    let path = authz_conformance::runtime::generic_component_path();
    let generic = std::fs::read(&path).unwrap_or_default();
    let start = std::time::Instant::now();
    let baked = match authz_wasmtime::bake::bake(&generic, &bundle.to_bytes()) {
        Ok(b) => b,
        Err(e) => return eprintln!("{}: {e}: run scripts/build-component.sh", path.display()),
    };
    println!("baked in {:.2} s: {} bytes", start.elapsed().as_secs_f64(), baked.len());
    let typed = authz_conformance::runtime::typed_request(&opts, &input);
    let n: u32 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2100);
    for (fuel, warm) in [(Some(2_000_000_000), 8), (None, 8), (Some(2_000_000_000), 0), (None, 0)] {
        // `SUPPLY_NOW=1`: the host adds its clock as `now`, as the library does by default.
        let supply_now = std::env::var_os("SUPPLY_NOW").is_some();
        // `CACHE=1`: load the precompiled artifact from the on-disk cache, as the criterion bench does.
        let cache_dir = std::env::var_os("CACHE").map(|_| authz_conformance::runtime::compile_cache_dir());
        let config = authz_wasmtime::Config { fuel, supply_now, warm_instances: warm, cache_dir, ..Default::default() };
        let pdp = match authz_wasmtime::Pdp::from_bytes(&baked, config) {
            Ok(pdp) => pdp,
            Err(e) => return eprintln!("loading the baked component: {e}"),
        };
        let _ = pdp.check(&typed);
        // The median of 21 batches: this machine's neighbours make single means noisy.
        let mut batches: Vec<f64> = (0..21)
            .map(|_| {
                let start = std::time::Instant::now();
                for _ in 0..n / 21 {
                    black_box(pdp.check(black_box(&typed)).is_ok());
                }
                start.elapsed().as_secs_f64() * 1e6 / f64::from((n / 21).max(1))
            })
            .collect();
        batches.sort_by(f64::total_cmp);
        let (min, median) =
            (batches.first().copied().unwrap_or_default(), batches.get(10).copied().unwrap_or_default());
        let instance = if warm > 0 { "warm instance" } else { "fresh instance" };
        println!("fuel {:5}, {instance}: median {median:.1} µs per call (fastest batch {min:.1})", fuel.is_some());
    }
}
