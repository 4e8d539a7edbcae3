use super::*;
use serde_json::json;

fn limits() -> Limits {
    Limits::default()
}

fn one(v: Value) -> Evaluation {
    match decode_evaluation(&v.to_string(), &limits()) {
        Ok(e) => e,
        Err(e) => unreachable!("decoding {v}: {e}"),
    }
}

fn err(v: Value, batch: bool) -> RequestError {
    let text = v.to_string();
    let r = if batch {
        decode_evaluations(&text, &limits()).map(|_| ())
    } else {
        decode_evaluation(&text, &limits()).map(|_| ())
    };
    match r {
        Err(e) => e,
        Ok(()) => unreachable!("{v} decoded"),
    }
}

fn base() -> Value {
    json!({
        "subject": {"type": "user", "id": "alice", "properties": {
            "cerbos.roles": ["employee", "manager"], "cerbos.policyVersion": "v2", "cerbos.scope": "acme",
            "department": "sales"}},
        "resource": {"type": "document", "id": "d1", "properties": {
            "cerbos.policyVersion": "v3", "cerbos.scope": "acme.uk", "owner": "alice"}},
        "action": {"name": "view", "properties": {"level": 3}},
        "context": {"cerbos.requestId": "r-1", "cerbos.includeMeta": true,
                    "cerbos.auxData": {"jwt": {"sub": "alice"}}, "ip": "10.0.0.1"}
    })
}

#[test]
fn maps_every_field_like_cerbos() {
    let e = one(base());
    let r = &e.request;
    assert_eq!(r.request_id, "r-1");
    assert!(e.include_meta && r.include_meta);
    assert_eq!(r.principal.id, "alice");
    assert_eq!(r.principal.roles, ["employee", "manager"]);
    assert_eq!(r.principal.policy_version, "v2");
    assert_eq!(r.principal.scope, "acme");
    assert_eq!(Value::Object(r.principal.attr.clone()), json!({"department": "sales"}));
    let [entry] = r.resources.as_slice() else { unreachable!("one resource") };
    assert_eq!(entry.actions, ["view"]);
    assert_eq!((entry.resource.kind.as_str(), entry.resource.id.as_str()), ("document", "d1"));
    assert_eq!((entry.resource.policy_version.as_str(), entry.resource.scope.as_str()), ("v3", "acme.uk"));
    assert_eq!(Value::Object(entry.resource.attr.clone()), json!({"owner": "alice"}));
    let aux = r.aux_data.as_ref().map(|a| serde_json::to_value(a).unwrap_or_default());
    assert_eq!(
        aux,
        Some(json!({"jwt": {"sub": "alice"}, "authzen": {"action": {"level": 3}, "context": {"ip": "10.0.0.1"}}}))
    );
}

#[test]
fn subject_type_is_the_role_when_none_are_given() {
    let e = one(json!({"subject": {"type": "service", "id": "s"}, "resource": {"type": "k", "id": "1"},
                       "action": {"name": "a"}}));
    assert_eq!(e.request.principal.roles, ["service"]);
    assert!(e.request.aux_data.is_none());
    assert!(!e.include_meta);
}

#[test]
fn errors_name_the_field() {
    let cases = [
        (json!({"resource": {"type": "k", "id": "1"}, "action": {"name": "a"}}), "$.subject"),
        (
            json!({"subject": {"type": "u"}, "resource": {"type": "k", "id": "1"}, "action": {"name": "a"}}),
            "$.subject.id",
        ),
        (
            json!({"subject": {"type": "u", "id": 7}, "resource": {"type": "k", "id": "1"}, "action": {"name": "a"}}),
            "$.subject.id",
        ),
        (
            json!({"subject": {"type": "u", "id": "x", "properties": {"cerbos.roles": "admin"}},
                   "resource": {"type": "k", "id": "1"}, "action": {"name": "a"}}),
            "$.subject.properties[\"cerbos.roles\"]",
        ),
        (
            json!({"subject": {"type": "u", "id": "x", "properties": {"cerbos.roles": ["a", ""]}},
                   "resource": {"type": "k", "id": "1"}, "action": {"name": "a"}}),
            "$.subject.properties[\"cerbos.roles\"][1]",
        ),
        (
            json!({"subject": {"type": "u", "id": "x"}, "resource": {"type": "k", "id": "1"}, "action": {}}),
            "$.action.name",
        ),
        (
            json!({"subject": {"type": "u", "id": "x"}, "resource": {"type": "k", "id": "1"}, "action": {"name": "a"},
                   "context": {"cerbos.includeMeta": "yes"}}),
            "$.context[\"cerbos.includeMeta\"]",
        ),
        (
            json!({"subject": {"type": "u", "id": "x"}, "resource": {"type": "k", "id": "1"}, "action": {"name": "a"},
                   "context": {"cerbos.auxData": {"jwt": 5}}}),
            "$.context[\"cerbos.auxData\"].jwt",
        ),
    ];
    for (body, path) in cases {
        assert_eq!(err(body.clone(), false).path(), path, "{body}");
    }
    assert_eq!(err(json!([1]), false).path(), "$");
}

