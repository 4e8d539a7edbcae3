//! The time limit's ticker: one thread for the whole process, however many components a host
//! loads (its own test binary, so no other test's threads are counted).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, reason = "a broken fixture must stop the test loudly")]

mod common;

use authz_wasmtime::{Config, Pdp};

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn many_loaded_components_share_one_ticker_thread() {
    let (_, baked) = common::example_component(None);
    let cache = tempfile::tempdir().unwrap();
    let config = || Config { pool_instances: 0, cache_dir: Some(cache.path().to_path_buf()), ..Config::default() };
    let first = Pdp::from_bytes(&baked, config()).unwrap();
    let with_one = threads();
    let more: Vec<Pdp> = (0..8).map(|_| Pdp::from_bytes(&baked, config()).unwrap()).collect();
    assert_eq!(threads(), with_one, "loading 8 more components started threads");
    // Each still decides (a deadline the ticker never advanced towards would not stop them;
    // one set wrongly, e.g. already passed, would).
    let request = r#"{"principal":{"id":"a","roles":["user"]},"resources":[{"resource":{"kind":"document","id":"d","attr":{"owner":"a"}},"actions":["view"]}]}"#;
    for pdp in more.iter().chain([&first]) {
        let response: serde_json::Value = serde_json::from_str(&pdp.check_json(request).unwrap()).unwrap();
        assert_eq!(response["results"][0]["actions"]["view"], "EFFECT_ALLOW");
    }
}
