//! Workloads shared by the benchmarks: the same decisions written as Cerbos
//! policies for authz, as Cedar policies and as Rego, with request data.

use authz_engine::{Bundle, CheckInput, Source};

/// Cerbos policies of the single-check workload: a derived role with an owner condition.
pub const CERBOS_SINGLE: &str = include_str!("../policies/single.yaml");

/// The same policy in Cedar.
pub const CEDAR_SINGLE: &str = r#"
permit(principal in Role::"user", action in [Action::"view", Action::"edit", Action::"delete"], resource is Document)
  when { resource.owner == principal };
permit(principal in Role::"admin", action == Action::"view", resource is Document);
"#;

/// The same policy in Rego.
pub const REGO_SINGLE: &str = r#"
package authz
import rego.v1

default allow := false

allow if {
    input.action in {"view", "edit", "delete"}
    "user" in input.principal.roles
    input.resource.owner == input.principal.id
}

allow if {
    input.action == "view"
    "admin" in input.principal.roles
}
"#;

/// Principal attributes (the same data every engine sees).
pub fn principal_attr() -> serde_json::Value {
    serde_json::json!({ "department": "finance", "level": 4, "region": "eu" })
}

/// The owner of resource `i`: `alice` when `i` is even.
pub fn owner(i: usize) -> &'static str {
    if i % 2 == 0 {
        "alice"
    } else {
        "bob"
    }
}

/// Resource `i`'s attributes.
pub fn resource_attr(i: usize) -> serde_json::Value {
    serde_json::json!({ "owner": owner(i), "department": "finance", "status": "DRAFT", "size": 1024 })
}

/// The authz bundle of the single-check workload.
pub fn authz_bundle() -> Bundle {
    Bundle::build(vec![Source::new("policies.yaml", CERBOS_SINGLE)], None).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    })
}

/// An authz input for resource `i` and `actions`.
pub fn authz_input(i: usize, actions: &[&str]) -> CheckInput {
    serde_json::from_value(serde_json::json!({
        "requestId": "bench",
        "principal": { "id": "alice", "roles": ["user"], "attr": principal_attr() },
        "resource": { "kind": "document", "id": format!("doc-{i}"), "attr": resource_attr(i) },
        "actions": actions,
    }))
    .unwrap_or_default()
}

/// The Rego input document for resource `i` and `action`.
pub fn rego_input(i: usize, action: &str) -> serde_json::Value {
    serde_json::json!({
        "principal": { "id": "alice", "roles": ["user"], "attr": principal_attr() },
        "resource": { "kind": "document", "id": format!("doc-{i}"), "owner": owner(i), "attr": resource_attr(i) },
        "action": action,
    })
}

/// Cedar entities for `n` documents, the user alice and the roles.
pub fn cedar_entities_json(n: usize) -> serde_json::Value {
    let mut entities = vec![
        serde_json::json!({ "uid": {"type": "User", "id": "alice"}, "attrs": principal_attr(), "parents": [{"type": "Role", "id": "user"}] }),
        serde_json::json!({ "uid": {"type": "User", "id": "bob"}, "attrs": principal_attr(), "parents": [{"type": "Role", "id": "user"}] }),
        serde_json::json!({ "uid": {"type": "Role", "id": "user"}, "attrs": {}, "parents": [] }),
        serde_json::json!({ "uid": {"type": "Role", "id": "admin"}, "attrs": {}, "parents": [] }),
    ];
    for i in 0..n {
        entities.push(serde_json::json!({
            "uid": {"type": "Document", "id": format!("doc-{i}")},
            "attrs": {
                "owner": {"__entity": {"type": "User", "id": owner(i)}},
                "department": "finance", "status": "DRAFT", "size": 1024,
            },
            "parents": [],
        }));
    }
    serde_json::Value::Array(entities)
}

/// A generated bundle of `kinds` resource kinds with `rules` rules each.
pub fn large_bundle_sources(kinds: usize, rules: usize) -> Vec<Source> {
    let mut out = vec![Source::new(
        "derived_roles/common.yaml",
        "apiVersion: api.cerbos.dev/v1\nderivedRoles:\n  name: common\n  definitions:\n    - name: owner\n      parentRoles: [\"user\"]\n      condition:\n        match:\n          expr: R.attr.owner == P.id\n",
    )];
    for k in 0..kinds {
        let mut text = format!(
            "apiVersion: api.cerbos.dev/v1\nresourcePolicy:\n  resource: kind_{k}\n  version: default\n  importDerivedRoles: [common]\n  rules:\n"
        );
        for r in 0..rules {
            if r == 0 {
                text.push_str("    - actions: [\"view\"]\n      derivedRoles: [owner]\n      effect: EFFECT_ALLOW\n");
            } else {
                text.push_str(&format!(
                    "    - actions: [\"action_{r}\"]\n      roles: [\"role_{r}\"]\n      effect: EFFECT_ALLOW\n      condition:\n        match:\n          expr: R.attr.size > {r}\n"
                ));
            }
        }
        out.push(Source::new(format!("resource_policies/kind_{k}.yaml"), text));
    }
    out
}
