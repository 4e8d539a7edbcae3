//! `authz serve` as a real process on loopback: both APIs, batch semantics, errors, limits,
//! metrics, the audit log, and hot swap under concurrent load. The API tests (both APIs, batch
//! semantics, errors, limits) run against the `wasi:http` app under `wasmtime serve` (Spin's
//! model), the JS package's edge function under workerd and the wasmCloud workload (gateway and
//! PDP linked by name in a real wasmCloud 2.x runtime) too: one HTTP API, whichever host serves
//! it.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers: a malformed answer must stop the test loudly"
)]

use authz_conformance::http::{Client, Server};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn example_request() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/example-request.json")).unwrap()
}

/// The hosts that serve the HTTP API.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Host {
    /// `authz serve` with the embedded example.
    Serve,
    /// `authz bake --http` of the example under `wasmtime serve`.
    Spin,
    /// The edge function (the JS package in `js/workerd/worker.js`) on the example, under workerd.
    Workerd,
    /// `wasmcloud/workloaddeployment.yaml` with the baked example as its PDP, in wash-runtime.
    Wasmcloud,
    /// `wasmcloud/wadm.yaml` with the baked example as its PDP, on a wasmCloud 1.x host.
    Wasmcloud1,
}

const HOSTS: [Host; 5] = [Host::Serve, Host::Spin, Host::Workerd, Host::Wasmcloud, Host::Wasmcloud1];

/// Request limits, as `authz serve` flags, the gateway's environment or the worker's bindings.
#[derive(Default)]
struct Limits {
    max_resources: Option<&'static str>,
    max_body_bytes: Option<&'static str>,
}

fn bake_example(out: &Path, extra: &[&str]) {
    authz_conformance::http::bake_example(out, extra).unwrap();
}

/// The example app (`authz bake --http`), baked once per test process.
fn example_app() -> &'static Path {
    static APP: std::sync::OnceLock<(tempfile::TempDir, std::path::PathBuf)> = std::sync::OnceLock::new();
    let (_, path) = APP.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("app.wasm");
        bake_example(&out, &["--http"]);
        (dir, out)
    });
    path
}

/// The example baked (`authz bake`), once per test process.
fn example_component() -> &'static Path {
    static PDP: std::sync::OnceLock<(tempfile::TempDir, std::path::PathBuf)> = std::sync::OnceLock::new();
    let (_, path) = PDP.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("example.wasm");
        bake_example(&out, &[]);
        (dir, out)
    });
    path
}

impl Host {
    fn start(self, limits: &Limits) -> Server {
        match self {
            Host::Serve => {
                let mut args = Vec::new();
                if let Some(n) = limits.max_resources {
                    args.extend(["--max-resources", n]);
                }
                if let Some(n) = limits.max_body_bytes {
                    args.extend(["--max-body-bytes", n]);
                }
                Server::start(&args).unwrap()
            }
            Host::Spin => {
                let env = limits.settings("AUTHZ_");
                let env: Vec<&str> = env.iter().map(String::as_str).collect();
                authz_conformance::runtime::SpinApp::new().unwrap().serve(example_app(), &env).unwrap()
            }
            Host::Workerd => {
                let bindings = limits.settings("");
                let bindings: Vec<&str> = bindings.iter().map(String::as_str).collect();
                authz_conformance::runtime::Workerd::new().unwrap().serve(example_component(), &bindings).unwrap()
            }
            Host::Wasmcloud => {
                let env = limits.settings("AUTHZ_");
                let env: Vec<&str> = env.iter().map(String::as_str).collect();
                authz_conformance::runtime::Wasmcloud::new().unwrap().serve(example_component(), &env).unwrap()
            }
            Host::Wasmcloud1 => {
                let settings = limits.settings("AUTHZ_");
                let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
                authz_conformance::runtime::Wasmcloud1::new().unwrap().serve(example_component(), &settings).unwrap()
            }
        }
    }
}

impl Limits {
    /// The limits as `NAME=VALUE` settings: the gateway's environment (`AUTHZ_` names), the
    /// worker's bindings (bare names).
    fn settings(&self, prefix: &str) -> Vec<String> {
        let mut settings = Vec::new();
        if let Some(n) = self.max_resources {
            settings.push(format!("{prefix}MAX_RESOURCES={n}"));
        }
        if let Some(n) = self.max_body_bytes {
            settings.push(format!("{prefix}MAX_BODY_BYTES={n}"));
        }
        settings
    }
}

fn ok_json(r: authz_conformance::http::Response) -> Value {
    assert_eq!(r.status, 200, "{}", r.body);
    r.json().unwrap()
}

#[test]
fn embedded_example_answers_cerbos_requests_with_the_digest() {
    for host in HOSTS {
        example_answers_cerbos_requests_with_the_digest(host);
    }
}

fn example_answers_cerbos_requests_with_the_digest(host: Host) {
    let server = host.start(&Limits::default());
    let mut c = server.client();
    let ready = ok_json(c.get("/readyz").unwrap());
    let digest = ready["bundleDigest"].as_str().unwrap().to_string();
    assert!(digest.starts_with("sha256:"), "{ready}");
    assert_eq!(ok_json(c.get("/healthz").unwrap())["status"], "ok");

    let resp = ok_json(c.post_json("/api/check/resources", &example_request()).unwrap());
    assert_eq!(resp["bundleDigest"], json!(digest));
    assert_eq!(resp["requestId"], "readme-example");
    // alice is a finance manager; bob owns the pending finance document.
    let doc = &resp["results"][0];
    assert_eq!(doc["resource"]["id"], "doc-1");
    assert_eq!(doc["actions"]["view"], "EFFECT_ALLOW");
    assert_eq!(doc["actions"]["edit"], "EFFECT_DENY");
    assert_eq!(doc["actions"]["approve"], "EFFECT_ALLOW");
    assert_eq!(doc["meta"]["actions"]["view"]["matchedPolicy"], "resource.document.vdefault");
    if host != Host::Serve {
        // Metrics are `authz serve`'s; the gateway and the worker write decisions to their log only.
        return;
    }

    let metrics = c.get("/metrics").unwrap();
    assert_eq!(metrics.status, 200);
    assert!(metrics.body.contains(&format!("authz_bundle_info{{digest=\"{digest}\"")), "{}", metrics.body);
    assert!(
        metrics.body.contains("authz_decisions_total{effect=\"EFFECT_ALLOW\",policy=\"resource.document.vdefault\"} 2"),
        "{}",
        metrics.body
    );
    assert!(metrics.body.contains("authz_http_requests_total{endpoint=\"check_resources\",status=\"200\"} 1"));
    assert!(metrics.body.contains("authz_check_duration_seconds_count{endpoint=\"check_resources\"} 1"));
}

fn subject(roles: Value, dept: &str) -> Value {
    json!({"type": "user", "id": "alice", "properties": {"cerbos.roles": roles, "department": dept}})
}

fn document(owner: &str, status: &str) -> Value {
    json!({"type": "document", "id": "doc-1", "properties": {
        "owner": owner, "department": "finance", "status": status, "size": 10}})
}

#[test]
fn authzen_evaluation_and_configuration() {
    for host in HOSTS {
        authzen_evaluation_and_configuration_on(host);
    }
}

