//! AuthZEN evaluations decided by the engine: what an AuthZEN request carries beyond Cerbos's
//! model reaches conditions, and decisions carry the bundle digest.

use authz_api::authzen::{decide_all, decode_evaluation};
use authz_api::cerbos::Limits;
use authz_engine::{Bundle, CheckOptions, Source};
use serde_json::json;

const POLICY: &str = r#"
apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: document
  version: default
  rules:
    - actions: [view]
      effect: EFFECT_ALLOW
      roles: [user]
      name: leveled
      condition:
        match:
          all:
            of:
              - expr: request.auxData.authzen.action.level >= 3
              - expr: request.auxData.authzen.context.ip.startsWith("10.")
              - expr: R.attr.owner == P.id
"#;

#[test]
fn action_properties_and_context_reach_conditions_and_decisions_carry_the_digest() {
    let bundle = match Bundle::build(vec![Source::new("document.yaml", POLICY)], Some("L".into())) {
        Ok(b) => b,
        Err(e) => unreachable!("{e:?}"),
    };
    let decide = |level: i64| {
        let body = json!({
            "subject": {"type": "user", "id": "alice"},
            "resource": {"type": "document", "id": "d1", "properties": {"owner": "alice"}},
            "action": {"name": "view", "properties": {"level": level}},
            "context": {"ip": "10.1.2.3", "cerbos.includeMeta": level == 3}
        });
        let e = decode_evaluation(&body.to_string(), &Limits::default()).unwrap();
        let mut d = decide_all(&bundle, &CheckOptions::default(), &[Ok(e)], &Limits::default()).unwrap();
        d.pop().unwrap().unwrap()
    };
    let allowed = decide(3);
    assert_eq!(allowed["decision"], json!(true));
    assert_eq!(allowed["context"]["authz.bundleDigest"], json!(bundle.digest()));
    assert_eq!(allowed["context"]["authz.bundleLabel"], json!("L"));
    let meta = &allowed["context"]["cerbos.response"]["results"][0]["meta"]["actions"]["view"];
    assert_eq!(meta["matchedPolicy"], json!("resource.document.vdefault"));
    let denied = decide(2);
    assert_eq!(denied["decision"], json!(false));
    assert!(denied["context"].get("cerbos.response").is_none());
}
