//! Variables are evaluated where a condition reads them, directly or through another
//! variable, and nowhere else (Cerbos inlines them into the conditions that use them).

#![allow(clippy::unwrap_used, reason = "a broken fixture must stop the test loudly")]

use authz_engine::Effect;
use authz_engine::{Bundle, CheckInput, CheckOptions, Source};

const POLICY: &str = r#"apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: default
  variables:
    local:
      broken: "1 / 0 == 1"
      base: "R.attr.owner"
      owner: "V.base == P.id"
  rules:
    - name: own
      actions: ["view"]
      effect: EFFECT_ALLOW
      roles: ["*"]
      condition:
        match:
          expr: V.owner
    - name: fails
      actions: ["break"]
      effect: EFFECT_ALLOW
      roles: ["*"]
      condition:
        match:
          expr: V.broken
"#;

fn check(actions: &[&str]) -> authz_engine::CheckOutput {
    let bundle = Bundle::build(vec![Source::new("p.yaml", POLICY)], None).unwrap();
    let input: CheckInput = serde_json::from_value(serde_json::json!({
        "principal": {"id": "alice", "roles": ["user"]},
        "resource": {"kind": "doc", "id": "1", "attr": {"owner": "alice"}},
        "actions": actions,
    }))
    .unwrap();
    bundle.check(&CheckOptions::default(), &[input]).remove(0)
}

#[test]
fn a_variable_no_condition_reads_is_never_evaluated() {
    let out = check(&["view"]);
    assert_eq!(out.actions["view"].effect, Effect::Allow, "through `V.owner`, which reads `V.base`");
    // `broken` would fail; only `view`'s condition ran, and it does not read it.
    assert!(out.evaluation_errors.is_empty(), "{:?}", out.evaluation_errors);
    let out = check(&["view", "break"]);
    assert_eq!(out.actions["break"].effect, Effect::Deny);
    assert!(out.evaluation_errors.iter().any(|e| e.expression == "1 / 0 == 1"), "{:?}", out.evaluation_errors);
}

#[test]
fn dependencies_are_followed_past_sixty_four_variables() {
    // 70 variables in a chain: the condition reads the last, which needs every one before it.
    let mut vars = String::from("      v0: \"1\"\n");
    for i in 1..70 {
        vars.push_str(&format!("      v{i}: \"V.v{} + 1\"\n", i - 1));
    }
    vars.push_str("      unused: \"1 / 0 == 1\"\n");
    let policy = format!(
        "apiVersion: api.cerbos.dev/v1\nresourcePolicy:\n  resource: doc\n  version: default\n  variables:\n    local:\n{vars}  rules:\n    - actions: [\"view\"]\n      effect: EFFECT_ALLOW\n      roles: [\"*\"]\n      condition:\n        match:\n          expr: V.v69 == 70\n"
    );
    let bundle = Bundle::build(vec![Source::new("p.yaml", policy)], None).unwrap();
    let input: CheckInput = serde_json::from_value(serde_json::json!({
        "principal": {"id": "alice", "roles": ["user"]},
        "resource": {"kind": "doc", "id": "1"},
        "actions": ["view"],
    }))
    .unwrap();
    let out = bundle.check(&CheckOptions::default(), &[input]).remove(0);
    assert_eq!(out.actions["view"].effect, Effect::Allow, "{:?}", out.evaluation_errors);
    assert!(out.evaluation_errors.is_empty(), "{:?}", out.evaluation_errors);
}
