//! The embedding library against real baked components: loading, limits, typed errors, recovery.

mod common;

use authz_wasmtime::{Config, HostError, Pdp};

const REQUEST: &str = r#"{"requestId":"r1","principal":{"id":"alice","roles":["user"]},
  "resources":[{"resource":{"kind":"document","id":"d1","attr":{"owner":"alice"}},"actions":["view"]}],
  "authzOptions":{"now":"2026-01-01T00:00:00Z"}}"#;

#[test]
fn loads_a_baked_component_and_answers_with_its_digest() {
    let (bundle, baked) = common::example_component(Some("v1"));
    let pdp = Pdp::from_bytes(&baked, common::config()).unwrap();
    assert_eq!(pdp.bundle_info().digest, bundle.digest());
    assert_eq!(pdp.bundle_info().label.as_deref(), Some("v1"));
    assert_eq!(pdp.bundle_info().policy_count as usize, bundle.policy_count());
    assert_eq!(pdp.bundle_info().reads_clock, bundle.reads_clock());
    let response: serde_json::Value = serde_json::from_str(&pdp.check_json(REQUEST).unwrap()).unwrap();
    assert_eq!(response["bundleDigest"], bundle.digest());
    assert_eq!(response["bundleLabel"], "v1");
    // The host is an adapter: the answer is exactly the engine's.
    let native = authz_api::cerbos::check_json(&bundle, REQUEST, &Default::default(), &Default::default()).unwrap();
    assert_eq!(response, native);
}

#[test]
fn refuses_unbaked_and_foreign_components() {
    let generic = common::generic_component();
    match Pdp::from_bytes(&generic, common::config()) {
        Err(HostError::Load { source, .. }) => {
            // The seal's own error, typed, is the cause.
            let seal = source.get().downcast_ref::<authz_wasmtime::seal::SealError>();
            assert!(seal.is_some_and(|e| e.to_string().contains("authz bake")), "{source}");
        }
        other => panic!("{:?}", other.map(|p| p.bundle_info().clone())),
    }
    // Even sealed, it has nothing to decide with.
    let sealed = authz_wasmtime::seal::seal(&generic, "", None);
    match Pdp::from_bytes(&sealed, common::config()) {
        Err(HostError::BundleUnavailable(message)) => assert!(message.contains("authz bake"), "{message}"),
        other => panic!("{:?}", other.map(|p| p.bundle_info().clone())),
    }
    assert!(matches!(Pdp::from_bytes(b"not wasm", common::config()), Err(HostError::Load { .. })));
}

#[test]
fn malformed_and_oversized_requests_are_typed_errors() {
    let (_, baked) = common::example_component(None);
    let pdp = Pdp::from_bytes(&baked, Config { max_request_bytes: 4096, ..common::config() }).unwrap();
    match pdp.check_json(r#"{"principal":{"id":"a","roles":[]},"resources":[]}"#) {
        Err(HostError::Request(e)) => assert_eq!(e.path(), "$.principal.roles"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(pdp.check_json("[1]"), Err(HostError::Request(_))));
    let big = format!(r#"{{"principal":{{"id":"{}","roles":["u"]}}}}"#, "x".repeat(5000));
    assert!(matches!(pdp.check_json(&big), Err(HostError::RequestTooLarge { limit: 4096, .. })));
}

#[test]
fn fuel_exhaustion_is_a_typed_error() {
    let (_, baked) = common::example_component(None);
    // Pre-initialized, loading (`bundle-info`) takes a few hundred instructions; a decision more.
    let pdp = Pdp::from_bytes(&baked, Config { fuel: Some(1_000), ..common::config() }).unwrap();
    assert!(matches!(pdp.check_json(REQUEST), Err(HostError::OutOfFuel)));
    assert!(matches!(
        Pdp::from_bytes(&baked, Config { fuel: Some(10), ..common::config() }),
        Err(HostError::OutOfFuel)
    ));
}

#[test]
fn a_decision_over_the_time_limit_fails_closed_and_the_next_one_is_clean() {
    // `xs` of n numbers: the condition compares every pair, n² steps, and is true.
    let policy = r#"{"apiVersion":"api.cerbos.dev/v1","resourcePolicy":{"resource":"doc","version":"default",
      "rules":[{"actions":["view"],"roles":["*"],"effect":"EFFECT_ALLOW",
        "condition":{"match":{"expr":"R.attr.xs.all(x, !R.attr.xs.exists(y, y == x + 1000000))"}}}]}}"#;
    let bundle =
        authz_engine::Bundle::build(vec![authz_engine::Source::new("doc.json", policy.to_string())], None).unwrap();
    let baked = authz_wasmtime::bake::bake(&common::generic_component(), &bundle.to_bytes()).unwrap();
    let request = |n: usize| {
        let xs: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        format!(
            r#"{{"principal":{{"id":"p","roles":["u"]}},"resources":[{{"resource":{{"kind":"doc","id":"1","attr":{{"xs":[{}]}}}},"actions":["view"]}}]}}"#,
            xs.join(",")
        )
    };
    let timeout = std::time::Duration::from_millis(50);
    let pdp = Pdp::from_bytes(&baked, Config { timeout: Some(timeout), ..common::config() }).unwrap();
    // 25 million comparisons: far beyond 50 ms in any interpreter.
    assert!(matches!(pdp.check_json(&request(5_000)), Err(HostError::Timeout(t)) if t == timeout));
    let small: serde_json::Value = serde_json::from_str(&pdp.check_json(&request(3)).unwrap()).unwrap();
    assert_eq!(small["results"][0]["actions"]["view"], "EFFECT_ALLOW", "the next decision runs in a clean instance");
    // Without a limit the same decision completes (here on a list small enough to wait for).
    let unlimited = Pdp::from_bytes(&baked, Config { timeout: None, ..common::config() }).unwrap();
    let done: serde_json::Value = serde_json::from_str(&unlimited.check_json(&request(300)).unwrap()).unwrap();
    assert_eq!(done["results"][0]["actions"]["view"], "EFFECT_ALLOW");
}

