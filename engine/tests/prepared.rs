//! The `prepared` feature (the WebAssembly component's engine): only `prepare()` builds the CEL
//! runtime, and a check before it fails closed. Building a bundle prepares the runtime of its
//! process, so the check runs in a child process that only loads the bundle's bytes (passed hex-encoded in its environment).
//! Run by `scripts/test.sh` with `--features prepared`.
#![cfg(feature = "prepared")]
#![allow(clippy::unwrap_used, clippy::panic, reason = "test")]
#![allow(
    clippy::disallowed_methods,
    reason = "test harness only: the child process gets the bundle through its environment; the engine reads none"
)]

use authz_engine::Effect;
use authz_engine::{Bundle, CheckInput, CheckOptions, Source};

const CHILD: &str = "AUTHZ_PREPARED_TEST_BUNDLE";

mod common;

use common::OWNER_POLICY as POLICY;

fn effect(bundle: &Bundle) -> Effect {
    let input: CheckInput = serde_json::from_value(serde_json::json!({
        "principal": {"id": "alice", "roles": ["user"]},
        "resource": {"kind": "doc", "id": "d1", "attr": {"owner": "alice"}},
        "actions": ["view"],
    }))
    .unwrap();
    let out = bundle.check(&CheckOptions::default(), &[input]);
    out.first().and_then(|o| o.actions.get("view")).map(|a| a.effect).unwrap_or(Effect::Deny)
}

#[test]
#[expect(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "the test reruns itself in a child process, where nothing has built the CEL runtime yet"
)]
fn a_check_before_prepare_denies_and_after_it_decides() {
    if let Ok(hex) = std::env::var(CHILD) {
        let bytes: Vec<u8> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap(), 16).unwrap()).collect();
        let bundle = Bundle::from_bytes(&bytes).unwrap();
        println!("before={:?}", effect(&bundle));
        authz_engine::prepare().unwrap();
        println!("after={:?}", effect(&bundle));
        return;
    }
    let bundle = Bundle::build(vec![Source::new("p.yaml", POLICY)], None).unwrap();
    assert_eq!(effect(&bundle), Effect::Allow);
    let hex: String = bundle.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "a_check_before_prepare_denies_and_after_it_decides", "--nocapture", "--test-threads", "1"])
        .env(CHILD, hex)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("before=Deny"), "{stdout}");
    assert!(stdout.contains("after=Allow"), "{stdout}");
}
