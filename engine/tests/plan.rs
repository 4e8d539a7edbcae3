//! Query planning's options and safeguards, each asked of a small bundle: schema validation of
//! the attributes known (a required one that is missing is no violation), scope search, strict
//! evaluation, and a token nobody verified. (The planner's semantics are Cerbos's planner suites
//! and the plan-versus-check property, in `tests/`.)

use authz_api::model::Token;
use authz_api::plan::{FilterKind, PlanInput, PlanOutput, PlanResource};
use authz_engine::{AuxData, Bundle, CheckOptions, Principal, SchemaEnforcement, Source};

const SCHEMA: &str = r#"{"type": "object", "required": ["owner"],
  "properties": {"owner": {"type": "string"}, "size": {"type": "integer"}}}"#;

fn bundle() -> Result<Bundle, String> {
    let doc = r#"
apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: default
  schemas:
    resourceSchema:
      ref: cerbos:///doc.json
  rules:
    - actions: ["edit"]
      roles: ["user"]
      effect: EFFECT_ALLOW
      condition:
        match:
          expr: R.attr.owner == P.id
    - actions: ["audit"]
      roles: ["user"]
      effect: EFFECT_ALLOW
      condition:
        match:
          expr: P.attr.clearance > 2 && R.attr.owner != P.id
---
apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: default
  scope: acme
  rules:
    - actions: ["view"]
      roles: ["user"]
      effect: EFFECT_ALLOW
"#;
    let sources = vec![Source::new("doc.yaml", doc), Source::new("_schemas/doc.json", SCHEMA)];
    Bundle::build(sources, None).map_err(|e| e.to_string())
}

fn plan(
    opts: &CheckOptions,
    action: &str,
    attr: serde_json::Value,
    scope: &str,
    aux: Option<AuxData>,
) -> Result<PlanOutput, String> {
    let attr = match attr {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    let input = PlanInput {
        request_id: "t".into(),
        actions: vec![action.into()],
        principal: Principal { id: "alice".into(), roles: vec!["user".into()], ..Principal::default() },
        resource: PlanResource { kind: "doc".into(), attr, scope: scope.into(), ..PlanResource::default() },
        aux_data: aux,
    };
    Ok(bundle()?.plan(opts, &input))
}

#[test]
fn known_attributes_are_validated_and_a_missing_required_one_is_no_violation() -> Result<(), String> {
    let reject = CheckOptions { schema_enforcement: SchemaEnforcement::Reject, ..CheckOptions::default() };
    // `owner` is required, but a plan is over the attributes not given: no violation.
    let out = plan(&reject, "edit", serde_json::json!({}), "", None)?;
    assert!(out.validation_errors.is_empty(), "{:?}", out.validation_errors);
    assert_eq!(out.filter.kind, FilterKind::Conditional);
    // A known attribute of the wrong type is one: rejected, nothing allowed.
    let out = plan(&reject, "edit", serde_json::json!({"size": "big"}), "", None)?;
    assert_eq!(out.validation_errors.len(), 1, "{:?}", out.validation_errors);
    assert_eq!(out.validation_errors.first().map(|e| e.source.as_str()), Some("SOURCE_RESOURCE"));
    assert_eq!(out.filter.kind, FilterKind::AlwaysDenied);
    // Under `warn` it is reported and the plan is unchanged.
    let warn = CheckOptions { schema_enforcement: SchemaEnforcement::Warn, ..CheckOptions::default() };
    let out = plan(&warn, "edit", serde_json::json!({"size": "big"}), "", None)?;
    assert_eq!(out.validation_errors.len(), 1);
    assert_eq!(out.filter.debug_string(), r#"(eq request.resource.attr.owner "alice")"#);
    Ok(())
}

#[test]
fn a_scope_without_policies_is_searched_up_only_when_lenient() -> Result<(), String> {
    let strict = CheckOptions::default();
    assert_eq!(plan(&strict, "view", serde_json::json!({}), "acme", None)?.filter.kind, FilterKind::AlwaysAllowed);
    assert_eq!(plan(&strict, "view", serde_json::json!({}), "acme.eu", None)?.filter.kind, FilterKind::AlwaysDenied);
    let lenient = CheckOptions { lenient_scopes: true, ..CheckOptions::default() };
    let out = plan(&lenient, "view", serde_json::json!({}), "acme.eu", None)?;
    assert_eq!(out.filter.kind, FilterKind::AlwaysAllowed);
    assert_eq!(out.matched_scopes.get("view").map(String::as_str), Some("acme"));
    Ok(())
}

/// `P.attr.clearance` is not given: the condition fails whatever the resource. Not strict: not
/// met (nothing allowed). Strict: the action is denied (as Cerbos's planner does).
#[test]
fn a_condition_that_fails_whatever_the_resource_is_not_met() -> Result<(), String> {
    for strict in [false, true] {
        let opts = CheckOptions { strict_evaluation: strict, ..CheckOptions::default() };
        let out = plan(&opts, "audit", serde_json::json!({}), "", None)?;
        assert_eq!(out.filter.kind, FilterKind::AlwaysDenied, "strict: {strict}");
    }
    Ok(())
}

#[test]
fn a_token_nobody_verified_allows_nothing() -> Result<(), String> {
    let mut aux = AuxData::default();
    aux.tokens.insert(String::new(), Token { token: "a.b.c".into(), key_set_id: String::new() });
    let out = plan(&CheckOptions::default(), "view", serde_json::json!({}), "acme", Some(aux))?;
    assert_eq!(out.filter.kind, FilterKind::AlwaysDenied);
    Ok(())
}