fn authzen_evaluation_and_configuration_on(host: Host) {
    let server = host.start(&Limits::default());
    let mut c = server.client();
    let digest = ok_json(c.get("/readyz").unwrap())["bundleDigest"].clone();
    let config = ok_json(c.get("/.well-known/authzen-configuration").unwrap());
    let base = format!("http://{}", server.addr);
    assert_eq!(config["policy_decision_point"], json!(base));
    assert_eq!(config["access_evaluation_endpoint"], json!(format!("{base}/access/v1/evaluation")));
    assert_eq!(config["access_evaluations_endpoint"], json!(format!("{base}/access/v1/evaluations")));

    let ask = |c: &mut Client, roles: Value, action: &str, meta: bool| {
        let body = json!({"subject": subject(roles, "finance"), "resource": document("bob", "PENDING_APPROVAL"),
                          "action": {"name": action}, "context": {"cerbos.includeMeta": meta, "cerbos.requestId": "z1"}});
        ok_json(c.post_json("/access/v1/evaluation", &body.to_string()).unwrap())
    };
    let allowed = ask(&mut c, json!(["user", "manager"]), "approve", true);
    assert_eq!(allowed["decision"], true);
    assert_eq!(allowed["context"]["authz.bundleDigest"], digest);
    assert_eq!(allowed["context"]["cerbos.response"]["requestId"], "z1");
    assert_eq!(allowed["context"]["cerbos.response"]["results"][0]["actions"]["approve"], "EFFECT_ALLOW");
    let denied = ask(&mut c, json!(["user"]), "approve", false);
    assert_eq!(denied["decision"], false);
    assert!(denied["context"].get("cerbos.response").is_none());
    // No roles: the subject's type is its role (`user` may view as a department colleague).
    let body = json!({"subject": {"type": "user", "id": "carol", "properties": {"department": "finance"}},
                      "resource": document("bob", "DRAFT"), "action": {"name": "view"}});
    assert_eq!(ok_json(c.post_json("/access/v1/evaluation", &body.to_string()).unwrap())["decision"], true);
    authzen_transport_on(host, &mut c);
}

/// The AuthZEN HTTPS binding as its 1.0 certification scenario checks it: `X-Request-ID`
/// echoed, JSON required, unknown members ignored, an evaluation's own error in its own decision,
/// and an evaluation's entity taking the identifiers it leaves out from the default.
fn authzen_transport_on(host: Host, c: &mut Client) {
    let one = json!({"subject": subject(json!(["user"]), "finance"), "resource": document("bob", "DRAFT"),
                     "action": {"name": "view"}});
    let header = |r: &authz_conformance::http::Response, name: &str| {
        r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    };
    let json_type = [("content-type", "application/json"), ("x-request-id", "bfe9eb29-ab87")];
    let body = one.to_string();
    let r = c.send("POST", "/access/v1/evaluation", &json_type, body.as_bytes()).unwrap();
    assert_eq!((r.status, header(&r, "x-request-id")), (200, Some("bfe9eb29-ab87".into())), "{host:?}: {}", r.body);
    let r = c.send("POST", "/access/v1/evaluation", &json_type, b"{").unwrap();
    assert_eq!((r.status, header(&r, "x-request-id")), (400, Some("bfe9eb29-ab87".into())), "{host:?}: {}", r.body);
    for headers in [&[("content-type", "text/plain")][..], &[]] {
        let r = c.send("POST", "/access/v1/evaluation", headers, body.as_bytes()).unwrap();
        assert_eq!(r.status, 400, "{host:?} {headers:?}: {}", r.body);
        assert!(r.json().unwrap().as_str().is_some_and(|m| m.contains("Content-Type")), "{host:?}: {}", r.body);
    }
    let mut extended = one.clone();
    extended["futureField"] = json!({"nested": true});
    extended["action"]["verb"] = json!("GET");
    assert_eq!(ok_json(c.post_json("/access/v1/evaluation", &extended.to_string()).unwrap())["decision"], true);
    let batch = json!({
        "subject": one["subject"], "action": {"name": "view"}, "resource": {"type": "document"},
        "evaluations": [{"resource": {"id": "doc-1", "properties": one["resource"]["properties"]}},
                        {"resource": {"id": "doc-2"}, "action": {"name": 7}}]
    });
    let r = ok_json(c.post_json("/access/v1/evaluations", &batch.to_string()).unwrap());
    let decisions = &r["evaluations"];
    assert_eq!((&decisions[0]["decision"], &decisions[1]["decision"]), (&json!(true), &json!(false)), "{host:?}: {r}");
    assert_eq!(decisions[1]["context"]["error"]["status"], 400, "{host:?}: {r}");
    assert_eq!(decisions[1]["context"]["error"]["path"], "$.evaluations[1].action.name", "{host:?}: {r}");
}

/// The example suite's principals and resources as AuthZEN subjects and resources, and every
/// action the suite asks about each resource kind.
fn suite_entities() -> (Vec<Value>, Vec<Value>, std::collections::BTreeMap<String, Vec<String>>) {
    let grid = authz_conformance::example_grid().unwrap();
    let subjects = grid.principals.iter().map(|p| {
        let mut properties = p["attr"].as_object().cloned().unwrap_or_default();
        properties.insert("cerbos.roles".into(), p["roles"].clone());
        json!({"type": "user", "id": p["id"], "properties": properties})
    });
    let resources = grid.resources.iter().map(|r| {
        let mut properties = r["attr"].as_object().cloned().unwrap_or_default();
        if let Some(scope) = r.get("scope") {
            properties.insert("cerbos.scope".into(), scope.clone());
        }
        json!({"type": r["kind"], "id": r["id"], "properties": properties})
    });
    (subjects.collect(), resources.collect(), grid.actions)
}

#[test]
fn authzen_action_search_answers_the_actions_evaluations_allow() {
    for host in HOSTS {
        authzen_action_search_on(host);
    }
}

/// For every subject and resource of the example's suite, the actions an action search answers
/// are, among the actions the suite asks about, exactly those an evaluation of each allows; and
/// every action it answers is allowed by an evaluation.
fn authzen_action_search_on(host: Host) {
    let server = host.start(&Limits::default());
    let mut c = server.client();
    let config = ok_json(c.get("/.well-known/authzen-configuration").unwrap());
    let base = format!("http://{}", server.addr);
    assert_eq!(config["search_action_endpoint"], json!(format!("{base}/access/v1/search/action")), "{host:?}");
    let (subjects, resources, asked) = suite_entities();
    let (mut found, mut denied) = (0, 0);
    for subject in &subjects {
        for resource in &resources {
            let body = json!({"subject": subject, "resource": resource});
            let results = ok_json(c.post_json("/access/v1/search/action", &body.to_string()).unwrap());
            let names: Vec<String> =
                results["results"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().into()).collect();
            let allowed = |c: &mut Client, action: &str| {
                let body = json!({"subject": subject, "resource": resource, "action": {"name": action}});
                ok_json(c.post_json("/access/v1/evaluation", &body.to_string()).unwrap())["decision"] == true
            };
            for name in &names {
                assert!(allowed(&mut c, name), "{host:?}: search answered {name} for {subject} on {resource}");
            }
            for action in &asked[resource["type"].as_str().unwrap()] {
                let evaluated = allowed(&mut c, action);
                assert_eq!(
                    names.contains(action),
                    evaluated,
                    "{host:?}: {action} for {subject} on {resource}: {names:?}"
                );
                denied += usize::from(!evaluated);
            }
            found += names.len();
        }
    }
    // Neither everything nor nothing: the comparison saw both.
    assert!(found > 0 && denied > 0, "{host:?}: {found} found, {denied} denied");
}

#[test]
fn authzen_batches_follow_their_semantics() {
    for host in HOSTS {
        authzen_batches_follow_their_semantics_on(host);
    }
}

