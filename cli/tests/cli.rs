//! The `authz` binary as external tools call it: exit codes, messages, JSON.

#![expect(clippy::expect_used, reason = "test helpers outside #[test]: a failed setup step should abort the test")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn authz(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_authz"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("authz runs");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("authz finishes")
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/example")
}

/// A directory of test files under the system's temp dir, removed when dropped.
fn scratch(name: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(&format!("authz-cli-{name}-")).tempdir().expect("temp dir");
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    dir
}

#[test]
fn compile_example_runs_its_suites() {
    let out = authz(&["compile", example().to_str().expect("utf8")], "");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("1 test suite(s): all passed"), "{stdout}");
}

#[test]
fn compile_reports_every_error_with_file_line_col() {
    let dir = scratch(
        "broken",
        &[(
            "rp.yaml",
            "apiVersion: api.cerbos.dev/v1\nresourcePolicy:\n  resource: r\n  version: default\n  importDerivedRoles: [nope]\n  rules:\n    - actions: [a]\n      derivedRoles: [ghost]\n      effect: EFFECT_ALLOW\n",
        )],
    );
    let out = authz(&["compile", dir.path().to_str().expect("utf8")], "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("rp.yaml:5:"), "{stderr}");
    assert!(stderr.contains("rp.yaml:8:"), "{stderr}");
}

#[test]
fn compile_fails_when_a_suite_fails() {
    let dir = scratch(
        "failing-suite",
        &[
            ("rp.yaml", "apiVersion: api.cerbos.dev/v1\nresourcePolicy:\n  resource: r\n  version: default\n  rules:\n    - actions: [a]\n      roles: [user]\n      effect: EFFECT_ALLOW\n"),
            (
                "r_test.yaml",
                "name: S\nprincipals:\n  u: {id: u, roles: [guest]}\nresources:\n  x: {kind: r, id: x}\ntests:\n  - name: t\n    input: {principals: [u], resources: [x], actions: [a]}\n    expected:\n      - {principal: u, resource: x, actions: {a: EFFECT_ALLOW}}\n",
            ),
        ],
    );
    let out = authz(&["compile", dir.path().to_str().expect("utf8")], "");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL t / u / x / a: expected EFFECT_ALLOW, got EFFECT_DENY"), "{stdout}");
}

#[test]
fn check_answers_with_digest_and_meta() {
    let request = std::fs::read_to_string(example().join("../example-request.json")).expect("request");
    let out =
        authz(&["check", "--policies", example().to_str().expect("utf8"), "--now", "2026-11-02T10:00:00Z"], &request);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let resp: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON response");
    assert!(resp["bundleDigest"].as_str().is_some_and(|d| d.starts_with("sha256:")), "{resp}");
    assert_eq!(resp["results"][0]["actions"]["approve"], "EFFECT_ALLOW", "{resp}");
    assert_eq!(resp["results"][0]["actions"]["edit"], "EFFECT_DENY", "{resp}");
    assert_eq!(resp["results"][0]["meta"]["actions"]["approve"]["matchedPolicy"], "resource.document.vdefault");
    assert_eq!(resp["results"][1]["actions"]["invoke"], "EFFECT_DENY", "alice is no SPIFFE workload: {resp}");
}

#[test]
fn malformed_request_exits_2_naming_the_path() {
    let out = authz(
        &["check", "--policies", example().to_str().expect("utf8")],
        r#"{"principal":{"id":"a","roles":["r"]},"resources":[{"actions":[7],"resource":{"kind":"document"}}]}"#,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("$.resources[0].actions[0]"), "{stderr}");
    let out = authz(&["check", "--policies", example().to_str().expect("utf8")], "not json");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_bad_key_set_in_a_cerbos_config_is_reported_in_that_file_at_its_key_set() {
    let dir = scratch(
        "keyset",
        &[
            ("keys/bad.jwk", "this is no JWK"),
            (
                "cerbos.yaml",
                "server:\n  httpListenAddr: \":3592\"\nauxData:\n  jwt:\n    keySets:\n      - id: ks1\n        local:\n          file: keys/bad.jwk\n",
            ),
        ],
    );
    let config = dir.path().join("cerbos.yaml");
    let example = example();
    let args = ["compile", example.to_str().expect("utf8"), "--cerbos-config", config.to_str().expect("utf8")];
    let out = authz(&args, "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a key set that cannot be read must fail the build: {stderr}");
    assert!(stderr.contains(&format!("{}:6: ", config.display())), "not located at `- id: ks1` (line 6): {stderr}");
    assert!(stderr.contains("keyset 'ks1'"), "{stderr}");
    assert!(!stderr.contains("_authz/auxdata.yaml"), "{stderr}");
}

#[test]
fn serve_refuses_a_cerbos_config_it_cannot_honour_naming_the_file_and_key() {
    let cases = [
        ("storage:\n  driver: git\n  git:\n    url: https://example.com/policies.git\n", "storage.driver"),
        ("storage:\n  driver: disk\n  disk:\n    directory: /p\nserver:\n  tls:\n    cert: /c.pem\n    key: /k.pem\n", "server.tls"),
        ("audit:\n  enabled: true\n  backend: kafka\n", "audit.backend"),
        ("engine:\n  defaultPolicyVersion: [a]\n", "engine.defaultPolicyVersion"),
    ];
    for (text, key) in cases {
        let dir = scratch("serve-config", &[(".cerbos.yaml", text)]);
        let config = dir.path().join(".cerbos.yaml");
        // Were it to start, it would stop when its standard input closes (at once).
        let args =
            ["serve", "--exit-on-stdin-close", "--addr", "127.0.0.1:0", "--config", config.to_str().expect("utf8")];
        let out = authz(&args, "");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{key}: it started: {stderr}");
        assert!(stderr.contains(&format!("{}: {key}:", config.display())), "{key}: {stderr}");
    }
    let out = authz(&["serve", "--exit-on-stdin-close", "--addr", "127.0.0.1:0", "--audit-required"], "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("--audit-required needs an audit log"), "{stderr}");
}

/// `authz plan` of the example: `edit` is the owner's (derived role `owner`, `R.attr.owner ==
/// P.id`); `delete` too, unless the document is locked (`no-delete-when-locked`).
#[test]
fn plan_answers_a_filter_over_the_attributes_not_given() {
    let plan = |actions: &str, attr: &str| {
        let request = format!(
            r#"{{"requestId":"r1","actions":{actions},"principal":{{"id":"alice","roles":["user"],"attr":{{"department":"eng"}}}},"resource":{{"kind":"document","attr":{attr}}},"includeMeta":true}}"#
        );
        let out = authz(
            &["plan", "--policies", example().to_str().expect("utf8"), "--now", "2026-11-02T10:00:00Z"],
            &request,
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON response")
    };
    let edit = plan(r#"["edit"]"#, "{}");
    assert_eq!(edit["requestId"], "r1");
    assert!(edit["bundleDigest"].as_str().is_some_and(|d| d.starts_with("sha256:")), "{edit}");
    assert_eq!(
        edit["filter"],
        serde_json::json!({"kind": "KIND_CONDITIONAL", "condition": {"expression": {"operator": "eq", "operands": [
            {"variable": "request.resource.attr.owner"}, {"value": "alice"}]}}}),
        "{edit}"
    );
    assert_eq!(edit["meta"]["filterDebug"], r#"(eq request.resource.attr.owner "alice")"#);
    // Known attributes are folded: alice's document may be deleted unless locked; bob's never.
    let delete = plan(r#"["delete"]"#, r#"{"owner":"alice"}"#);
    assert_eq!(delete["meta"]["filterDebug"], "(not (eq request.resource.attr.locked true))", "{delete}");
    let delete = plan(r#"["delete"]"#, r#"{"owner":"bob"}"#);
    assert_eq!(delete["filter"], serde_json::json!({"kind": "KIND_ALWAYS_DENIED"}), "{delete}");
}

#[test]
fn a_malformed_plan_request_exits_2_naming_the_path() {
    let out = authz(
        &["plan", "--policies", example().to_str().expect("utf8")],
        r#"{"actions":["edit","edit"],"principal":{"id":"a","roles":["r"]},"resource":{"kind":"document"}}"#,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("$.actions[1]"), "{stderr}");
}
