//! Request attributes are converted to CEL lazily; every way a condition can use a
//! map must behave as it does on a fully built map.

use authz_engine::Effect;
use authz_engine::{Bundle, CheckInput, CheckOptions, Source};

fn decide(expr: &str) -> (Effect, Vec<String>) {
    let policy = serde_json::json!({
        "apiVersion": "api.cerbos.dev/v1",
        "resourcePolicy": {"resource": "doc", "version": "default", "rules": [
            {"actions": ["t"], "roles": ["*"], "effect": "EFFECT_ALLOW", "condition": {"match": {"expr": expr}}}
        ]}
    });
    let bundle = match Bundle::build(vec![Source::new("p.json", policy.to_string())], None) {
        Ok(b) => b,
        Err(e) => return (Effect::Deny, vec![e.to_string()]),
    };
    let input: CheckInput = serde_json::from_value(serde_json::json!({
        "principal": {"id": "alice", "roles": ["user"], "attr": {"teams": ["a", "b"], "org": {"id": 7}}},
        "resource": {"kind": "doc", "id": "d1", "attr": {"a": 1, "b": {"c": "x", "n": 2.5}, "tags": ["p", "q"]}},
        "actions": ["t"],
    }))
    .unwrap_or_default();
    let out = bundle.check(&CheckOptions::default(), &[input]);
    let first = out.into_iter().next();
    let effect = first.as_ref().and_then(|o| o.actions.get("t")).map(|a| a.effect).unwrap_or(Effect::Deny);
    let errors = first.map(|o| o.evaluation_errors.into_iter().map(|e| e.message).collect()).unwrap_or_default();
    (effect, errors)
}

#[test]
fn map_operations_on_attributes() {
    let holds = [
        r#"R.attr == {"a": 1, "b": {"c": "x", "n": 2.5}, "tags": ["p", "q"]}"#,
        r#"R.attr.b == {"n": 2.5, "c": "x"}"#,
        r#"{"c": "x", "n": 2.5} == R.attr.b"#,
        r#""a" in R.attr"#,
        r#"!("z" in R.attr)"#,
        "size(R.attr) == 3",
        "R.attr.size() == 3",
        "has(R.attr.b.c)",
        "!has(R.attr.b.zz)",
        r#"R.attr.b.c == "x""#,
        r#"R.attr["b"]["c"] == "x""#,
        r#"R.attr.exists(k, k == "tags")"#,
        "R.attr.all(k, size(k) >= 1)",
        "R.attr.b.all(k, v, k != '')",
        r#"json.encode(R.attr.b) == "{\"c\":\"x\",\"n\":2.5}""#,
        r#"{"m": R.attr.b}.m.c == "x""#,
        r#"[R.attr.b][0].c == "x""#,
        "R.attr.b == R.attr.b",
        r#""q" in R.attr.tags"#,
        "P.attr.org.id == 7",
        r#"P.attr.teams.exists(t, t == "b")"#,
        "R.attr.b.n > 2",
        r#"request.resource.attr.b.c == "x" && request.principal.attr.org.id == 7"#,
        "R.attr.map(k, k).size() == 3",
        r#"cel.bind(b, R.attr.b, b.c + b.c == "xx")"#,
    ];
    for expr in holds {
        let (effect, errors) = decide(expr);
        assert_eq!(effect, Effect::Allow, "`{expr}` should hold; errors: {errors:?}");
    }
}

#[test]
fn missing_attributes_are_errors_that_deny() {
    for expr in ["R.attr.missing == 1", "R.attr.b.missing == 1", "P.attr.org.missing.x == 1"] {
        let (effect, errors) = decide(expr);
        assert_eq!(effect, Effect::Deny, "{expr}");
        assert!(errors.iter().any(|e| e.contains("missing")), "`{expr}` should report the missing key: {errors:?}");
    }
}
