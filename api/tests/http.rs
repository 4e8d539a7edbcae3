//! The transport-neutral handler with a stub decider: routes, methods, error bodies, request
//! options, and AuthZEN batch semantics, the same for every HTTP host.

use authz_api::cerbos::{CheckResourcesRequest, Limits};
use authz_api::http::{Endpoint, Handler, Request, Response};
use authz_api::{ActionEffect, CheckOptions, CheckOutput, DecideError, Decider, Decision, Effect, Failure};
use serde_json::{json, Value};
use std::cell::RefCell;

/// Allows actions named `allow*`; records what it was asked.
#[derive(Default)]
struct Stub {
    asked: RefCell<Vec<(CheckResourcesRequest, CheckOptions)>>,
    fail: Option<Failure>,
    /// Answers one result fewer than asked (a broken decider).
    short: bool,
}

impl Decider for Stub {
    fn decide(&self, request: &CheckResourcesRequest, options: &CheckOptions) -> Result<Decision, DecideError> {
        self.asked.borrow_mut().push((request.clone(), options.clone()));
        if let Some(f) = self.fail {
            return Err(DecideError::runtime(f, "stub failure"));
        }
        let outputs = request
            .resources
            .iter()
            .map(|r| CheckOutput {
                request_id: request.request_id.clone(),
                resource_id: r.resource.id.clone(),
                actions: r
                    .actions
                    .iter()
                    .map(|a| {
                        let effect = if a.starts_with("allow") { Effect::Allow } else { Effect::Deny };
                        (a.clone(), ActionEffect { effect, policy: "p".into(), scope: String::new(), rule: "r".into() })
                    })
                    .collect(),
                effective_derived_roles: vec![],
                validation_errors: vec![],
                outputs: vec![],
                evaluation_errors: vec![],
            })
            .collect::<Vec<_>>();
        let outputs = if self.short { outputs.into_iter().skip(1).collect() } else { outputs };
        Ok(Decision { outputs, bundle_digest: "sha256:stub".into(), bundle_label: None })
    }
}

fn call(handler: &Handler, decider: &Stub, method: &str, path: &str, body: Value) -> (Option<Endpoint>, Response) {
    let body = body.to_string();
    handler.handle(decider, Request { method, path, host: Some("pdp.example:8080"), body: body.as_bytes() })
}

fn cerbos(actions: &[&str]) -> Value {
    json!({
        "requestId": "r1",
        "principal": {"id": "alice", "roles": ["user"]},
        "resources": [{"actions": actions, "resource": {"kind": "doc", "id": "d1"}}]
    })
}

#[test]
fn cerbos_requests_are_decided_and_encoded_with_the_digest() {
    let (handler, stub) = (Handler::new(Limits::default(), false), Stub::default());
    let (endpoint, r) = call(&handler, &stub, "POST", "/api/check/resources", cerbos(&["allow", "delete"]));
    assert_eq!((endpoint, r.status), (Some(Endpoint::CheckResources), 200));
    assert_eq!(r.body["results"][0]["actions"], json!({"allow": "EFFECT_ALLOW", "delete": "EFFECT_DENY"}));
    assert_eq!(r.body["bundleDigest"], json!("sha256:stub"));
    assert_eq!(stub.asked.borrow()[0].1, CheckOptions::default());
}

#[test]
fn request_options_are_refused_unless_allowed_and_then_reach_the_decider() {
    let mut body = cerbos(&["allow"]);
    body["authzOptions"] = json!({"now": "2026-01-01T00:00:00Z", "lenientScopes": true});
    let stub = Stub::default();
    let (_, r) = call(&Handler::new(Limits::default(), false), &stub, "POST", "/api/check/resources", body.clone());
    assert_eq!((r.status, &r.body["path"]), (400, &json!("$.authzOptions")));
    assert!(stub.asked.borrow().is_empty(), "a refused request must not be decided");
    let (_, r) = call(&Handler::new(Limits::default(), true), &stub, "POST", "/api/check/resources", body);
    assert_eq!(r.status, 200);
    let opts = &stub.asked.borrow()[0].1;
    assert!(opts.lenient_scopes && opts.now.is_some());
}

#[test]
fn errors_have_a_status_a_code_a_message_and_a_path() {
    let (handler, stub) = (Handler::new(Limits { max_actions: 2, ..Limits::default() }, false), Stub::default());
    let cases = [
        ("POST", "/api/check/resources", json!({"principal": {"id": "a", "roles": []}}), 400, Some("$")),
        ("POST", "/api/check/resources", cerbos(&["a", "b", "c"]), 413, Some("$.resources[0].actions")),
        ("GET", "/api/check/resources", json!(null), 405, None),
        ("POST", "/nowhere", json!({}), 404, None),
        ("POST", "/access/v1/evaluation", json!({"subject": {}}), 400, Some("$")),
    ];
    for (method, path, body, status, at) in cases {
        let (_, r) = call(&handler, &stub, method, path, body);
        assert_eq!(r.status, status, "{method} {path}: {}", r.body);
        assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", r.body);
        assert!(r.body["code"].as_u64().is_some(), "{}", r.body);
        if let Some(at) = at {
            assert!(r.body["path"].as_str().is_some_and(|p| p.starts_with(at)), "{path}: {}", r.body);
        }
    }
    let (_, r) = handler
        .handle(&stub, Request { method: "POST", path: "/api/check/resources", host: None, body: &[0xff, 0xfe] });
    assert_eq!((r.status, &r.body["path"]), (400, &json!("$")));
    assert!(stub.asked.borrow().is_empty(), "no malformed request may be decided");
}

