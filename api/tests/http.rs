//! The transport-neutral handler with a stub decider: routes, methods, error bodies, request
//! options, and AuthZEN batch semantics, the same for every HTTP host.

use authz_api::cerbos::{CheckResourcesRequest, Limits};
use authz_api::http::{Endpoint, Handler, Request, Response};
use authz_api::plan::{Operand, PlanFilter, PlanInput, PlanOutput};
use authz_api::{
    ActionEffect, CheckOptions, CheckOutput, DecideError, Decider, Decision, Effect, Failure, PlanDecision,
};
use serde_json::{json, Value};
use std::cell::RefCell;

/// Allows actions named `allow*`; records what it was asked.
#[derive(Default)]
struct Stub {
    asked: RefCell<Vec<(CheckResourcesRequest, CheckOptions)>>,
    planned: RefCell<Vec<(PlanInput, CheckOptions)>>,
    fail: Option<Failure>,
    /// Answers one result fewer than asked (a broken decider).
    short: bool,
    /// Refuses every request as invalid (as a decider validating roles would).
    refuse: bool,
}

impl Decider for Stub {
    fn decide(&self, request: &CheckResourcesRequest, options: &CheckOptions) -> Result<Decision, DecideError> {
        self.asked.borrow_mut().push((request.clone(), options.clone()));
        if let Some(f) = self.fail {
            return Err(DecideError::runtime(f, "stub failure"));
        }
        if self.refuse {
            let path = "$.principal.roles[1]".to_string();
            return Err(DecideError::Request(authz_api::RequestError::Invalid { path, message: "repeated".into() }));
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
    /// Two actions its `allow` rule allows and one it does not, the first named by the kind.
    fn actions(&self, kind: &str) -> Result<Vec<String>, DecideError> {
        Ok(vec!["allow".into(), format!("allow-{kind}"), "deny".into()])
    }

    /// Plans `owner == <principal id>`, or fails as the stub is told to.
    fn plan(&self, input: &PlanInput, options: &CheckOptions) -> Result<PlanDecision, DecideError> {
        self.planned.borrow_mut().push((input.clone(), options.clone()));
        if let Some(f) = self.fail {
            return Err(DecideError::runtime(f, "stub failure"));
        }
        let condition = Operand::op(
            "eq",
            vec![Operand::Variable("request.resource.attr.owner".into()), Operand::Value(json!(input.principal.id))],
        );
        let output = PlanOutput {
            request_id: input.request_id.clone(),
            actions: input.actions.clone(),
            resource_kind: input.resource.kind.clone(),
            policy_version: "default".into(),
            scope: String::new(),
            filter: PlanFilter::from_condition(condition),
            matched_scopes: input.actions.iter().map(|a| (a.clone(), String::new())).collect(),
            validation_errors: vec![],
        };
        Ok(PlanDecision { output, bundle_digest: "sha256:stub".into(), bundle_label: None })
    }
}

/// A request as an HTTP client sends JSON: `Content-Type: application/json`, no request id.
fn request<'a>(method: &'a str, path: &'a str, body: &'a str) -> Request<'a> {
    Request {
        method,
        path,
        host: Some("pdp.example:8080"),
        content_type: Some("application/json"),
        request_id: None,
        body: body.as_bytes(),
    }
}

