//! Where a component call's time goes: the single-check workload through the baked component
//! with fuel metering on and off (prints µs per call, median of 21 batches; a probe for profiling, not a benchmark).
fn main() {
    let bundle = authz_benches::authz_bundle();
    let opts = authz_engine::CheckOptions::default();
    let input = authz_benches::authz_input(0, &["view"]);
    let path = authz_conformance::runtime::generic_component_path();
    let generic = std::fs::read(&path).unwrap_or_default();
    let baked = match authz_component::bake::bake(&generic, &bundle.to_bytes()) {
        Ok(b) => b,
        Err(e) => return eprintln!("{}: {e}: run scripts/build-component.sh", path.display()),
    };
    let Ok(typed) = authz_conformance::runtime::typed_request(&opts, &input) else { return };
    let n: u32 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    for fuel in [Some(2_000_000_000), None] {
        let config = authz_wasmtime::Config { fuel, supply_now: false, ..Default::default() };
        let Ok(pdp) = authz_wasmtime::Pdp::from_bytes(&baked, config) else { return };
        let _ = pdp.check(&typed);
        // The median of 21 batches: this machine's neighbours make single means noisy.
        let mut batches: Vec<f64> = (0..21)
            .map(|_| {
                let start = std::time::Instant::now();
                for _ in 0..n / 21 {
                    std::hint::black_box(pdp.check(std::hint::black_box(&typed)).is_ok());
                }
                start.elapsed().as_secs_f64() * 1e6 / f64::from((n / 21).max(1))
            })
            .collect();
        batches.sort_by(f64::total_cmp);
        let (min, median) =
            (batches.first().copied().unwrap_or_default(), batches.get(10).copied().unwrap_or_default());
        println!("fuel {:?}: median {median:.1} µs per call (fastest batch {min:.1})", fuel.is_some());
    }
}