fn authzen_batches_follow_their_semantics_on(host: Host) {
    let server = host.start(&Limits::default());
    let mut c = server.client();
    let mut batch = |semantic: Option<&str>| {
        let mut body = json!({
            "subject": subject(json!(["user", "manager"]), "finance"),
            "resource": document("bob", "PENDING_APPROVAL"),
            "evaluations": [
                {"action": {"name": "view"}},
                {"action": {"name": "edit"}},
                {"action": {"name": "approve"}},
                {"action": {"name": "edit"}, "resource": document("alice", "DRAFT")}
            ]
        });
        if let Some(s) = semantic {
            body["options"] = json!({"evaluations_semantic": s});
        }
        let r = ok_json(c.post_json("/access/v1/evaluations", &body.to_string()).unwrap());
        r["evaluations"].as_array().unwrap().iter().map(|e| e["decision"].as_bool().unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(batch(None), [true, false, true, true]);
    assert_eq!(batch(Some("execute_all")), [true, false, true, true]);
    assert_eq!(batch(Some("deny_on_first_deny")), [true, false]);
    assert_eq!(batch(Some("permit_on_first_permit")), [true]);
    // Without `evaluations`, the batch endpoint answers a single decision.
    let single = json!({"subject": subject(json!(["user"]), "finance"), "resource": document("bob", "DRAFT"),
                        "action": {"name": "view"}});
    let r = ok_json(c.post_json("/access/v1/evaluations", &single.to_string()).unwrap());
    assert_eq!(r["decision"], true);
}

#[test]
fn bad_input_is_a_4xx_json_error_naming_the_field() {
    for host in HOSTS {
        bad_input_is_a_4xx_json_error_naming_the_field_on(host);
    }
}

fn bad_input_is_a_4xx_json_error_naming_the_field_on(host: Host) {
    let server = host.start(&Limits { max_resources: Some("2"), max_body_bytes: Some("20000") });
    let mut c = server.client();
    let cases: Vec<(&str, String, u16, Option<&str>)> = vec![
        ("/api/check/resources", "{not json".into(), 400, Some("$")),
        ("/api/check/resources", "[]".into(), 400, Some("$")),
        (
            "/api/check/resources",
            json!({"principal": {"id": "a", "roles": ["user"]}, "resources": [{"actions": ["view"], "resource": {"kind": "document", "id": "1", "colour": 1}}]}).to_string(),
            400,
            Some("$.resources[0].resource.colour"),
        ),
        (
            "/api/check/resources",
            json!({"principal": {"id": "a", "roles": []}, "resources": [{"actions": ["view"], "resource": {"kind": "document", "id": "1"}}]}).to_string(),
            400,
            Some("$.principal.roles"),
        ),
        (
            "/api/check/resources",
            json!({"principal": {"id": "a", "roles": ["user"]}, "resources": [
                {"actions": ["view"], "resource": {"kind": "d", "id": "1"}},
                {"actions": ["view"], "resource": {"kind": "d", "id": "2"}},
                {"actions": ["view"], "resource": {"kind": "d", "id": "3"}}]}).to_string(),
            413,
            Some("$.resources"),
        ),
        (
            "/api/check/resources",
            json!({"principal": {"id": "a", "roles": ["user"]}, "resources": [{"actions": ["view"], "resource": {"kind": "d", "id": "1"}}],
                   "authzOptions": {"now": "yesterday"}}).to_string(),
            400,
            Some("$.authzOptions.now"),
        ),
        ("/api/check/resources", format!("{{\"pad\": \"{}\"}}", "x".repeat(30_000)), 413, Some("$")),
        (
            "/access/v1/evaluation",
            json!({"subject": {"type": "user"}, "resource": {"type": "d", "id": "1"}, "action": {"name": "a"}}).to_string(),
            400,
            Some("$.subject.id"),
        ),
        ("/access/v1/evaluation", json!({"subject": {"type": "user", "id": "a"}}).to_string(), 400, Some("$.resource")),
        (
            "/access/v1/evaluations",
            json!({"subject": {"type": "u", "id": "a"}, "resource": {"type": "d", "id": "1"},
                   "evaluations": [{"action": {"name": "view"}}], "options": {"evaluations_semantic": "sometimes"}}).to_string(),
            400,
            Some("$.options.evaluations_semantic"),
        ),
        (
            "/access/v1/evaluations",
            json!({"subject": {"type": "u", "id": "a"}, "resource": {"type": "d", "id": "1"},
                   "evaluations": [{"action": {"name": "a"}}, {"action": {"name": "b"}}, {"action": {"name": "c"}}]}).to_string(),
            413,
            Some("$.evaluations"),
        ),
    ];
    // A proxy reading the first of two equal keys sees `user`; the PDP must not see `admin`.
    let valid = r#""resources": [{"actions": ["view"], "resource": {"kind": "document", "id": "1"}}]"#;
    let cases = cases.into_iter().chain([
        (
            "/api/check/resources",
            format!(r#"{{"principal": {{"id": "a", "roles": ["user"], "roles": ["admin"]}}, {valid}}}"#),
            400,
            // A field given twice is reported at its object, the message naming it.
            Some("$.principal"),
        ),
        (
            "/api/check/resources",
            format!(
                r#"{{"principal": {{"id": "a", "roles": ["user"], "attr": {{"team": "x", "team": "y"}}}}, {valid}}}"#
            ),
            400,
            Some("$.principal.attr.team"),
        ),
        (
            "/access/v1/evaluation",
            r#"{"subject": {"type": "user", "id": "a", "properties": {"cerbos.roles": ["user"], "cerbos.roles": ["admin"]}},
                "resource": {"type": "document", "id": "1"}, "action": {"name": "view"}}"#
                .to_string(),
            400,
            Some("$.subject.properties[\"cerbos.roles\"]"),
        ),
        // Bytes after a valid request: a second object, or a NUL.
        ("/api/check/resources", format!(r#"{{"principal": {{"id": "a", "roles": ["user"]}}, {valid}}} {{}}"#), 400, Some("$")),
        ("/api/check/resources", format!("{{\"principal\": {{\"id\": \"a\", \"roles\": [\"user\"]}}, {valid}}}\0"), 400, Some("$")),
        // The operator's globals and clock are not the caller's to replace.
        (
            "/api/check/resources",
            format!(r#"{{"principal": {{"id": "a", "roles": ["user"]}}, {valid}, "authzOptions": {{"globals": {{}}}}}}"#),
            400,
            Some("$.authzOptions"),
        ),
    ]);
    for (path, body, status, field) in cases {
        let r = c.post_json(path, &body).unwrap();
        assert_eq!(r.status, status, "{host:?} {path} {body}: {}", r.body);
        let err = r.json().unwrap();
        if path.starts_with("/access/") {
            // AuthZEN's error body is its message, which names the path.
            let at = field.map(|f| format!("`{f}`")).unwrap_or_default();
            assert!(err.as_str().is_some_and(|m| m.contains(&at)), "{host:?} {path} {body}: {}", r.body);
            continue;
        }
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", r.body);
        assert_eq!(err["path"].as_str(), field, "{host:?} {path} {body}: {}", r.body);
    }
    let r = c.get("/no/such/thing").unwrap();
    assert_eq!(r.status, 404);
    assert!(r.json().unwrap()["message"].is_string());
    // Still serving, and no 5xx was counted.
    assert_eq!(
        c.post_json("/api/check/resources", &example_request()).unwrap().status,
        200,
        "two resources are within the limit"
    );
    if host != Host::Serve {
        return;
    }
    let metrics = c.get("/metrics").unwrap().body;
    assert!(!metrics.contains("status=\"5"), "{metrics}");
}

#[test]
fn audit_log_has_one_record_per_decision() {
    let dir = temp_dir("audit");
    let log = dir.path().join("audit.jsonl");
    let server = Server::start(&["--audit-log", log.to_str().unwrap()]).unwrap();
    let mut c = server.client();
    let resp = ok_json(c.post_json("/api/check/resources", &example_request()).unwrap());
    let text = std::fs::read_to_string(&log).unwrap();
    let records: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 4, "{text}");
    let approve = records.iter().find(|r| r["action"] == "approve").unwrap();
    assert_eq!(approve["requestId"], "readme-example");
    assert_eq!(approve["principalId"], "alice");
    assert_eq!(approve["resourceKind"], "document");
    assert_eq!(approve["resourceId"], "doc-1");
    assert_eq!(approve["effect"], "EFFECT_ALLOW");
    assert_eq!(approve["policy"], "resource.document.vdefault");
    assert_eq!(approve["rule"], "approve");
    assert_eq!(approve["bundleDigest"], resp["bundleDigest"]);
    assert_eq!(approve["runtime"], "wasmtime");
    assert!(approve["durationMicros"].as_f64().is_some_and(|d| d > 0.0));
    let edit = records.iter().find(|r| r["action"] == "edit").unwrap();
    assert_eq!(edit["effect"], "EFFECT_DENY");
    // A plan is audited too: one record per action planned, with the filter.
    ok_json(c.post_json("/api/plan/resources", &example_plan_request()).unwrap());
    let text = std::fs::read_to_string(&log).unwrap();
    let plans: Vec<Value> = text.lines().skip(4).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(plans.len(), 2, "{text}");
    assert_eq!(plans[0]["requestId"], "plan-example");
    assert_eq!((&plans[0]["action"], &plans[1]["action"]), (&json!("edit"), &json!("delete")));
    assert!(plans.iter().all(|r| r["resourceKind"] == "document" && r["resourceId"] == ""), "{plans:?}");
    assert!(
        plans.iter().all(|r| r["effect"] == "EFFECT_ALLOW"),
        "a conditional filter lets resources through: {plans:?}"
    );
    // One filter for both actions, as Cerbos merges them: `and` of each action's (editing: hers;
    // deleting: hers and not locked).
    let filter = r#"(and (eq request.resource.attr.owner "alice") (and (not (eq request.resource.attr.locked true)) (eq request.resource.attr.owner "alice")))"#;
    assert!(plans.iter().all(|r| r["filter"] == filter), "{plans:?}");
    assert!(plans.iter().all(|r| r["bundleDigest"] == resp["bundleDigest"]), "{plans:?}");
}

/// alice's plan for editing and deleting documents: hers, and (to delete) not locked.
fn example_plan_request() -> String {
    json!({
        "requestId": "plan-example",
        "actions": ["edit", "delete"],
        "principal": {"id": "alice", "roles": ["user"], "attr": {"department": "eng"}},
        "resource": {"kind": "document"}
    })
    .to_string()
}

/// Every record but its runtime and timing.
fn record_without_runtime(mut r: Value) -> Value {
    let m = r.as_object_mut().unwrap();
    m.remove("runtime");
    m.remove("durationMicros");
    r
}

#[test]
fn the_spin_app_the_worker_and_both_wasmcloud_hosts_write_the_audit_records_authz_serve_writes() {
    let dir = temp_dir("audit-spin");
    let (pdp, app) = (dir.path().join("pdp.wasm"), dir.path().join("app.wasm"));
    bake_example(&pdp, &["--label", "audit"]);
    bake_example(&app, &["--label", "audit", "--http"]);
    let log = dir.path().join("audit.jsonl");
    let serve = Server::start(&["--component", pdp.to_str().unwrap(), "--audit-log", log.to_str().unwrap()]).unwrap();
    ok_json(serve.client().post_json("/api/check/resources", &example_request()).unwrap());
    ok_json(serve.client().post_json("/api/plan/resources", &example_plan_request()).unwrap());
    let want: Vec<Value> =
        std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(want.len(), 6, "one record per decision, and per action planned: {want:?}");

    // The runtime a record names is the gateway's AUTHZ_RUNTIME, as spin-app/spin.toml sets it;
    // the wasmCloud manifests' own environment (2.x) and named configuration (1.x) set
    // `wasmcloud`.
    let spin = authz_conformance::runtime::SpinApp::new().unwrap().serve(&app, &["AUTHZ_RUNTIME=spin"]).unwrap();
    let workerd = authz_conformance::runtime::Workerd::new().unwrap().serve(&pdp, &[]).unwrap();
    let wasmcloud = authz_conformance::runtime::Wasmcloud::new().unwrap().serve(&pdp, &[]).unwrap();
    let wasmcloud1 = authz_conformance::runtime::Wasmcloud1::new().unwrap().serve(&pdp, &[]).unwrap();
    // The gateway writes each record as one line on stderr (`wasmtime serve` prefixes the
    // lines it relays), the worker on its log; the servers' lines are collected as they come.
    for (server, runtime) in [(spin, "spin"), (workerd, "js"), (wasmcloud, "wasmcloud"), (wasmcloud1, "wasmcloud")] {
        ok_json(server.client().post_json("/api/check/resources", &example_request()).unwrap());
        ok_json(server.client().post_json("/api/plan/resources", &example_plan_request()).unwrap());
        let deadline = Instant::now() + Duration::from_secs(10);
        let got: Vec<Value> = loop {
            let lines = server.stderr.lock().unwrap().clone();
            let records: Vec<Value> = lines
                .iter()
                .filter_map(|l| l.find("{\"requestId\"").map(|i| serde_json::from_str(&l[i..]).unwrap()))
                .collect();
            if records.len() >= want.len() || Instant::now() > deadline {
                break records;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(got.len(), 6, "{runtime}: one record per decision and per action planned: {got:?}");
        assert!(got.iter().all(|r| r["bundleLabel"] == "audit"), "{got:?}");
        assert!(got.iter().all(|r| r["runtime"] == runtime), "{got:?}");
        // workerd keeps its clock coarse (Workers' timing-attack defence): its durations may
        // be 0, or a jump of that clock.
        assert!(got.iter().all(|r| r["durationMicros"].as_f64().is_some_and(|d| d >= 0.0)), "{got:?}");
        if runtime != "js" {
            assert!(got.iter().all(|r| r["durationMicros"].as_f64().is_some_and(|d| d > 0.0)), "{got:?}");
        }
        let strip = |v: Vec<Value>| v.into_iter().map(record_without_runtime).collect::<Vec<_>>();
        assert_eq!(
            strip(got),
            strip(want.clone()),
            "{runtime}: the same records (rule, policy, bundle digest and label) as authz serve"
        );
    }
}

#[test]
fn a_failing_audit_log_is_counted_and_fails_decisions_when_required() {
    // Best effort: answered, and every unwritten record counted.
    let server = Server::start(&["--audit-log", "/dev/full"]).unwrap();
    let mut c = server.client();
    ok_json(c.post_json("/api/check/resources", &example_request()).unwrap());
    let metrics = c.get("/metrics").unwrap().body;
    assert!(metrics.contains("authz_audit_write_failures_total 4"), "{metrics}");
    drop(server);
    // Required: no answer without its record.
    let server = Server::start(&["--audit-log", "/dev/full", "--audit-required"]).unwrap();
    let mut c = server.client();
    let r = c.post_json("/api/check/resources", &example_request()).unwrap();
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.json().unwrap()["message"].as_str().unwrap().contains("audit"), "{}", r.body);
    let r = c
        .post_json(
            "/access/v1/evaluation",
            &json!({"subject": subject(json!(["user"]), "x"), "resource": document("alice", "draft"), "action": {"name": "view"}})
                .to_string(),
        )
        .unwrap();
    assert_eq!(r.status, 503, "{}", r.body);
}

/// A directory under the system's temp dir, removed when dropped (after the server using it,
/// declared later, is dropped).
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("authz-http-{name}-")).tempdir().unwrap()
}

/// A one-rule policy: `view` on `doc` is allowed or denied for role `user`.
fn write_policy(dir: &Path, effect: &str) {
    let text = format!(
        "apiVersion: api.cerbos.dev/v1\nresourcePolicy:\n  resource: doc\n  version: default\n  rules:\n    - name: the-rule\n      actions: [view]\n      roles: [user]\n      effect: EFFECT_{effect}\n"
    );
    // Written aside and renamed, as a deploy would, so a poll never reads half a file.
    let tmp = dir.join(".doc.yaml.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join("doc.yaml")).unwrap();
}

const VIEW: &str = r#"{"principal": {"id": "a", "roles": ["user"]}, "resources": [{"actions": ["view"], "resource": {"kind": "doc", "id": "1"}}]}"#;

fn view(c: &mut Client) -> (String, String) {
    let r = ok_json(c.post_json("/api/check/resources", VIEW).unwrap());
    (r["bundleDigest"].as_str().unwrap().to_string(), r["results"][0]["actions"]["view"].as_str().unwrap().to_string())
}

/// Asks until `f` holds; on timeout the failure shows what the server printed (its reloads).
fn wait_for(server: &Server, c: &mut Client, what: &str, f: impl Fn(&(String, String)) -> bool) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = view(c);
        if f(&got) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last {got:?}; the server said:\n{}",
            server.stderr.lock().map(|l| l.join("\n")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn hot_swap_under_load_never_fails_or_mixes_bundles() {
    let dir = temp_dir("swap");
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    write_policy(&policies, "ALLOW");
    let server = Arc::new(
        Server::start(&["--policies", policies.to_str().unwrap(), "--watch", "100", "--admin-token", "s3cret"])
            .unwrap(),
    );
    let mut c = server.client();
    let (allow_digest, effect) = view(&mut c);
    assert_eq!(effect, "EFFECT_ALLOW");

    // Load: every answer must be a 200 whose effect is the one its digest's bundle gives. The
    // clients pause between requests so the two cores left for the reloads (each compiles a
    // component) are not taken entirely by the load.
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (server, stop) = (server.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut c = server.client();
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    seen.push(view(&mut c));
                    std::thread::sleep(Duration::from_millis(2));
                }
                seen
            })
        })
        .collect();

    // 1. File change (watch): deny.
    write_policy(&policies, "DENY");
    let (deny_digest, _) = wait_for(&server, &mut c, "the DENY bundle", |(_, e)| e == "EFFECT_DENY");
    assert_ne!(deny_digest, allow_digest);
    // 2. A broken change is rejected and the DENY bundle keeps serving.
    std::fs::write(policies.join("broken.yaml"), "apiVersion: api.cerbos.dev/v1\nresourcePolicy: [\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !c.get("/metrics").unwrap().body.contains("authz_bundle_reloads_total{result=\"error\"} 1") {
        assert!(Instant::now() < deadline, "the broken bundle was never tried");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(view(&mut c), (deny_digest.clone(), "EFFECT_DENY".to_string()));
    std::fs::remove_file(policies.join("broken.yaml")).unwrap();
    // 3. Admin reload, guarded by the token.
    write_policy(&policies, "ALLOW");
    let r = c.send("POST", "/admin/reload", &[("authorization", "Bearer wrong")], b"").unwrap();
    assert_eq!(r.status, 401);
    let r = c.send("POST", "/admin/reload", &[("authorization", "Bearer s3cret")], b"").unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    wait_for(&server, &mut c, "the ALLOW bundle again", |(d, e)| d == &allow_digest && e == "EFFECT_ALLOW");
    // 4. SIGHUP.
    write_policy(&policies, "DENY");
    server.signal("HUP").unwrap();
    wait_for(&server, &mut c, "the DENY bundle after SIGHUP", |(d, _)| d == &deny_digest);

    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for w in workers {
        for (digest, effect) in w.join().unwrap() {
            total += 1;
            let want = if digest == allow_digest {
                "EFFECT_ALLOW"
            } else {
                assert_eq!(digest, deny_digest, "an answer from an unknown bundle");
                "EFFECT_DENY"
            };
            assert_eq!(effect, want, "bundle {digest} answered {effect}");
        }
    }
    assert!(total > 0);
    // An uploaded component that is not one is refused; the old bundle stays.
    let r = c.send("PUT", "/admin/bundle", &[("authorization", "Bearer s3cret")], b"not wasm").unwrap();
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(view(&mut c).0, deny_digest);
}

#[test]
fn a_change_made_while_the_first_bundle_loads_is_seen_by_the_watch() {
    let dir = temp_dir("early");
    write_policy(dir.path(), "ALLOW");
    // The first load compiles and bakes for seconds; the change lands in the middle of it.
    let policies = dir.path().to_path_buf();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        write_policy(&policies, "DENY");
    });
    let server = Server::start(&["--policies", dir.path().to_str().unwrap(), "--watch", "100"]).unwrap();
    writer.join().unwrap();
    let mut c = server.client();
    wait_for(&server, &mut c, "the DENY bundle", |(_, e)| e == "EFFECT_DENY");
}

#[test]
fn a_decision_over_the_time_limit_is_a_422_and_the_server_keeps_serving() {
    let dir = temp_dir("slow");
    // `xs` of n numbers: the condition compares every pair (n² steps) and is true.
    let policy = "apiVersion: api.cerbos.dev/v1\nresourcePolicy:\n  resource: doc\n  version: default\n  rules:\n    - actions: [view]\n      roles: ['*']\n      effect: EFFECT_ALLOW\n      condition:\n        match:\n          expr: R.attr.xs.all(x, !R.attr.xs.exists(y, y == x + 1000000))\n";
    std::fs::write(dir.path().join("doc.yaml"), policy).unwrap();
    let server = Server::start(&["--policies", dir.path().to_str().unwrap(), "--timeout-ms", "50"]).unwrap();
    let mut c = server.client();
    let request = |n: usize| {
        json!({"principal": {"id": "a", "roles": ["user"]},
               "resources": [{"actions": ["view"], "resource": {"kind": "doc", "id": "1", "attr": {"xs": (0..n).collect::<Vec<_>>()}}}]})
        .to_string()
    };
    // 25 million comparisons: far beyond 50 ms.
    let r = c.post_json("/api/check/resources", &request(5_000)).unwrap();
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("longer than the limit of 50 ms"), "{}", r.body);
    let ok = ok_json(c.post_json("/api/check/resources", &request(3)).unwrap());
    assert_eq!(ok["results"][0]["actions"]["view"], "EFFECT_ALLOW");
}

