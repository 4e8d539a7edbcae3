//! Any text as a DENY rule's condition: refused at build, or evaluated against a request,
//! never a panic or a hang.
#![no_main]

use authz_engine::{Bundle, CheckInput, CheckOptions, Source};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn input() -> &'static CheckInput {
    static INPUT: OnceLock<CheckInput> = OnceLock::new();
    INPUT.get_or_init(|| {
        serde_json::from_value(serde_json::json!({
            "principal": {"id": "alice", "roles": ["user"], "attr": {"teams": ["a", "b"], "n": 3, "ip": "10.0.0.1"}},
            "resource": {"kind": "doc", "id": "1", "attr": {"owner": "alice", "tags": {"x": [1, 2.5, "s"]}}},
            "actions": ["delete"],
        }))
        .unwrap_or_default()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(expr) = std::str::from_utf8(data) else { return };
    if expr.contains(['\n', '\r']) {
        return;
    }
    // A JSON policy: the expression goes in as a JSON string, whatever its characters.
    let policy = serde_json::json!({
        "apiVersion": "api.cerbos.dev/v1",
        "resourcePolicy": {
            "resource": "doc", "version": "default",
            "variables": {"local": {"v": "P.attr.n + 1"}},
            "rules": [{"actions": ["*"], "effect": "EFFECT_DENY", "roles": ["*"],
                       "condition": {"match": {"expr": expr}}}],
        },
    });
    let Ok(bundle) = Bundle::build(vec![Source::new("p.json", policy.to_string())], None) else { return };
    let now = authz_engine::parse_time("2026-01-01T00:00:00Z");
    let opts = CheckOptions { now, ..CheckOptions::default() };
    let _ = bundle.check(&opts, std::slice::from_ref(input()));
});
