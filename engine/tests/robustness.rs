//! Bad input never panics: malformed policies and requests give errors, and checks
//! on hostile input deny.

use authz_api::cerbos::{decode_request, Limits};
use authz_engine::Effect;
use authz_engine::{Bundle, CheckInput, CheckOptions, Source};
use proptest::prelude::*;

mod common;

use common::OWNER_POLICY as POLICY;

fn bundle(text: &str) -> Result<Bundle, authz_engine::BuildErrors> {
    Bundle::build(vec![Source::new("p.yaml", text)], None)
}

fn input(v: serde_json::Value) -> CheckInput {
    serde_json::from_value(v).unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_policy_text_never_panics(text in "\\PC{0,400}") {
        let _ = bundle(&text);
    }

    #[test]
    fn mutated_policy_never_panics(pos in 0usize..POLICY.len(), junk in "[ -~\\n]{0,12}") {
        let mut text = POLICY.to_string();
        text.insert_str(pos, &junk);
        if let Err(e) = bundle(&text) {
            for err in e.errors() {
                prop_assert_eq!(err.location().file(), "p.yaml");
                prop_assert!(err.location().line() >= 1);
            }
        }
    }

    #[test]
    fn arbitrary_request_text_never_panics(text in "\\PC{0,400}") {
        let _ = decode_request(&text, &Limits::default());
    }

    #[test]
    fn only_the_owner_views(owner in "[a-z]{0,6}", id in "[a-z]{1,6}") {
        let b = bundle(POLICY).expect("valid policy");
        let out = b.check(&CheckOptions::default(), &[input(serde_json::json!({
            "principal": {"id": id, "roles": ["user"]},
            "resource": {"kind": "doc", "id": "1", "attr": {"owner": owner}},
            "actions": ["view", "edit"],
        }))]);
        let allowed = |a: &str| out[0].actions[a].effect == Effect::Allow;
        prop_assert_eq!(allowed("view"), owner == id);
        prop_assert!(!allowed("edit"));
    }
}