#[test]
fn admin_api_is_off_without_a_token() {
    let server = Server::start(&[]).unwrap();
    let r = server.client().send("POST", "/admin/reload", &[("authorization", "Bearer x")], b"").unwrap();
    assert_eq!(r.status, 404);
}

/// Runs the `authz` binary; its stdout, or a panic with its stderr.
fn authz(args: &[&str]) -> String {
    let out = std::process::Command::new(authz_conformance::http::authz_binary().unwrap()).args(args).output().unwrap();
    assert!(out.status.success(), "authz {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn with_a_trusted_key_only_components_it_signed_are_served() {
    let dir = temp_dir("signed");
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/example");
    let example = example.to_str().unwrap();
    authz(&["keygen", "--out", &path("key")]);
    authz(&["keygen", "--out", &path("other")]);
    let baked =
        authz(&["bake", "--policies", example, "--out", &path("signed.wasm"), "--sign", &path("key"), "--skip-tests"]);
    assert!(baked.contains("signed by key"), "{baked}");
    authz(&["bake", "--policies", example, "--out", &path("unsigned.wasm"), "--skip-tests"]);
    authz(&["bake", "--policies", example, "--out", &path("foreign.wasm"), "--sign", &path("other"), "--skip-tests"]);
    let log = path("audit.jsonl");
    let server = Server::start(&[
        "--component",
        &path("signed.wasm"),
        "--trusted-key",
        &path("key.pub"),
        "--admin-token",
        "t",
        "--audit-log",
        &log,
    ])
    .unwrap();
    let mut c = server.client();
    let ready = ok_json(c.get("/readyz").unwrap());
    let key_id = ready["signature"]["keyId"].as_str().unwrap().to_string();
    assert_eq!(key_id.len(), 16, "{ready}");
    ok_json(c.post_json("/api/check/resources", &example_request()).unwrap());
    let record: Value = serde_json::from_str(std::fs::read_to_string(&log).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(record["bundleSignature"]["keyId"], key_id.as_str());
    assert_eq!(record["bundleSignature"]["value"], ready["signature"]["value"]);
    // Unsigned, signed by another key, or edited after signing: refused, the signed one still served.
    let mut edited = std::fs::read(path("signed.wasm")).unwrap();
    let at = edited.windows(5).position(|w| w == b"admin").unwrap();
    edited[at..at + 5].copy_from_slice(b"guest");
    for (what, bytes) in [
        ("unsigned", std::fs::read(path("unsigned.wasm")).unwrap()),
        ("foreign", std::fs::read(path("foreign.wasm")).unwrap()),
        ("edited", edited),
    ] {
        let r = c.send("PUT", "/admin/bundle", &[("authorization", "Bearer t")], &bytes).unwrap();
        assert_eq!(r.status, 422, "{what}: {}", r.body);
    }
    assert_eq!(ok_json(c.get("/readyz").unwrap())["signature"]["keyId"], key_id.as_str());
    drop(server);
    // Started on an unsigned component with a trusted key: does not start at all.
    assert!(Server::start(&["--component", &path("unsigned.wasm"), "--trusted-key", &path("key.pub")]).is_err());
}

/// What the server sends back on a raw connection before it closes it or `wait` passes.
fn raw_exchange(server: &Server, sent: &[u8], wait: Duration) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    // A server that closes at once may refuse the bytes: that is an answer too.
    let _ = s.write_all(sent);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(String::from_utf8_lossy(&got).into_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Ok(String::from_utf8_lossy(&got).into_owned())
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => {
                let got = String::from_utf8_lossy(&got);
                return Err(format!("no answer and no close within {wait:?} (got {got:?}): {e}"));
            }
        }
    }
}

