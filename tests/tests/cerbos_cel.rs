//! Cerbos's `cel_eval/*.yaml` cases: each condition runs as the condition of a rule of its own
//! through the full engine and every runtime, with Cerbos's fixed test clock.

use authz_conformance::runtime::Matrix;
use authz_conformance::{corpus, files, Tally};
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

/// One case: its condition becomes the rule `case_<n>` for the action `cel_test_<n>`.
struct Prepared {
    case: Case,
    action: String,
    rule: serde_json::Value,
}

impl Prepared {
    fn new(n: usize, text: &str) -> Result<Self, String> {
        let case: Case = serde_yaml::from_str(text).map_err(|e| format!("unreadable case: {e}"))?;
        let action = format!("cel_test_{n}");
        let rule = serde_json::json!({
            "name": format!("case_{n}"),
            "actions": [action],
            "roles": ["*"],
            "effect": "EFFECT_ALLOW",
            "condition": { "match": case.condition },
        });
        Ok(Prepared { case, action, rule })
    }

    fn input(&self) -> CheckInput {
        CheckInput {
            request_id: "cel".into(),
            principal: self.case.request.principal.clone(),
            resource: self.case.request.resource.clone(),
            actions: vec![self.action.clone()],
            aux_data: self.case.request.aux_data.clone(),
        }
    }
}

/// The bundle of one resource policy per kind, holding these cases' rules.
fn bundle(cases: &[&Prepared]) -> Result<Bundle, String> {
    let mut kinds: std::collections::BTreeMap<&str, Vec<&serde_json::Value>> = Default::default();
    for c in cases {
        kinds.entry(c.case.request.resource.kind.as_str()).or_default().push(&c.rule);
    }
    let sources = kinds
        .into_iter()
        .map(|(kind, rules)| {
            let policy = serde_json::json!({
                "apiVersion": "api.cerbos.dev/v1",
                "resourcePolicy": { "resource": kind, "version": "default", "rules": rules },
            });
            Source::new(format!("cel_cases/{kind}.json"), policy.to_string())
        })
        .collect();
    Bundle::build(sources, None).map_err(|e| e.to_string())
}

fn options() -> CheckOptions {
    CheckOptions {
        lenient_scopes: true,
        now: chrono::DateTime::parse_from_rfc3339(CEL_TEST_NOW).ok(),
        ..CheckOptions::default()
    }
}

/// The case's answer from `matrix` (every runtime, on the bundle of all cases) must be what the
/// native engine answers on a bundle of this case alone, and what Cerbos wants.
fn run_case(matrix: &Matrix, alone: &Bundle, case: &Prepared) -> Result<(), String> {
    let opts = options();
    let input = case.input();
    let out = authz_api::decide_each(matrix, &opts, std::slice::from_ref(&input)).map_err(|e| e.to_string())?;
    let first = out.first().ok_or("no output")?;
    let own = alone.check(&opts, std::slice::from_ref(&input));
    if own.first() != Some(first) {
        return Err(format!("with the other cases' rules beside it: {first:?}; alone: {own:?}"));
    }
    let allowed = first.actions.get(&case.action).is_some_and(|a| a.effect == authz_engine::Effect::Allow);
    let errored = !first.evaluation_errors.is_empty();
    if case.case.want_error {
        return if errored && !allowed { Ok(()) } else { Err("expected an evaluation error".into()) };
    }
    if allowed == case.case.want {
        Ok(())
    } else {
        Err(format!("condition evaluated to {allowed}, want {}; output: {first:?}", case.case.want))
    }
}

/// Every case is decided through every runtime, all cases in one bundle: each runtime loads
/// (and compiles) one bundle, not one per case. A case whose rule does not build alone fails
/// alone and stays out of the shared bundle.
#[test]
fn cerbos_cel_cases() {
    let mut tally = Tally::new("cel_eval");
    let Some(dir) = corpus("cel_eval") else {
        tally.missing("cel_eval/*.yaml");
        tally.finish();
        return;
    };
    let mut cases = Vec::new();
    for (n, path) in files(&dir, "yaml").into_iter().enumerate() {
        let name = path.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        match Prepared::new(n, &text).and_then(|c| bundle(&[&c]).map(|alone| (c, alone))) {
            Ok((case, alone)) => cases.push((name, case, alone)),
            Err(e) => tally.record(&name, Err(e)),
        }
    }
    let all = bundle(&cases.iter().map(|(_, c, _)| c).collect::<Vec<_>>())
        .unwrap_or_else(|e| panic!("the cases that build alone must build together: {e}"));
    let matrix = Matrix::load(&all).unwrap_or_else(|e| panic!("every runtime must load the cases' bundle: {e}"));
    tally.through(matrix.names());
    for (name, case, alone) in &cases {
        tally.record(name, run_case(&matrix, alone, case));
    }
    tally.finish();
}