fn call(handler: &Handler, decider: &Stub, method: &str, path: &str, body: Value) -> (Option<Endpoint>, Response) {
    let body = body.to_string();
    handler.handle(decider, request(method, path, &body))
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

fn plan_request(actions: Value) -> Value {
    json!({
        "requestId": "p1",
        "actions": actions,
        "principal": {"id": "alice", "roles": ["user"]},
        "resource": {"kind": "doc", "attr": {"team": "a"}},
        "includeMeta": true
    })
}

#[test]
fn plan_requests_are_planned_and_encoded_as_cerbos_answers_them_with_the_digest() {
    let (handler, stub) = (Handler::new(Limits::default(), false), Stub::default());
    let (endpoint, r) = call(&handler, &stub, "POST", "/api/plan/resources", plan_request(json!(["view", "edit"])));
    assert_eq!((endpoint, r.status), (Some(Endpoint::PlanResources), 200), "{}", r.body);
    assert_eq!(r.body["requestId"], "p1");
    assert_eq!(r.body["resourceKind"], "doc");
    assert_eq!(r.body["actions"], json!(["view", "edit"]));
    assert_eq!(
        r.body["filter"],
        json!({"kind": "KIND_CONDITIONAL", "condition": {"expression": {"operator": "eq", "operands": [
            {"variable": "request.resource.attr.owner"}, {"value": "alice"}]}}})
    );
    assert_eq!(r.body["meta"]["filterDebug"], r#"(eq request.resource.attr.owner "alice")"#);
    assert_eq!(r.body["bundleDigest"], "sha256:stub");
    let planned = stub.planned.borrow();
    assert_eq!(planned[0].0.resource.attr.get("team"), Some(&json!("a")), "known attributes reach the planner");
    // Cerbos's older single `action` is one action.
    drop(planned);
    let mut one = plan_request(json!([]));
    one.as_object_mut().map(|o| o.remove("actions"));
    one["action"] = json!("view");
    let (_, r) = call(&handler, &stub, "POST", "/api/plan/resources", one);
    assert_eq!((r.status, &r.body["actions"]), (200, &json!(["view"])), "{}", r.body);
}

#[test]
fn a_bad_plan_request_is_a_400_naming_the_path_and_is_not_planned() {
    let (handler, stub) = (Handler::new(Limits::default(), false), Stub::default());
    for (body, path) in [
        (plan_request(json!([])), "$.actions"),
        (plan_request(json!(["view", "view"])), "$.actions[1]"),
        (
            json!({"actions": ["view"], "principal": {"id": "a", "roles": ["r"]}, "resource": {"kind": ""}}),
            "$.resource.kind",
        ),
        (
            json!({"actions": ["view"], "principal": {"id": "a", "roles": ["r"]}, "resource": {"kind": "k", "id": "x"}}),
            "$.resource.id",
        ),
    ] {
        let (_, r) = call(&handler, &stub, "POST", "/api/plan/resources", body.clone());
        assert_eq!((r.status, &r.body["path"]), (400, &json!(path)), "{body}: {}", r.body);
    }
    let mut body = plan_request(json!(["view"]));
    body["authzOptions"] = json!({"lenientScopes": true});
    let (_, r) = call(&handler, &stub, "POST", "/api/plan/resources", body.clone());
    assert_eq!((r.status, &r.body["path"]), (400, &json!("$.authzOptions")));
    assert!(stub.planned.borrow().is_empty(), "a refused request must not be planned");
    let (_, r) = call(&Handler::new(Limits::default(), true), &stub, "POST", "/api/plan/resources", body);
    assert_eq!(r.status, 200);
    assert!(stub.planned.borrow()[0].1.lenient_scopes);
    let failing = Stub { fail: Some(Failure::Busy), ..Stub::default() };
    let (_, r) = call(&handler, &failing, "POST", "/api/plan/resources", plan_request(json!(["view"])));
    assert_eq!(r.status, 503);
}

#[test]
fn errors_have_a_status_a_code_a_message_and_a_path() {
    let (handler, stub) = (Handler::new(Limits { max_actions: 2, ..Limits::default() }, false), Stub::default());
    let cases = [
        ("POST", "/api/check/resources", json!({"principal": {"id": "a", "roles": []}}), 400, Some("$")),
        ("POST", "/api/check/resources", cerbos(&["a", "b", "c"]), 413, Some("$.resources[0].actions")),
        ("GET", "/api/check/resources", json!(null), 405, None),
        ("POST", "/nowhere", json!({}), 404, None),
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
    let (_, r) = handler.handle(&stub, Request { body: &[0xff, 0xfe], ..request("POST", "/api/check/resources", "") });
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

/// The AuthZEN spec's error: the status, and the message as the body (a JSON string).
fn authzen_error(r: &Response, status: u16) -> &str {
    assert_eq!(r.status, status, "{}", r.body);
    let message = r.body.as_str().unwrap_or_default();
    assert!(!message.is_empty(), "an AuthZEN error body is its message, a string: {}", r.body);
    message
}

fn alice(action: &str) -> Value {
    json!({"subject": {"type": "user", "id": "alice"}, "resource": {"type": "doc", "id": "d1"},
           "action": {"name": action}})
}

#[test]
fn authzen_errors_are_the_spec_s_message_strings_naming_the_path() {
    let (handler, stub) = (Handler::new(Limits::default(), false), Stub::default());
    let cases = [
        (json!({"action": {"name": "allow"}, "resource": {"type": "doc", "id": "d1"}}), "$.subject"),
        (
            json!({"subject": {"id": "alice"}, "action": {"name": "allow"}, "resource": {"type": "doc", "id": "d1"}}),
            "$.subject.type",
        ),
        (
            json!({"subject": "alice", "action": {"name": "allow"}, "resource": {"type": "doc", "id": "d1"}}),
            "$.subject",
        ),
        (
            json!({"subject": {"type": "user", "id": "alice"}, "action": {}, "resource": {"type": "doc", "id": "d1"}}),
            "$.action.name",
        ),
        (
            json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": 123}, "resource": {"type": "doc", "id": "d1"}}),
            "$.action.name",
        ),
        (
            json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": "allow"}, "resource": {"type": "doc"}}),
            "$.resource.id",
        ),
    ];
    for path in ["/access/v1/evaluation", "/access/v1/evaluations"] {
        for (body, at) in &cases {
            let (_, r) = call(&handler, &stub, "POST", path, body.clone());
            let message = authzen_error(&r, 400);
            assert!(message.contains(&format!("`{at}`")), "{path} {body}: {message}");
        }
        for body in ["", "{", "[1]"] {
            let (_, r) = handler.handle(&stub, request("POST", path, body));
            authzen_error(&r, 400);
        }
    }
    let (_, r) = call(&handler, &stub, "GET", "/access/v1/evaluation", json!(null));
    authzen_error(&r, 405);
    assert!(stub.asked.borrow().is_empty(), "no malformed request may be decided");
}

#[test]
fn authzen_requests_must_be_json_and_cerbos_requests_need_not_say_so() {
    let (handler, stub) = (Handler::new(Limits::default(), false), Stub::default());
    let body = alice("allow").to_string();
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("application/jsonx")]
    {
        let (_, r) = handler.handle(&stub, Request { content_type, ..request("POST", "/access/v1/evaluation", &body) });
        let message = authzen_error(&r, 400);
        assert!(message.contains("Content-Type"), "{message}");
    }
    assert!(stub.asked.borrow().is_empty());
    for content_type in ["application/json", "Application/JSON", "application/json; charset=utf-8"] {
        let at = Request { content_type: Some(content_type), ..request("POST", "/access/v1/evaluation", &body) };
        let (_, r) = handler.handle(&stub, at);
        assert_eq!((r.status, &r.body["decision"]), (200, &json!(true)), "{content_type}");
    }
    // Cerbos's own API takes a body whatever its declared type, as `cerbos server` does.
    let cerbos = cerbos(&["allow"]).to_string();
    let (_, r) =
        handler.handle(&stub, Request { content_type: None, ..request("POST", "/api/check/resources", &cerbos) });
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn every_answer_echoes_the_request_id() {
    let (handler, stub) = (Handler::new(Limits::default(), false), Stub::default());
    let (eval, cerbos) = (alice("allow").to_string(), cerbos(&["allow"]).to_string());
    let cases = [
        ("POST", "/access/v1/evaluation", eval.as_str(), 200),
        ("POST", "/access/v1/evaluation", "{", 400),
        ("POST", "/api/check/resources", cerbos.as_str(), 200),
        ("GET", "/.well-known/authzen-configuration", "", 200),
        ("POST", "/nowhere", "", 404),
    ];
    for (method, path, body, status) in cases {
        let at = Request { request_id: Some("bfe9eb29-ab87"), ..request(method, path, body) };
        let (_, r) = handler.handle(&stub, at);
        assert_eq!(r.status, status, "{path}: {}", r.body);
        assert_eq!(r.headers, [("X-Request-ID".to_string(), "bfe9eb29-ab87".to_string())], "{path}");
        let (_, r) = handler.handle(&stub, request(method, path, body));
        assert!(r.headers.is_empty(), "{path}: no request id, none echoed: {:?}", r.headers);
    }
}

#[test]
fn authzen_ignores_members_it_does_not_define_at_every_level() {
    let (handler, stub) = (Handler::new(Limits::default(), false), Stub::default());
    let mut one = alice("allow");
    one["foo"] = json!("bar");
    one["futureField"] = json!({"nested": true});
    one["subject"]["email"] = json!("a@example.com");
    one["resource"]["owner"] = json!("bob");
    one["action"]["verb"] = json!("GET");
    let (_, r) = call(&handler, &stub, "POST", "/access/v1/evaluation", one.clone());
    assert_eq!((r.status, &r.body["decision"]), (200, &json!(true)), "{}", r.body);
    let batch = json!({"subject": one["subject"], "resource": one["resource"], "futureField": 1,
                       "options": {"evaluations_semantic": "execute_all", "another_option": "value"},
                       "evaluations": [{"action": {"name": "allow", "x": 1}, "y": 2}]});
    let (_, r) = call(&handler, &stub, "POST", "/access/v1/evaluations", batch);
    assert_eq!((r.status, &r.body["evaluations"][0]["decision"]), (200, &json!(true)), "{}", r.body);
    // Nothing unknown reaches the decision: the subject's attributes are its `properties`.
    assert!(stub.asked.borrow().iter().all(|(req, _)| req.principal.attr.is_empty()));
}

#[test]
fn an_evaluation_that_cannot_be_decoded_is_denied_with_its_error_and_the_others_are_decided() {
    let (handler, stub) = (Handler::new(Limits::default(), false), Stub::default());
    let batch = |semantic: &str| {
        json!({
            "subject": {"type": "user", "id": "alice"},
            "action": {"name": "allow"},
            "options": {"evaluations_semantic": semantic},
            "evaluations": [
                {"resource": {"type": "doc", "id": "d1"}},
                {},
                {"resource": {"type": "doc", "id": "d2"}, "action": {"name": 123}},
                "not an object",
                {"resource": {"type": "doc", "id": "d3"}}
            ]
        })
    };
    let (_, r) = call(&handler, &stub, "POST", "/access/v1/evaluations", batch("execute_all"));
    assert_eq!(r.status, 200, "{}", r.body);
    let evaluations = r.body["evaluations"].as_array().cloned().unwrap_or_default();
    let decisions: Vec<_> = evaluations.iter().map(|e| e["decision"].clone()).collect();
    assert_eq!(decisions, [json!(true), json!(false), json!(false), json!(false), json!(true)]);
    for (i, at) in [(1, "$.evaluations[1].resource"), (2, "$.evaluations[2].action.name"), (3, "$.evaluations[3]")] {
        let error = &evaluations[i]["context"]["error"];
        assert_eq!((&error["status"], &error["path"]), (&json!(400), &json!(at)), "{}", evaluations[i]);
        assert!(error["message"].as_str().is_some_and(|m| m.contains(at)), "{error}");
    }
    let (_, r) = call(&handler, &stub, "POST", "/access/v1/evaluations", batch("deny_on_first_deny"));
    assert_eq!(r.body["evaluations"].as_array().map(Vec::len), Some(2), "an error is a denial: {}", r.body);
    // A malformed payload as a whole is still the request's error.
    let mut bad = batch("execute_all");
    bad["subject"] = json!("alice");
    let (_, r) = call(&handler, &stub, "POST", "/access/v1/evaluations", bad);
    authzen_error(&r, 400);
}

#[test]
fn an_evaluation_s_own_entity_replaces_the_default_but_for_the_identifiers_it_leaves_out() {
    let (handler, stub) = (Handler::new(Limits::default(), false), Stub::default());
    let batch = json!({
        "subject": {"type": "user", "id": "alice", "properties": {"department": "sales"}},
        "action": {"name": "allow"},
        "resource": {"type": "record", "properties": {"status": "draft"}},
        "evaluations": [
            {"resource": {"id": "r1", "properties": {"status": "active"}}},
            {"resource": {"type": "doc", "id": "r2"}},
            {"subject": {"id": "bob"}, "resource": {"id": "r3"}}
        ]
    });
    let (_, r) = call(&handler, &stub, "POST", "/access/v1/evaluations", batch);
    assert_eq!(r.status, 200, "{}", r.body);
    let asked = stub.asked.borrow();
    let resources: Vec<(String, String, Value)> = asked
        .iter()
        .flat_map(|(req, _)| req.resources.iter())
        .map(|e| (e.resource.kind.clone(), e.resource.id.clone(), Value::Object(e.resource.attr.clone())))
        .collect();
    assert_eq!(
        resources,
        [
            ("record".into(), "r1".into(), json!({"status": "active"})),
            ("doc".into(), "r2".into(), json!({})),
            ("record".into(), "r3".into(), json!({})),
        ]
    );
    let bob = asked.iter().find(|(req, _)| req.principal.id == "bob").map(|(req, _)| req.principal.clone());
    assert_eq!(bob.map(|p| (p.roles, Value::Object(p.attr))), Some((vec!["user".to_string()], json!({}))));
}

#[test]
fn evaluations_of_one_subject_are_one_cerbos_request_and_share_its_response() {
    let (handler, stub) = (Handler::new(Limits::default(), false), Stub::default());
    let batch = json!({
        "subject": {"type": "user", "id": "alice"},
        "context": {"cerbos.includeMeta": true},
        "evaluations": [
            {"action": {"name": "allow"}, "resource": {"type": "doc", "id": "d1"}},
            {"action": {"name": "deny"}, "resource": {"type": "doc", "id": "d1"}},
            {"action": {"name": "allow"}, "resource": {"type": "doc", "id": "d2"}},
            {"action": {"name": "allow"}, "resource": {"type": "doc", "id": "d1"}, "subject": {"type": "user", "id": "bob"}}
        ]
    });
    let (_, r) = call(&handler, &stub, "POST", "/access/v1/evaluations", batch);
    assert_eq!(r.status, 200, "{}", r.body);
    let asked: Vec<Vec<(String, Vec<String>)>> = stub
        .asked
        .borrow()
        .iter()
        .map(|(req, _)| req.resources.iter().map(|e| (e.resource.id.clone(), e.actions.clone())).collect())
        .collect();
    let entry = |id: &str, actions: &[&str]| (id.to_string(), actions.iter().map(|a| a.to_string()).collect());
    assert_eq!(asked, [vec![entry("d1", &["allow", "deny"]), entry("d2", &["allow"])], vec![entry("d1", &["allow"])]]);
    let e = &r.body["evaluations"];
    let decisions: Vec<_> = (0..4).map(|i| e[i]["decision"].clone()).collect();
    assert_eq!(decisions, [json!(true), json!(false), json!(true), json!(true)]);
    let response = |i: usize| e[i]["context"]["cerbos.response"].clone();
    assert_eq!(response(0)["results"].as_array().map(Vec::len), Some(2));
    assert!(response(0) == response(1) && response(1) == response(2));
    assert_eq!(response(3)["results"][0]["actions"], json!({"allow": "EFFECT_ALLOW"}));
    assert_eq!(e[0]["context"]["authz.bundleDigest"], json!("sha256:stub"));
}

#[test]
fn a_short_circuiting_batch_decides_nothing_past_its_stop() {
    let handler = Handler::new(Limits::default(), false);
    for (semantic, decided) in [("execute_all", 3), ("deny_on_first_deny", 2), ("permit_on_first_permit", 1)] {
        let stub = Stub::default();
        let batch = json!({
            "subject": {"type": "user", "id": "alice"},
            "resource": {"type": "doc", "id": "d1"},
            "evaluations": [{"action": {"name": "allow1"}}, {"action": {"name": "deny"}}, {"action": {"name": "allow2"}}],
            "options": {"evaluations_semantic": semantic}
        });
        let (_, r) = call(&handler, &stub, "POST", "/access/v1/evaluations", batch);
        assert_eq!(r.body["evaluations"].as_array().map(Vec::len), Some(decided), "{semantic}: {}", r.body);
        let asked: usize = stub
            .asked
            .borrow()
            .iter()
            .map(|(req, _)| req.resources.iter().map(|e| e.actions.len()).sum::<usize>())
            .sum();
        assert_eq!(asked, decided, "{semantic}: every (resource, action) decided is answered");
    }
}

#[test]
fn a_group_stays_within_the_limits_every_decider_holds_requests_to() {
    // An operator allowing batches of 60 evaluations: the component decides requests of at
    // most 50 resources (the default limits), so 60 resources are two requests.
    let handler = Handler::new(Limits { max_resources: 60, max_actions: 2, ..Limits::default() }, false);
    let stub = Stub::default();
    let evaluations: Vec<Value> =
        (0..60).map(|i| json!({"resource": {"type": "doc", "id": format!("d{i}")}})).collect();
    let batch =
        json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": "allow"}, "evaluations": evaluations});
    let (_, r) = call(&handler, &stub, "POST", "/access/v1/evaluations", batch);
    assert_eq!(
        r.body["evaluations"].as_array().map(|e| e.iter().filter(|d| d["decision"] == json!(true)).count()),
        Some(60)
    );
    let sizes: Vec<usize> = stub.asked.borrow().iter().map(|(req, _)| req.resources.len()).collect();
    assert_eq!(sizes, [50, 10]);
    // Three actions on one resource under a limit of two actions: two entries.
    let stub = Stub::default();
    let actions: Vec<Value> = ["allow1", "allow2", "deny"].iter().map(|a| json!({"action": {"name": a}})).collect();
    let batch = json!({"subject": {"type": "user", "id": "alice"}, "resource": {"type": "doc", "id": "d1"}, "evaluations": actions});
    let (_, r) = call(&handler, &stub, "POST", "/access/v1/evaluations", batch);
    let decisions: Option<Vec<bool>> =
        r.body["evaluations"].as_array().map(|e| e.iter().map(|d| d["decision"] == json!(true)).collect());
    assert_eq!(decisions, Some(vec![true, true, false]));
    let entries: Vec<Vec<String>> =
        stub.asked.borrow().iter().flat_map(|(req, _)| req.resources.iter().map(|e| e.actions.clone())).collect();
    assert_eq!(entries, [vec!["allow1".to_string(), "allow2".to_string()], vec!["deny".to_string()]]);
}

#[test]
fn an_evaluation_the_decider_refuses_is_a_400_alone_and_its_own_error_in_a_batch() {
    let (handler, stub) = (Handler::new(Limits::default(), false), Stub { refuse: true, ..Stub::default() });
    let (_, r) = call(&handler, &stub, "POST", "/access/v1/evaluation", alice("allow"));
    assert!(authzen_error(&r, 400).contains("$.principal.roles[1]"));
    let batch = json!({"subject": {"type": "user", "id": "alice"}, "resource": {"type": "doc", "id": "d1"},
                       "evaluations": [{"action": {"name": "allow"}}]});
    let (_, r) = call(&handler, &stub, "POST", "/access/v1/evaluations", batch);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["evaluations"][0]["decision"], json!(false));
    assert_eq!(r.body["evaluations"][0]["context"]["error"]["path"], json!("$.principal.roles[1]"));
}

#[test]
fn the_discovery_document_names_the_host() {
    let (handler, stub) = (Handler::new(Limits::default(), false), Stub::default());
    let (endpoint, r) = call(&handler, &stub, "GET", "/.well-known/authzen-configuration", json!(null));
    assert_eq!(endpoint, Some(Endpoint::Configuration));
    assert_eq!(r.body["access_evaluation_endpoint"], json!("http://pdp.example:8080/access/v1/evaluation"));
    assert_eq!(r.body["search_action_endpoint"], json!("http://pdp.example:8080/access/v1/search/action"));
}

#[test]
fn an_action_search_decides_every_candidate_in_one_request_and_answers_the_allowed_ones() {
    let (handler, stub) = (Handler::new(Limits::default(), false), Stub::default());
    let body = json!({
        "subject": {"type": "user", "id": "alice", "properties": {"cerbos.roles": ["user"]}},
        "resource": {"type": "doc", "id": "d1"},
        "context": {"cerbos.requestId": "s1"},
        // The search has no action: one given is ignored like any other member.
        "action": {"name": "deny"}
    });
    let (endpoint, r) = call(&handler, &stub, "POST", "/access/v1/search/action", body);
    assert_eq!(endpoint, Some(Endpoint::SearchAction));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"results": [{"name": "allow"}, {"name": "allow-doc"}]}));
    // One Cerbos request: the resource with every candidate action, the subject's roles and id.
    let asked = stub.asked.borrow();
    let [(request, _)] = asked.as_slice() else { panic!("one request: {asked:?}") };
    assert_eq!(request.request_id, "s1");
    assert_eq!(request.principal.roles, ["user"]);
    let [entry] = request.resources.as_slice() else { panic!("one resource: {request:?}") };
    assert_eq!((entry.resource.kind.as_str(), entry.resource.id.as_str()), ("doc", "d1"));
    assert_eq!(entry.actions, ["allow", "allow-doc", "deny"]);
}

#[test]
fn an_action_search_without_a_subject_or_as_the_decider_refuses_it_is_an_authzen_error() {
    let (handler, stub) = (Handler::new(Limits::default(), false), Stub::default());
    let (_, r) =
        call(&handler, &stub, "POST", "/access/v1/search/action", json!({"resource": {"type": "doc", "id": "d"}}));
    assert!(authzen_error(&r, 400).contains("$.subject"), "{}", r.body);
    let refusing = Stub { refuse: true, ..Stub::default() };
    let (_, r) = call(&handler, &refusing, "POST", "/access/v1/search/action", alice("view"));
    assert!(authzen_error(&r, 400).contains("roles[1]"), "{}", r.body);
    // Not JSON: refused before the decider is asked anything.
    let text = alice("view").to_string();
    let (_, r) = handler.handle(
        &stub,
        Request { content_type: Some("text/plain"), ..request("POST", "/access/v1/search/action", &text) },
    );
    assert_eq!(r.status, 400);
    assert!(stub.asked.borrow().is_empty());
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
