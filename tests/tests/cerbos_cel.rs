//! Cerbos's `cel_eval/*.yaml` cases: each condition runs as the condition of a
//! one-rule policy through the full engine, with Cerbos's fixed test clock.

use authz_conformance::runtime::{runtimes, Matrix};
use authz_conformance::Tally;
use authz_engine::{AuxData, Bundle, CheckInput, CheckOptions, Principal, Resource, Source};
use serde::Deserialize;

/// The time Cerbos's CEL tests evaluate `now()` at.
const CEL_TEST_NOW: &str = "2021-04-22T10:05:20.021-05:00";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    principal: Principal,
    resource: Resource,
    #[serde(default)]
    aux_data: Option<AuxData>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    condition: serde_yaml::Value,
    request: Request,
    #[serde(default)]
    want: bool,
    #[serde(default)]
    want_error: bool,
}

fn run_case(text: &str) -> Result<(), String> {
    let case: Case = serde_yaml::from_str(text).map_err(|e| format!("unreadable case: {e}"))?;
    let kind = case.request.resource.kind.clone();
    let policy = serde_json::json!({
        "apiVersion": "api.cerbos.dev/v1",
        "resourcePolicy": {
            "resource": kind,
            "version": "default",
            "rules": [{
                "actions": ["cel_test"],
                "roles": ["*"],
                "effect": "EFFECT_ALLOW",
                "condition": { "match": case.condition },
            }],
        },
    });
    let bundle =
        Bundle::build(vec![Source::new("cel_case.json", policy.to_string())], None).map_err(|e| e.to_string())?;
    let opts = CheckOptions {
        lenient_scopes: true,
        now: chrono::DateTime::parse_from_rfc3339(CEL_TEST_NOW).ok(),
        ..CheckOptions::default()
    };
    let input = CheckInput {
        request_id: "cel".into(),
        principal: case.request.principal,
        resource: case.request.resource,
        actions: vec!["cel_test".into()],
        aux_data: case.request.aux_data,
    };
    let matrix = Matrix::load(&bundle)?;
    let out = authz_api::decide_each(&matrix, &opts, std::slice::from_ref(&input)).map_err(|e| e.to_string())?;
    let first = out.first().ok_or("no output")?;
    let allowed = first.actions.get("cel_test").is_some_and(|a| a.effect == authz_engine::Effect::Allow);
    let errored = !first.evaluation_errors.is_empty();
    if case.want_error {
        return if errored && !allowed { Ok(()) } else { Err("expected an evaluation error".into()) };
    }
    if allowed == case.want {
        Ok(())
    } else {
        Err(format!("condition evaluated to {allowed}, want {}; output: {first:?}", case.want))
    }
}

#[test]
fn cerbos_cel_cases() {
    let mut tally = Tally::new("cel_eval");
    match runtimes() {
        Ok(r) => tally.through(r.iter().map(|r| r.name()).collect()),
        Err(e) => panic!("{e}"),
    }
    tally.run_yaml_cases("cel_eval", |_, text| run_case(text));
}