#[test]
fn slow_idle_and_oversized_connections_are_bounded() {
    let server = Server::start(&[
        "--header-timeout-ms",
        "300",
        "--body-timeout-ms",
        "300",
        "--max-connections",
        "3",
        "--max-body-bytes",
        "1000",
    ])
    .unwrap();
    let wait = Duration::from_secs(10);
    // Half-sent headers: the connection is closed, not held.
    let got = raw_exchange(&server, b"POST /api/check/resources HTTP/1.1\r\nHost: x\r\n", wait).unwrap();
    assert!(!got.contains("200 OK"), "{got}");
    // A body that never arrives: 408.
    let got = raw_exchange(
        &server,
        b"POST /api/check/resources HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"a\":",
        wait,
    )
    .unwrap();
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    // A declared length over the limit: 413 at once, without sending a byte of the body.
    let got = raw_exchange(
        &server,
        b"POST /api/check/resources HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\nConnection: close\r\n\r\n",
        wait,
    )
    .unwrap();
    assert!(got.starts_with("HTTP/1.1 413"), "{got}");
    // Three idle connections take every slot: a fourth is closed at once.
    let idle: Vec<_> = (0..3).map(|_| std::net::TcpStream::connect(server.addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(50));
    let got = raw_exchange(&server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", wait).unwrap();
    assert_eq!(got, "", "a connection over the cap was served");
    // The idle ones time out and free their slots; then requests are served again.
    std::thread::sleep(Duration::from_millis(800));
    drop(idle);
    let got = raw_exchange(&server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", wait).unwrap();
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    let metrics = server.client().get("/metrics").unwrap().body;
    assert!(metrics.contains("authz_connections_refused_total 1"), "{metrics}");
}

/// Resident memory of a process, in kB (Linux `/proc`).
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_reload_that_would_exhaust_memory_is_rejected_and_the_server_keeps_serving() {
    let dir = temp_dir("reload-memory");
    write_policy(dir.path(), "ALLOW");
    let server =
        Server::start(&["--policies", dir.path().to_str().unwrap(), "--admin-token", "t", "--reload-memory-mb", "400"])
            .unwrap();
    let mut c = server.client();
    assert_eq!(view(&mut c).1, "EFFECT_ALLOW");
    let before = rss_kb(server.pid());
    // Each variable doubles the last: `v24` is a list of 2^25 integers (gigabytes), and a
    // suite evaluates it.
    let mut vars = String::from("        v0: \"[1, 2]\"\n");
    for i in 1..=24 {
        vars.push_str(&format!("        v{i}: \"V.v{} + V.v{}\"\n", i - 1, i - 1));
    }
    let policy = format!(
        "apiVersion: api.cerbos.dev/v1\nresourcePolicy:\n  resource: doc\n  version: default\n  variables:\n    local:\n{vars}  rules:\n    - name: the-rule\n      actions: [view]\n      roles: [user]\n      effect: EFFECT_DENY\n      condition:\n        match:\n          expr: size(V.v24) > 0\n"
    );
    std::fs::write(dir.path().join("doc.yaml"), policy).unwrap();
    std::fs::write(
        dir.path().join("doc_test.yaml"),
        "name: big\ntests:\n  - name: t\n    input:\n      principals: [p]\n      resources: [r]\n      actions: [view]\n    expected:\n      - principal: p\n        resource: r\n        actions: {view: EFFECT_DENY}\nprincipals:\n  p: {id: p, roles: [user]}\nresources:\n  r: {kind: doc, id: r}\n",
    )
    .unwrap();
    let r = c.send("POST", "/admin/reload", &[("authorization", "Bearer t")], b"").unwrap();
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("memory limit is 400 MB"), "{}", r.body);
    // The old bundle still answers, and the server did not grow by the reload's gigabytes.
    assert_eq!(view(&mut c).1, "EFFECT_ALLOW");
    let after = rss_kb(server.pid());
    assert!(after < before + 200_000, "the server grew from {before} kB to {after} kB");
}

#[test]
fn memory_stays_flat_across_a_hundred_hot_swaps() {
    let dir = temp_dir("swaps");
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/example");
    let example = example.to_str().unwrap();
    authz(&["bake", "--policies", example, "--out", &path("a.wasm"), "--label", "a", "--skip-tests"]);
    authz(&["bake", "--policies", example, "--out", &path("b.wasm"), "--label", "b", "--skip-tests"]);
    let bundles = [std::fs::read(path("a.wasm")).unwrap(), std::fs::read(path("b.wasm")).unwrap()];
    let server =
        Server::start(&["--component", &path("a.wasm"), "--admin-token", "t", "--cache-dir", &path("cache")]).unwrap();
    let mut c = server.client();
    let mut swap = |n: usize| {
        for i in 0..n {
            let r = c.send("PUT", "/admin/bundle", &[("authorization", "Bearer t")], &bundles[(i + 1) % 2]).unwrap();
            assert_eq!(r.status, 200, "{}", r.body);
            ok_json(c.post_json("/api/check/resources", &example_request()).unwrap());
        }
    };
    // Warm: the allocator's arenas and the pool reach their working size.
    swap(10);
    let warm = rss_kb(server.pid());
    swap(100);
    let after = rss_kb(server.pid());
    eprintln!("resident memory: {warm} kB after 10 swaps, {after} kB after 100 more");
    assert!(after < warm + 64_000, "resident memory grew from {warm} kB to {after} kB over 100 swaps");
}

#[test]
fn a_build_over_its_time_limit_is_stopped_and_reported() {
    let dir = temp_dir("reload-time");
    write_policy(dir.path(), "ALLOW");
    // 1 ms: no build finishes; the first load fails, so the server does not start.
    let err = Server::start(&["--policies", dir.path().to_str().unwrap(), "--reload-timeout-ms", "1"]).err().unwrap();
    assert!(err.contains("longer than its limit of 0.001 s"), "{err}");
}

#[test]
fn logs_are_text_or_json_lines_at_the_chosen_level() {
    use std::io::BufRead;
    let lines = |args: &[&str]| {
        let mut child = std::process::Command::new(authz_conformance::http::authz_binary().unwrap())
            .args(["serve", "--addr", "127.0.0.1:0", "--exit-on-stdin-close"])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut seen = Vec::new();
        for line in stderr.lines().map_while(Result::ok) {
            let done = line.contains("listening on http://");
            seen.push(line);
            if done {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        seen
    };
    let json_lines = lines(&["--log-format", "json"]);
    assert!(json_lines.len() >= 2, "{json_lines:?}");
    for line in &json_lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert_eq!(v["level"], json!("INFO"), "{line}");
    }
    let listening = json_lines.last().map(|l| serde_json::from_str::<Value>(l).unwrap()).unwrap();
    assert!(listening["fields"]["addr"].as_str().is_some_and(|a| a.starts_with("127.0.0.1:")), "{listening}");
    assert!(json_lines.iter().any(|l| l.contains("\"digest\":\"sha256:")), "{json_lines:?}");
    let text_lines = lines(&[]);
    assert!(
        text_lines.iter().all(|l| serde_json::from_str::<Value>(l).is_err() && l.contains("INFO")),
        "{text_lines:?}"
    );
    // At `warn`, the start-up lines (info) are not written; a warning after them is (the
    // embedded example has no files for `--watch`).
    let mut quiet = std::process::Command::new(authz_conformance::http::authz_binary().unwrap())
        .args(["serve", "--addr", "127.0.0.1:0", "--exit-on-stdin-close", "--log-level", "warn", "--watch", "1000"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(quiet.stderr.take().unwrap());
    let first = stderr.lines().map_while(Result::ok).next().unwrap_or_default();
    let _ = quiet.kill();
    let _ = quiet.wait();
    assert!(first.contains("WARN") && first.contains("no files to watch"), "{first}");
}

/// `--schema-enforcement`, `--default-policy-version` and `--lenient-scope-search` decide for
/// every request (as `--config`'s keys do: tests/tests/differential.rs checks those against
/// Cerbos started from the same file).
#[test]
fn the_operator_s_evaluation_flags_decide_every_request() {
    let ask = |args: &[&str], resource: Value| {
        let server = Server::start(args).unwrap();
        let request = json!({"principal": {"id": "alice", "roles": ["user"], "attr": {"department": "finance"}},
                             "resources": [{"actions": ["view"], "resource": resource}], "includeMeta": true});
        let r = ok_json(server.client().post_json("/api/check/resources", &request.to_string()).unwrap());
        r["results"][0].clone()
    };
    // The owner views a document whose size is not a number: the schema decides only if enforced.
    let mistyped =
        json!({"kind": "document", "id": "d1", "attr": {"owner": "alice", "department": "finance", "size": "big"}});
    assert_eq!(ask(&[], mistyped.clone())["actions"]["view"], "EFFECT_ALLOW");
    let rejected = ask(&["--schema-enforcement", "reject"], mistyped);
    assert_eq!(rejected["actions"]["view"], "EFFECT_DENY", "{rejected}");
    assert!(rejected["validationErrors"].as_array().is_some_and(|e| !e.is_empty()), "{rejected}");
    // No policy of version v2: nothing allows.
    let own = json!({"kind": "document", "id": "d1", "attr": {"owner": "alice", "department": "finance"}});
    assert_eq!(ask(&["--default-policy-version", "v2"], own.clone())["actions"]["view"], "EFFECT_DENY");
    // A scope with no policy of its own: found up the tree only when the search is lenient.
    let mut scoped = own;
    scoped["scope"] = json!("acme.emea");
    let strict = ask(&[], scoped.clone());
    let lenient = ask(&["--lenient-scope-search"], scoped);
    assert_ne!(strict["meta"]["actions"]["view"], lenient["meta"]["actions"]["view"], "{strict} {lenient}");
    assert_eq!(lenient["actions"]["view"], "EFFECT_ALLOW", "{lenient}");
}

/// The OpenID AuthZEN Authorization API 1.0 certification scenario (openid/authzen,
/// `certification/authorization-api-1_0-scenario.md`), Basic and Batch levels, Core and
/// Properties, and the transport requirements, against `authz serve` on the scenario's fixture
/// (`tests/fixtures/authzen-certification`). The expected answers are the scenario's. (The
/// other HTTP hosts answer through the same `authz-api` handler: `authzen_transport_on` runs
/// the transport checks on each.)
#[test]
fn authzen_certification_scenario() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/authzen-certification");
    let server = Server::start(&["--policies", fixture.to_str().unwrap()]).unwrap();
    let mut c = server.client();
    let s = |id: &str| json!({"type": "user", "id": id});
    let r = |id: &str| json!({"type": "record", "id": id});
    let a = |name: &str| json!({"name": name});
    let one = |subject: Value, action: Value, resource: Value| json!({"subject": subject, "action": action, "resource": resource});
    let admin = json!({"type": "user", "id": "bob", "properties": {"role": "admin"}});
    let archived = json!({"type": "record", "id": "record-2", "properties": {"status": "archived"}});
    let mut with_context = one(s("alice"), a("read"), r("record-1"));
    with_context["context"] = json!({"time": "2025-06-27T18:03-07:00", "ip": "192.168.1.1"});
    let extra_properties = json!({
        "subject": {"type": "user", "id": "alice", "properties": {"department": "Sales", "role": "manager"}},
        "action": {"name": "read", "properties": {"method": "GET"}},
        "resource": {"type": "record", "id": "record-1", "properties": {"status": "active", "owner": "bob"}}
    });
    let mut unknown = one(s("alice"), a("read"), r("record-1"));
    unknown["foo"] = json!("bar");
    unknown["futureField"] = json!({"nested": true});
    // (test id, request, the decision the scenario requires)
    let evaluations = [
        ("2.2.1", one(s("alice"), a("read"), r("record-1")), true),
        ("2.2.2", one(s("bob"), a("write"), r("record-1")), false),
        ("2.2.3", with_context, true),
        ("2.2.4", one(s("alice"), a("write"), archived.clone()), false),
        ("2.2.5", one(admin.clone(), a("write"), archived.clone()), true),
        ("2.2.6", one(s("alice"), json!({"name": "delete", "properties": {"soft": true}}), r("record-1")), true),
        ("2.2.7", one(s("alice"), json!({"name": "delete", "properties": {"soft": false}}), r("record-1")), false),
        ("2.2.8", extra_properties, true),
        ("2.2.9", unknown, true),
    ];
    for (id, request, want) in &evaluations {
        let answer = c.post_json("/access/v1/evaluation", &request.to_string()).unwrap();
        assert_eq!(answer.status, 200, "c-{id}: {}", answer.body);
        let type_is_json = answer
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && v.starts_with("application/json"));
        assert!(type_is_json, "c-{id} (c-5): {:?}", answer.headers);
        let body = answer.json().unwrap();
        assert_eq!(body["decision"], json!(want), "c-{id}: {body}");
        assert!(body.get("context").is_none_or(Value::is_object), "c-2-3-2: {body}");
    }
    // c-2-6: the same decision every time.
    for _ in 0..3 {
        assert_eq!(
            ok_json(c.post_json("/access/v1/evaluation", &evaluations[0].1.to_string()).unwrap())["decision"],
            true
        );
    }
    // c-2-4: missing fields and sub-fields, invalid types, malformed and empty bodies: 400.
    let refused = [
        json!({"action": a("read"), "resource": r("record-1")}),
        json!({"subject": s("alice"), "resource": r("record-1")}),
        json!({"subject": s("alice"), "action": a("read")}),
        one(json!({"id": "alice"}), a("read"), r("record-1")),
        one(json!({"type": "user"}), a("read"), r("record-1")),
        one(s("alice"), json!({}), r("record-1")),
        one(s("alice"), a("read"), json!({"id": "record-1"})),
        one(s("alice"), a("read"), json!({"type": "record"})),
        one(json!("alice"), a("read"), r("record-1")),
        one(s("alice"), json!({"name": 123}), r("record-1")),
    ];
    for request in refused {
        assert_eq!(c.post_json("/access/v1/evaluation", &request.to_string()).unwrap().status, 400, "c-2-4: {request}");
    }
    for body in ["{\"subject\": ", ""] {
        assert_eq!(c.post_json("/access/v1/evaluation", body).unwrap().status, 400, "c-2-4-4/5: `{body}`");
    }
    let plain = c.send(
        "POST",
        "/access/v1/evaluation",
        &[("content-type", "text/plain")],
        evaluations[0].1.to_string().as_bytes(),
    );
    assert_eq!(plain.unwrap().status, 400, "c-2-4-3");
    // c-2-5: X-Request-ID echoed.
    let headers = [("content-type", "application/json"), ("x-request-id", "bfe9eb29-ab87-4ca3-be83-a1d5d8305716")];
    let echoed = c.send("POST", "/access/v1/evaluation", &headers, evaluations[0].1.to_string().as_bytes()).unwrap();
    assert!(
        echoed.headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("x-request-id") && v == headers[1].1),
        "c-2-5-1: {:?}",
        echoed.headers
    );

    let batches = [
        (
            "3.2.1",
            json!({"subject": s("alice"), "action": a("read"), "evaluations": [{"resource": r("record-1")}, {"resource": r("record-2")}]}),
            None,
        ),
        (
            "3.2.2",
            json!({"subject": s("bob"), "resource": r("record-1"), "evaluations": [{"action": a("read")}, {"action": a("write")}]}),
            Some(vec![true, false]),
        ),
        (
            "3.2.3",
            json!({"subject": s("alice"), "action": a("write"), "evaluations": [
            {"resource": {"type": "record", "id": "record-1", "properties": {"status": "active"}}}, {"resource": archived}]}),
            Some(vec![true, false]),
        ),
        (
            "3.2.4",
            json!({"action": a("write"), "resource": archived, "evaluations": [{"subject": s("alice")}, {"subject": admin}]}),
            Some(vec![false, true]),
        ),
        (
            "3.2.5",
            json!({"evaluations": [one(s("alice"), a("read"), r("record-1")), one(s("bob"), a("write"), r("record-1"))]}),
            Some(vec![true, false]),
        ),
        (
            "3.2.6",
            json!({"subject": s("alice"), "action": a("read"), "context": {"time": "2025-06-27T18:03-07:00"}, "evaluations": [
            {"resource": r("record-1")}, {"resource": r("record-2"), "context": {"time": "2025-06-27T19:00-07:00", "source": "batch-override"}}]}),
            None,
        ),
        (
            "3.2.7",
            json!({"subject": s("alice"), "action": a("write"), "resource": {"type": "record"}, "evaluations": [
            {"resource": {"id": "record-1", "properties": {"status": "active"}}}, {"resource": archived}]}),
            Some(vec![true, false]),
        ),
        (
            "3.4.1",
            json!({"subject": s("alice"), "action": a("read"), "evaluations": [{"resource": r("record-1")}, {}]}),
            None,
        ),
    ];
    for (id, request, want) in batches {
        let body = ok_json(c.post_json("/access/v1/evaluations", &request.to_string()).unwrap());
        let decisions: Vec<bool> =
            body["evaluations"].as_array().unwrap().iter().map(|e| e["decision"].as_bool().unwrap()).collect();
        assert_eq!(decisions.len(), request["evaluations"].as_array().unwrap().len(), "c-3-3-1 ({id}): {body}");
        if let Some(want) = want {
            assert_eq!(decisions, want, "c-{id}: {body}");
        }
        if id == "3.4.1" {
            assert!(!decisions[1], "c-3-4-1: {body}");
        }
    }
    // c-3-4-2 and c-3-4-3: no evaluations, or none: a single decision.
    let mut single = one(s("alice"), a("read"), r("record-1"));
    assert_eq!(
        ok_json(c.post_json("/access/v1/evaluations", &single.to_string()).unwrap()),
        json!({"decision": true, "context": ok_json(c.post_json("/access/v1/evaluation", &single.to_string()).unwrap())["context"]})
    );
    single["evaluations"] = json!([]);
    assert_eq!(
        ok_json(c.post_json("/access/v1/evaluations", &single.to_string()).unwrap())["decision"],
        true,
        "c-3-4-3"
    );
    // c-6: the metadata's required fields (served over plain HTTP: TLS is a proxy's in front).
    let metadata = ok_json(c.get("/.well-known/authzen-configuration").unwrap());
    assert_eq!(metadata["policy_decision_point"], json!(format!("http://{}", server.addr)), "c-6-3");
    assert_eq!(
        metadata["access_evaluation_endpoint"],
        json!(format!("http://{}/access/v1/evaluation", server.addr)),
        "c-6-3"
    );
}

/// The NATS server (with JetStream and its monitoring port) a test starts; killed when dropped.
struct Nats {
    child: std::process::Child,
    url: String,
    monitor: std::net::SocketAddr,
    _store: tempfile::TempDir,
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nats {
    fn start(bin: &Path) -> Nats {
        let port = |()| authz_conformance::differential::free_port().unwrap().to_string();
        let (client_port, monitor_port) = (port(()), port(()));
        let store = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(bin)
            .args(["-js", "-a", "127.0.0.1", "-p", &client_port, "-m", &monitor_port, "-sd"])
            .arg(store.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let monitor: std::net::SocketAddr = format!("127.0.0.1:{monitor_port}").parse().unwrap();
        let nats = Nats { child, url: format!("nats://127.0.0.1:{client_port}"), monitor, _store: store };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Client::new(monitor).get("/healthz").is_err() {
            assert!(Instant::now() < deadline, "NATS did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        nats
    }

    /// A page of NATS's monitoring API.
    fn monitor(&self, path: &str) -> Value {
        Client::new(self.monitor).get(path).unwrap().json().unwrap()
    }
}

/// wasmCloud 1.x links components over wRPC on NATS: in `wasmcloud/wadm.yaml`, the gateway's
/// calls to the PDP are NATS messages, which the NATS server counts. Seen from NATS's own
/// monitoring API: the PDP serves `authz:pdp/authz` on wRPC subjects, and one HTTP check is
/// several messages through NATS (its calls, their answers) on top of what an idle lattice sends.
#[test]
fn the_wasmcloud1_gateway_calls_the_pdp_over_wrpc_on_nats() {
    let wasmcloud1 = authz_conformance::runtime::Wasmcloud1::new().unwrap();
    let nats = Nats::start(&wasmcloud1.nats_server);
    let server = wasmcloud1.serve_on(Some(&nats.url), example_component(), &[]).unwrap();
    let subs = nats.monitor("/subsz?subs=1");
    let subjects: Vec<&str> =
        subs["subscriptions_list"].as_array().unwrap().iter().filter_map(|s| s["subject"].as_str()).collect();
    assert!(
        subjects.iter().any(|s| s.contains(".wrpc.") && s.ends_with("authz:pdp/authz@0.1.0.check-resources")),
        "the PDP serves authz:pdp/authz over wRPC: {subjects:?}"
    );
    let messages = |nats: &Nats| nats.monitor("/varz")["in_msgs"].as_u64().unwrap();
    // The lattice's own traffic (heartbeats, events) per second, measured idle.
    let idle_window = Duration::from_secs(1);
    let before = messages(&nats);
    std::thread::sleep(idle_window);
    let idle_per_second = (messages(&nats) - before) as f64 / idle_window.as_secs_f64();
    let (checks, before, started) = (5, messages(&nats), Instant::now());
    for _ in 0..checks {
        ok_json(server.client().post_json("/api/check/resources", &example_request()).unwrap());
    }
    let during = (messages(&nats) - before) as f64;
    let idle = idle_per_second * started.elapsed().as_secs_f64();
    // Each check is at least one call to the PDP and its answer.
    assert!(
        during - idle >= f64::from(2 * checks),
        "{checks} checks: {during} NATS messages, {idle:.1} expected idle (no wRPC call between the components?)"
    );
}