#[test]
fn a_decision_over_the_memory_limit_fails_closed_and_the_next_one_is_clean() {
    let (_, baked) = common::example_component(None);
    let pdp = Pdp::from_bytes(&baked, Config { max_memory_bytes: 24 << 20, ..common::config() }).unwrap();
    let ok = pdp.check_json(REQUEST).unwrap();
    // 8 MB of attributes: the copy into the guest alone is within the limit, parsing it is not.
    let attr = format!("{{{}}}", (0..200_000).map(|i| format!(r#""k{i}":[{i},{i}]"#)).collect::<Vec<_>>().join(","));
    let request = authz_wasmtime::types::CheckRequest {
        request_id: "big".into(),
        principal: authz_wasmtime::types::Principal {
            id: "alice".into(),
            roles: vec!["user".into()],
            attr_json: attr,
            policy_version: String::new(),
            scope: String::new(),
        },
        resources: vec![],
        aux_data_json: None,
        options: authz_wasmtime::types::CheckOptions {
            now: None,
            globals_json: None,
            default_policy_version: None,
            default_scope: None,
            lenient_scopes: false,
            schema_enforcement: authz_wasmtime::types::SchemaEnforcement::None,
            strict_evaluation: false,
        },
    };
    let err = pdp.check(&request).unwrap_err();
    assert!(matches!(err, HostError::MemoryLimit(_) | HostError::Trap(_)), "{err:?}");
    assert_eq!(pdp.check_json(REQUEST).unwrap(), ok, "the next decision runs in a clean instance");
}

#[test]
fn the_host_supplies_now_only_when_asked() {
    let policy = r#"{"apiVersion":"api.cerbos.dev/v1","resourcePolicy":{"resource":"clock","version":"default",
      "rules":[{"actions":["tick"],"roles":["*"],"effect":"EFFECT_ALLOW","condition":{"match":{"expr":"now() == now()"}}}]}}"#;
    let bundle =
        authz_engine::Bundle::build(vec![authz_engine::Source::new("clock.json", policy.to_string())], None).unwrap();
    let baked = authz_wasmtime::bake::bake(&common::generic_component(), &bundle.to_bytes()).unwrap();
    let request = r#"{"principal":{"id":"p","roles":["u"]},"resources":[{"resource":{"kind":"clock","id":"1"},"actions":["tick"]}]}"#;
    for (supply_now, want) in [(true, "EFFECT_ALLOW"), (false, "EFFECT_DENY")] {
        let pdp = Pdp::from_bytes(&baked, Config { supply_now, ..common::config() }).unwrap();
        assert!(pdp.bundle_info().reads_clock, "the component reports that the bundle reads the time");
        let response: serde_json::Value = serde_json::from_str(&pdp.check_json(request).unwrap()).unwrap();
        assert_eq!(response["results"][0]["actions"]["tick"], want, "supply_now = {supply_now}");
    }
}

#[test]
fn the_decision_hook_sees_every_decision_with_rule_and_digest() {
    use authz_wasmtime::{DecisionHook, DecisionRecord};
    use std::sync::{Arc, Mutex};
    let (bundle, baked) = common::example_component(Some("hooked"));
    let seen: Arc<Mutex<Vec<DecisionRecord>>> = Arc::default();
    let sink = seen.clone();
    let hook = DecisionHook::new(move |r| sink.lock().unwrap().push(r.clone()));
    let config = Config { on_decision: Some(hook), runtime_name: "test-runtime".into(), ..common::config() };
    let pdp = Pdp::from_bytes(&baked, config).unwrap();

    // Typed: policy, rule and scope come from the component.
    let req = authz_api::cerbos::decode_request(REQUEST, &Default::default()).unwrap();
    let typed = authz_wasmtime::convert::request_to_wit(&req, &Default::default());
    pdp.check(&typed).unwrap();
    let records = std::mem::take(&mut *seen.lock().unwrap());
    let [r] = records.as_slice() else { panic!("{records:?}") };
    assert_eq!((r.request_id.as_str(), r.principal_id.as_str()), ("r1", "alice"));
    assert_eq!((r.resource_kind.as_str(), r.resource_id.as_str(), r.action.as_str()), ("document", "d1", "view"));
    assert!(r.allowed);
    assert_eq!(r.effect(), "EFFECT_ALLOW");
    assert_eq!(r.policy, "resource.document.vdefault");
    assert_eq!(r.rule, "read", "alice owns d1: the `read` rule (derived role owner) allows");
    assert_eq!(r.bundle_digest, bundle.digest());
    assert_eq!(r.bundle_label.as_deref(), Some("hooked"));
    assert_eq!(r.runtime, "test-runtime");
    assert_eq!(r.to_json()["effect"], "EFFECT_ALLOW");

    // JSON: effect from the response, policy from its meta when asked for.
    pdp.check_json(&REQUEST.replace("\"requestId\":\"r1\"", "\"requestId\":\"r2\",\"includeMeta\":true")).unwrap();
    pdp.check_json(&REQUEST.replace("\"view\"", "\"delete\"")).unwrap();
    let records = std::mem::take(&mut *seen.lock().unwrap());
    let [with_meta, without] = records.as_slice() else { panic!("{records:?}") };
    assert_eq!((with_meta.request_id.as_str(), with_meta.policy.as_str()), ("r2", "resource.document.vdefault"));
    assert!(with_meta.allowed);
    assert_eq!((without.action.as_str(), without.policy.as_str()), ("delete", ""));
    assert!(without.allowed, "the owner may delete an unlocked document");
}

#[test]
fn typed_requests_are_validated_like_json_ones_with_the_same_paths() {
    let (_, baked) = common::example_component(None);
    let pdp = Pdp::from_bytes(&baked, common::config()).unwrap();
    let req = authz_api::cerbos::decode_request(REQUEST, &Default::default()).unwrap();
    let valid = authz_wasmtime::convert::request_to_wit(&req, &Default::default());
    assert!(pdp.check(&valid).is_ok());
    let path_of = |request: &authz_wasmtime::types::CheckRequest| match pdp.check(request) {
        Err(HostError::Request(e)) => e.path().to_string(),
        other => panic!("{other:?}"),
    };
    let mut r = valid.clone();
    r.principal.roles.clear();
    assert_eq!(path_of(&r), "$.principal.roles");
    let mut r = valid.clone();
    r.principal.attr_json = "[1]".into();
    assert_eq!(path_of(&r), "$.principal.attr");
    let mut r = valid.clone();
    r.resources[0].resource.attr_json = "{".into();
    assert_eq!(path_of(&r), "$.resources[0].resource.attr");
    let mut r = valid.clone();
    r.resources[0].actions.push(String::new());
    assert_eq!(path_of(&r), "$.resources[0].actions[1]");
    let mut r = valid.clone();
    r.resources = vec![r.resources[0].clone(); 51];
    assert_eq!(path_of(&r), "$.resources");
    let mut r = valid.clone();
    r.aux_data_json = Some(r#"{"jwt":{},"unknown":1}"#.into());
    assert_eq!(path_of(&r), "$.auxData");
    let mut r = valid;
    r.options.now = Some("yesterday".into());
    assert_eq!(path_of(&r), "$.options.now");
}

#[test]
fn the_compile_cache_keeps_the_most_recently_used_artifacts_only() {
    let (_, baked) = common::example_component(None);
    let dir = tempfile::tempdir().unwrap();
    let artifact = |i: usize| dir.path().join(format!("{:064x}-{:016x}.cwasm", i, 0));
    // Older than anything the load writes: evicted first.
    for i in 0..authz_wasmtime::CACHE_KEEP + 4 {
        let file = std::fs::File::create(artifact(i)).unwrap();
        file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000 + i as u64)).unwrap();
    }
    std::fs::write(dir.path().join("operator-notes.txt"), "not ours").unwrap();
    let config = || Config { cache_dir: Some(dir.path().to_path_buf()), ..Config::default() };
    let first = Pdp::from_bytes(&baked, config()).unwrap();
    let names = || {
        let mut n: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    let after = names();
    assert!(after.contains(&"operator-notes.txt".to_string()), "{after:?}");
    let artifacts: Vec<&String> = after.iter().filter(|n| n.ends_with(".cwasm")).collect();
    assert_eq!(artifacts.len(), authz_wasmtime::CACHE_KEEP, "{after:?}");
    // The oldest went; the newest fakes and the real artifact stayed.
    assert!(!artifact(0).exists() && !artifact(4).exists() && artifact(5).exists(), "{after:?}");
    // A second load reads the cached artifact and answers the same.
    let second = Pdp::from_bytes(&baked, config()).unwrap();
    assert_eq!(names(), after);
    assert_eq!(second.check_json(REQUEST).unwrap(), first.check_json(REQUEST).unwrap());
}