#[test]
fn deeply_nested_request_is_an_error() {
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    let text = format!(r#"{{"principal":{{"id":"a","roles":["r"],"attr":{{"x":{deep}}}}},"resources":[]}}"#);
    let err = decode_request(&text, &Limits::default()).expect_err("1,000 levels must be refused");
    assert!(err.to_string().contains("recursion"), "{err}");
}

#[test]
fn oversized_request_is_an_error() {
    let big = "x".repeat(10 * 1024 * 1024);
    let text = format!(r#"{{"principal":{{"id":"a","roles":["r"],"attr":{{"x":"{big}"}}}},"resources":[]}}"#);
    let err = decode_request(&text, &Limits::default()).expect_err("10 MB must be refused");
    assert_eq!(err.path(), "$");
}

#[test]
fn too_many_resources_names_the_path() {
    let resources: Vec<_> = (0..51)
        .map(|i| serde_json::json!({"actions": ["a"], "resource": {"kind": "k", "id": i.to_string()}}))
        .collect();
    let text = serde_json::json!({"principal": {"id": "a", "roles": ["r"]}, "resources": resources}).to_string();
    let err = decode_request(&text, &Limits::default()).expect_err("51 resources exceed the default limit");
    assert_eq!(err.path(), "$.resources");
}

#[test]
fn wrong_type_names_the_json_path() {
    let text = r#"{"principal":{"id":"a","roles":"admin"},"resources":[]}"#;
    let err = decode_request(text, &Limits::default()).expect_err("roles must be a list");
    assert_eq!(err.path(), "$.principal.roles");
}

#[test]
fn syntax_errors_name_the_innermost_known_path() {
    for (text, path) in
        [("{not json", "$"), ("", "$"), (r#"{"principal": {"id": "a", "roles": [}"#, "$.principal.roles[0]")]
    {
        let err = decode_request(text, &Limits::default()).expect_err("malformed JSON");
        assert_eq!(err.path(), path, "{text:?}: {err}");
    }
}

#[test]
fn deeply_nested_expression_is_a_build_error() {
    let expr = format!("{}true{}", "(".repeat(5000), ")".repeat(5000));
    let text = POLICY.replace("R.attr.owner == P.id", &expr);
    let err = bundle(&text).expect_err("5,000 nested parentheses must be refused");
    assert!(err.to_string().contains("p.yaml:"), "{err}");
}

#[test]
fn long_operator_chain_is_a_build_error_or_evaluates() {
    let expr = format!("1{} == 1", " + 1".repeat(3000));
    let text = POLICY.replace("R.attr.owner == P.id", &expr);
    assert!(bundle(&text).is_err(), "3,000 chained operators must be refused");
    let expr = format!("1{} == 101", " + 1".repeat(100));
    let text = POLICY.replace("R.attr.owner == P.id", &expr);
    assert!(bundle(&text).is_ok(), "100 chained operators are fine");
}

#[test]
fn failing_condition_denies_and_is_reported() {
    let text = POLICY.replace("R.attr.owner == P.id", "1 / (size(R.attr) - size(R.attr)) == 1");
    let b = bundle(&text).expect("valid policy");
    let out = b.check(
        &CheckOptions::default(),
        &[input(serde_json::json!({
            "principal": {"id": "a", "roles": ["user"]},
            "resource": {"kind": "doc", "id": "1"},
            "actions": ["view"],
        }))],
    );
    assert_eq!(out[0].actions["view"].effect, Effect::Deny);
    assert!(!out[0].evaluation_errors.is_empty());
}

#[test]
fn every_error_is_reported_with_its_line() {
    let text = r#"
apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: default
  importDerivedRoles: [missing_set]
  rules:
    - actions: ["view"]
      derivedRoles: [ghost]
      effect: EFFECT_ALLOW
    - actions: ["edit"]
      roles: ["*"]
      effect: EFFECT_ALLOW
      condition:
        match:
          expr: "R.attr.x ^^ 1"
"#;
    let err = bundle(text).expect_err("three problems");
    let lines: Vec<usize> = err.errors().iter().map(|e| e.location().line()).collect();
    assert_eq!(err.errors().len(), 3, "{err}");
    assert!(lines.contains(&6), "import error on line 6: {err}");
    assert!(lines.contains(&9), "unknown derived role on line 9: {err}");
    assert!(lines.contains(&16), "bad CEL on line 16: {err}");
}

#[test]
fn bundle_round_trips_through_bytes() {
    let b = Bundle::build(vec![Source::new("p.yaml", POLICY)], Some("v1".into())).expect("valid");
    let back = Bundle::from_bytes(&b.to_bytes()).expect("loads");
    assert_eq!(back.digest(), b.digest());
    assert_eq!(back.label(), Some("v1"));
    let mut tampered = b.to_bytes();
    let at = tampered.windows(4).position(|w| w == b"P.id").expect("the condition is in the bytes");
    tampered[at + 2] = b'x';
    assert!(Bundle::from_bytes(&tampered).is_err(), "altered bytes must not load");
    assert!(Bundle::from_bytes(&b.to_bytes()[..20]).is_err(), "truncated bytes must not load");
    assert!(Bundle::from_bytes(b"not a bundle at all, not at all, really").is_err());
}

#[test]
fn into_inputs_takes_the_request_apart_into_what_inputs_copies() {
    let text = r#"{"requestId":"r","principal":{"id":"p","roles":["u"],"attr":{"a":1}},
      "auxData":{"jwt":{"token":"a.b.c","keySetId":"ks"}},
      "resources":[{"resource":{"kind":"k","id":"1"},"actions":["a"]},
                   {"resource":{"kind":"k","id":"2","attr":{"b":[1]}},"actions":["a","b"]},
                   {"resource":{"kind":"j","id":"3"},"actions":["c"]}]}"#;
    let req = decode_request(text, &Limits::default()).expect("valid request");
    let copied = req.inputs();
    assert_eq!(copied.len(), 3);
    assert_eq!(copied[2].resource.id, "3");
    assert_eq!(copied[1].principal.attr["a"], 1);
    assert_eq!(req.into_inputs(), copied);
}