#[test]
fn decider_failures_map_to_statuses_by_who_can_act() {
    let handler = Handler::new(Limits::default(), false);
    for (failure, status) in
        [(Failure::Overrun, 422), (Failure::Busy, 503), (Failure::Unavailable, 503), (Failure::Internal, 500)]
    {
        let stub = Stub { fail: Some(failure), ..Stub::default() };
        let (_, r) = call(&handler, &stub, "POST", "/api/check/resources", cerbos(&["allow"]));
        assert_eq!(r.status, status, "{failure:?}");
        assert_eq!(r.body["message"], json!("stub failure"));
    }
}

#[test]
fn a_decider_that_leaves_a_resource_out_is_an_error_not_a_shorter_answer() {
    let stub = Stub { short: true, ..Stub::default() };
    let (_, r) =
        call(&Handler::new(Limits::default(), false), &stub, "POST", "/api/check/resources", cerbos(&["allow"]));
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(r.body.get("results").is_none(), "{}", r.body);
}

#[test]
fn authzen_batches_stop_where_their_semantic_says() {
    let (handler, stub) = (Handler::new(Limits::default(), false), Stub::default());
    let batch = |semantic: &str| {
        json!({
            "subject": {"type": "user", "id": "alice"},
            "resource": {"type": "doc", "id": "d1"},
            "evaluations": [{"action": {"name": "allow1"}}, {"action": {"name": "deny"}}, {"action": {"name": "allow2"}}],
            "options": {"evaluations_semantic": semantic}
        })
    };
    let decisions = |semantic: &str| {
        let (_, r) = call(&handler, &stub, "POST", "/access/v1/evaluations", batch(semantic));
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["evaluations"].as_array().map(|a| a.iter().map(|d| d["decision"] == json!(true)).collect::<Vec<_>>())
    };
    assert_eq!(decisions("execute_all"), Some(vec![true, false, true]));
    assert_eq!(decisions("deny_on_first_deny"), Some(vec![true, false]));
    assert_eq!(decisions("permit_on_first_permit"), Some(vec![true]));
    let one = json!({
        "subject": {"type": "user", "id": "alice"}, "resource": {"type": "doc", "id": "d1"}, "action": {"name": "allow"}
    });
    let (_, r) = call(&handler, &stub, "POST", "/access/v1/evaluation", one);
    assert_eq!((r.status, &r.body["decision"]), (200, &json!(true)));
}

#[test]
fn the_discovery_document_names_the_host() {
    let (handler, stub) = (Handler::new(Limits::default(), false), Stub::default());
    let (endpoint, r) = call(&handler, &stub, "GET", "/.well-known/authzen-configuration", json!(null));
    assert_eq!(endpoint, Some(Endpoint::Configuration));
    assert_eq!(r.body["access_evaluation_endpoint"], json!("http://pdp.example:8080/access/v1/evaluation"));
}

#[test]
fn the_hosts_defaults_reach_the_decider_for_both_apis_and_a_request_overrides_them_field_by_field() {
    let defaults = CheckOptions {
        default_scope: "acme".into(),
        lenient_scopes: true,
        strict_evaluation: true,
        ..CheckOptions::default()
    };
    let (handler, stub) = (Handler::new(Limits::default(), true).with_defaults(defaults.clone()), Stub::default());
    call(&handler, &stub, "POST", "/api/check/resources", cerbos(&["allow"]));
    let eval = json!({"subject": {"type": "user", "id": "a"}, "resource": {"type": "doc", "id": "1"},
                      "action": {"name": "allow"}});
    call(&handler, &stub, "POST", "/access/v1/evaluation", eval.clone());
    let batch = json!({"subject": {"type": "user", "id": "a"}, "resource": {"type": "doc", "id": "1"},
                       "evaluations": [{"action": {"name": "allow"}}]});
    call(&handler, &stub, "POST", "/access/v1/evaluations", batch);
    let mut own = cerbos(&["allow"]);
    own["authzOptions"] = json!({"defaultScope": "beta"});
    call(&handler, &stub, "POST", "/api/check/resources", own);
    let asked: Vec<CheckOptions> = stub.asked.borrow().iter().map(|(_, o)| o.clone()).collect();
    assert_eq!(asked[..3], [defaults.clone(), defaults.clone(), defaults.clone()]);
    assert_eq!(asked[3], CheckOptions { default_scope: "beta".into(), ..defaults });
}

#[test]
fn probes_answer_health_and_readiness_and_nothing_else() {
    let details = || authz_api::BundleDetails {
        digest: "sha256:d".into(),
        label: Some("l".into()),
        policy_count: 2,
        engine_version: "0".into(),
        reads_clock: false,
    };
    let health = authz_api::http::probe("GET", "/healthz", || unreachable!("health needs no bundle")).unwrap();
    assert_eq!((health.status, health.body["status"].clone()), (200, json!("ok")));
    let ready = authz_api::http::probe("GET", "/readyz", details).unwrap();
    assert_eq!((ready.status, ready.body["bundleDigest"].clone()), (200, json!("sha256:d")));
    assert!(authz_api::http::probe("POST", "/readyz", details).is_none());
    assert!(authz_api::http::probe("GET", "/api/check/resources", details).is_none());
}
