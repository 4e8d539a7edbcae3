//! Runs the single-check workload in a loop, for profilers (callgrind, perf).
fn main() {
    let bundle = authz_benches::authz_bundle();
    let opts = authz_engine::CheckOptions::default();
    let mut input = authz_benches::authz_input(0, &["view"]);
    if std::env::var_os("WIDE").is_some() {
        for i in 0..40 {
            input.principal.attr.insert(format!("p{i}"), serde_json::json!({"nested": [i, "x"], "s": "value"}));
            input.resource.attr.insert(format!("r{i}"), serde_json::json!({"nested": [i, "y"], "s": "value"}));
        }
    }
    let input = [input];
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let mut allowed = 0;
    for _ in 0..n {
        let out = bundle.check(&opts, std::hint::black_box(&input));
        allowed += out.len();
    }
    println!("{allowed}");
}