#[test]
fn batch_applies_defaults_and_overrides() {
    let mut body = base();
    body["evaluations"] = json!([
        {"action": {"name": "edit"}},
        {"resource": {"type": "document", "id": "d2"}, "context": {"cerbos.requestId": "r-2"}},
        {"subject": {"type": "bot", "id": "b"}, "action": {"name": "delete"}}
    ]);
    body["options"] = json!({"evaluations_semantic": "deny_on_first_deny"});
    let batch = match decode_evaluations(&body.to_string(), &limits()) {
        Ok(b) => b,
        Err(e) => unreachable!("{e}"),
    };
    assert!(!batch.single);
    assert_eq!(batch.semantic, Semantic::DenyOnFirstDeny);
    let summary: Vec<(String, String, String, String)> = batch
        .items
        .iter()
        .flatten()
        .map(|e| {
            let r = &e.request;
            let entry = &r.resources[0];
            (r.principal.id.clone(), entry.resource.id.clone(), entry.actions[0].clone(), r.request_id.clone())
        })
        .collect();
    let want = [("alice", "d1", "edit", "r-1"), ("alice", "d2", "view", "r-2"), ("b", "d1", "delete", "r-1")];
    let want: Vec<_> =
        want.iter().map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string())).collect();
    assert_eq!(summary, want);
    assert_eq!(batch.items.len(), 3);
    assert!(matches!(&batch.items[2], Ok(e) if e.request.principal.roles == ["bot"]));
}

#[test]
fn batch_without_evaluations_is_a_single_evaluation() {
    let batch = match decode_evaluations(&base().to_string(), &limits()) {
        Ok(b) => b,
        Err(e) => unreachable!("{e}"),
    };
    assert!(batch.single);
    assert_eq!(batch.items, vec![Ok(one(base()))]);
}

#[test]
fn batch_errors_and_limits() {
    let mut body = base();
    body["options"] = json!({"evaluations_semantic": "first_wins"});
    assert_eq!(err(body, true).path(), "$.options.evaluations_semantic");
    let mut body = base();
    body["options"] = json!("all");
    assert_eq!(err(body, true).path(), "$.options");
    let mut body = base();
    body["resource"] = json!(["d1"]);
    assert_eq!(err(body, true).path(), "$.resource", "a default of the wrong type is the payload's error");
    let mut body = base();
    body["evaluations"] = Value::Array(vec![json!({}); 51]);
    assert!(matches!(err(body, true), RequestError::Limit { .. }));
    // An evaluation's own error is that evaluation's.
    let item_errors = |body: &Value| match decode_evaluations(&body.to_string(), &limits()) {
        Ok(b) => b.items.iter().map(|i| i.as_ref().err().map(|e| e.path().to_string())).collect::<Vec<_>>(),
        Err(e) => unreachable!("{body}: {e}"),
    };
    let mut body = base();
    body["evaluations"] = json!([{"action": {"name": "a"}}, {"action": {"name": 1}}, 7]);
    assert_eq!(
        item_errors(&body),
        [None, Some("$.evaluations[1].action.name".into()), Some("$.evaluations[2]".into())]
    );
    let mut body = json!({"evaluations": [{"action": {"name": "a"}}]});
    assert_eq!(item_errors(&body), [Some("$.evaluations[0].subject".to_string())]);
    body["subject"] = json!({"type": "u", "id": "x"});
    body["resource"] = json!({"type": "k", "id": "1"});
    assert_eq!(item_errors(&body), [None]);
}

#[test]
fn semantics_stop_where_they_say() {
    assert!(!Semantic::ExecuteAll.stops_after(false) && !Semantic::ExecuteAll.stops_after(true));
    assert!(Semantic::DenyOnFirstDeny.stops_after(false) && !Semantic::DenyOnFirstDeny.stops_after(true));
    assert!(Semantic::PermitOnFirstPermit.stops_after(true) && !Semantic::PermitOnFirstPermit.stops_after(false));
}

#[test]
fn configuration_lists_the_endpoints() {
    assert_eq!(
        configuration("http://127.0.0.1:3592/"),
        json!({
            "policy_decision_point": "http://127.0.0.1:3592",
            "access_evaluation_endpoint": "http://127.0.0.1:3592/access/v1/evaluation",
            "access_evaluations_endpoint": "http://127.0.0.1:3592/access/v1/evaluations",
            "search_action_endpoint": "http://127.0.0.1:3592/access/v1/search/action",
        })
    );
}
