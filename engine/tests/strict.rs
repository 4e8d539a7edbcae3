//! Strict evaluation: a condition that fails to evaluate denies the action and ends its
//! search, so a later role of the principal cannot allow it; an earlier role still can.
//! (The real Cerbos 0.55 with `engine.strictEvaluation=true`, asked with this policy: roles
//! `[a, b]` DENY, `[b, a]` ALLOW.)

use authz_engine::Effect;
use authz_engine::{Bundle, CheckInput, CheckOptions, Source};

fn view(roles: &[&str], strict: bool) -> Result<Effect, String> {
    let policy = serde_json::json!({
        "apiVersion": "api.cerbos.dev/v1",
        "resourcePolicy": {"resource": "doc", "version": "default", "rules": [
            {"actions": ["view"], "roles": ["a"], "effect": "EFFECT_ALLOW",
             "condition": {"match": {"expr": "request.resource.attr.missing == \"x\""}}},
            {"actions": ["view"], "roles": ["b"], "effect": "EFFECT_ALLOW"}
        ]}
    });
    let bundle = Bundle::build(vec![Source::new("p.json", policy.to_string())], None).map_err(|e| e.to_string())?;
    let input: CheckInput = serde_json::from_value(serde_json::json!({
        "principal": {"id": "p", "roles": roles},
        "resource": {"kind": "doc", "id": "d", "attr": {}},
        "actions": ["view"],
    }))
    .map_err(|e| e.to_string())?;
    let opts = CheckOptions { strict_evaluation: strict, ..CheckOptions::default() };
    let out = bundle.check(&opts, &[input]);
    out.first().and_then(|o| o.actions.get("view")).map(|a| a.effect).ok_or_else(|| "no decision".to_string())
}

#[test]
fn a_failing_condition_ends_the_search_under_strict_evaluation() {
    assert_eq!(view(&["a", "b"], true), Ok(Effect::Deny));
    assert_eq!(view(&["b", "a"], true), Ok(Effect::Allow));
}

#[test]
fn without_strict_evaluation_another_role_allows() {
    assert_eq!(view(&["a", "b"], false), Ok(Effect::Allow));
    assert_eq!(view(&["b", "a"], false), Ok(Effect::Allow));
}
