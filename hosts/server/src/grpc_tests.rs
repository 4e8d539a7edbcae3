use super::*;
use cerbos::genpb::cerbos::request::v1::aux_data::Jwt;
use cerbos::genpb::cerbos::request::v1::check_resources_request::ResourceEntry;
use cerbos::genpb::cerbos::request::v1::AuxData;

fn number(n: f64) -> Proto {
    Proto { kind: Some(Kind::NumberValue(n)) }
}

#[test]
fn whole_numbers_are_json_integers_and_the_others_stay_doubles() {
    assert_eq!(from_proto(&number(42.0)), json!(42));
    assert_eq!(from_proto(&number(-3.0)), json!(-3));
    assert_eq!(from_proto(&number(2.5)), json!(2.5));
    // Beyond 2^53 a double no longer names one integer.
    assert_eq!(from_proto(&number(1e300)), json!(1e300));
    assert_eq!(from_proto(&number(f64::NAN)), Value::Null);
    assert_eq!(from_proto(&Proto { kind: None }), Value::Null);
}

#[test]
fn json_and_protobuf_values_convert_both_ways() {
    let v = json!({"a": [1, "x", true, null, {"b": 2.5}], "c": {}});
    assert_eq!(from_proto(&to_proto(&v)), v);
}

#[test]
fn a_request_becomes_the_json_a_client_would_post_without_proto3_defaults() {
    let request = CheckResourcesRequest {
        request_id: "r1".into(),
        include_meta: true,
        principal: Some(Principal {
            id: "alice".into(),
            roles: vec!["user".into()],
            attr: [("dept".to_string(), to_proto(&json!("eng")))].into(),
            ..Default::default()
        }),
        resources: vec![ResourceEntry {
            actions: vec!["view".into(), "edit".into()],
            resource: Some(Resource {
                kind: "doc".into(),
                id: "d1".into(),
                scope: "acme".into(),
                ..Default::default()
            }),
        }],
        aux_data: Some(AuxData { jwt: Some(Jwt { token: "t".into(), key_set_id: String::new() }) }),
    };
    assert_eq!(
        request_json(&request),
        json!({
            "requestId": "r1",
            "includeMeta": true,
            "principal": {"id": "alice", "roles": ["user"], "attr": {"dept": "eng"}},
            "resources": [{"actions": ["view", "edit"], "resource": {"kind": "doc", "id": "d1", "scope": "acme"}}],
            "auxData": {"jwt": {"token": "t"}}
        })
    );
    // Nothing set: nothing said (the API answers what is missing).
    assert_eq!(request_json(&CheckResourcesRequest::default()), json!({"resources": []}));
}

#[test]
fn an_answer_becomes_the_response_message_and_an_unknown_effect_denies() {
    let body = json!({
        "requestId": "r1",
        "results": [{
            "resource": {"id": "d1", "kind": "doc", "policyVersion": "default", "scope": "acme"},
            "actions": {"view": "EFFECT_ALLOW", "edit": "EFFECT_DENY", "odd": "EFFECT_SOMETHING"},
            "validationErrors": [{"path": "/dept", "message": "bad", "source": "SOURCE_PRINCIPAL"}],
            "meta": {"actions": {"view": {"matchedPolicy": "resource.doc.vdefault/acme", "matchedScope": "acme"}},
                     "effectiveDerivedRoles": ["owner"]},
            "outputs": [{"src": "resource.doc.vdefault#rule-1", "val": {"n": 1}}]
        }],
        "cerbosCallId": "c1",
        "bundleDigest": "sha256:00"
    });
    let m = response_message(&body);
    assert_eq!((m.request_id.as_str(), m.cerbos_call_id.as_str()), ("r1", "c1"));
    let [r] = m.results.as_slice() else { panic!("one result: {m:?}") };
    let echo =
        r.resource.as_ref().map(|e| (e.id.as_str(), e.kind.as_str(), e.policy_version.as_str(), e.scope.as_str()));
    assert_eq!(echo, Some(("d1", "doc", "default", "acme")));
    assert_eq!(r.actions.get("view"), Some(&(Effect::Allow as i32)));
    assert_eq!(r.actions.get("edit"), Some(&(Effect::Deny as i32)));
    assert_eq!(r.actions.get("odd"), Some(&(Effect::Deny as i32)));
    assert_eq!(r.validation_errors[0].source, Source::Principal as i32);
    let meta = r.meta.as_ref().map(|m| (m.actions["view"].matched_scope.as_str(), m.effective_derived_roles.clone()));
    assert_eq!(meta, Some(("acme", vec!["owner".to_string()])));
    assert_eq!(r.outputs[0].val.as_ref().map(from_proto), Some(json!({"n": 1})));
}

#[test]
fn error_answers_keep_their_grpc_code_and_name_the_json_path() {
    let s = status(400, &json!({"code": 3, "message": "missing", "path": "$.principal"}));
    assert_eq!((s.code(), s.message()), (Code::InvalidArgument, "missing (at $.principal)"));
    assert_eq!(status(503, &json!({"message": "down"})).code(), Code::Unavailable);
    assert_eq!(status(500, &json!({})).code(), Code::Internal);
}
