//! The `prepared` feature (the WebAssembly component's engine): only `prepare()` builds the CEL
//! runtime, and a check before it fails closed. Building a bundle prepares the runtime of its
//! process, so the check runs in a child process that only loads the bundle's bytes.
//! Run by `scripts/test.sh` with `--features prepared`.
#![cfg(feature = "prepared")]
#![allow(clippy::unwrap_used, clippy::panic, reason = "test")]

use authz_engine::policy::Effect;
use authz_engine::{Bundle, CheckInput, CheckOptions, Source};

const CHILD: &str = "AUTHZ_PREPARED_TEST_BUNDLE";

const POLICY: &str = r#"
apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: default
  rules:
    - actions: ["view"]
      roles: ["*"]
      effect: EFFECT_ALLOW
      condition:
        match:
          expr: R.attr.owner == P.id
"#;

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
fn a_check_before_prepare_denies_and_after_it_decides() {
    if let Some(path) = std::env::var_os(CHILD) {
        let bundle = Bundle::from_bytes(&std::fs::read(path).unwrap()).unwrap();
        println!("before={:?}", effect(&bundle));
        authz_engine::prepare().unwrap();
        println!("after={:?}", effect(&bundle));
        return;
    }
    let bundle = Bundle::build(vec![Source::new("p.yaml", POLICY)], None).unwrap();
    assert_eq!(effect(&bundle), Effect::Allow);
    let path = std::env::temp_dir().join(format!("authz-prepared-{}.bundle", std::process::id()));
    std::fs::write(&path, bundle.to_bytes()).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "a_check_before_prepare_denies_and_after_it_decides", "--nocapture", "--test-threads", "1"])
        .env(CHILD, &path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("before=Deny"), "{stdout}");
    assert!(stdout.contains("after=Allow"), "{stdout}");
}
