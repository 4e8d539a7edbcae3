//! Cerbos's `schema/test_cases/check_input_*.yaml`: request attributes validated
//! against schemas from `schema/fs/_schemas`. A schema that cannot be loaded is a
//! bundle build error here (Cerbos reports it per request); such cases pass when
//! the build fails naming the schema.

use authz_conformance::runtime::{runtimes, Matrix};
use authz_conformance::{corpus, files, Tally};
use authz_engine::{Bundle, CheckInput, CheckOptions, SchemaEnforcement, Source};
use serde::Deserialize;
use std::collections::BTreeSet;

#[derive(Deserialize)]
struct WantError {
    #[serde(default)]
    path: Option<String>,
    message: String,
    source: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    schema_refs: serde_json::Value,
    check_input: CheckInput,
    #[serde(default)]
    want_validation_errors: Vec<WantError>,
}

fn run_case(schemas: &[Source], text: &str) -> Result<(), String> {
    let case: Case = serde_yaml::from_str(text).map_err(|e| format!("unreadable case: {e}"))?;
    let input = case.check_input;
    let version = if input.resource.policy_version.is_empty() { "default" } else { &input.resource.policy_version };
    let policy = serde_json::json!({
        "apiVersion": "api.cerbos.dev/v1",
        "resourcePolicy": {
            "resource": input.resource.kind, "version": version, "schemas": case.schema_refs,
            "rules": [{ "actions": ["*"], "roles": ["*"], "effect": "EFFECT_ALLOW" }],
        },
    });
    let mut sources = schemas.to_vec();
    sources.push(Source::new("resource_policies/schema_case.json", policy.to_string()));
    let load_failures: Vec<&WantError> = case.want_validation_errors.iter().filter(|e| e.path.is_none()).collect();
    let bundle = match (Bundle::build(sources, None), load_failures.is_empty()) {
        (Ok(b), true) => b,
        (Ok(_), false) => return Err("schemas that Cerbos cannot load were accepted".into()),
        (Err(e), true) => return Err(format!("bundle rejected: {e}")),
        (Err(e), false) => {
            let text = e.to_string();
            let which = |s: &str| if s == "SOURCE_PRINCIPAL" { "principal schema" } else { "resource schema" };
            let missing: Vec<_> = load_failures.iter().filter(|w| !text.contains(which(&w.source))).collect();
            return if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("build errors do not name every failing schema: {text}"))
            };
        }
    };
    let opts = CheckOptions { schema_enforcement: SchemaEnforcement::Warn, ..CheckOptions::default() };
    let matrix = Matrix::load(&bundle)?;
    let out = authz_api::decide_each(&matrix, &opts, std::slice::from_ref(&input)).map_err(|e| e.to_string())?;
    let got: BTreeSet<(String, String, String)> = out
        .first()
        .map(|o| o.validation_errors.iter().map(|e| (e.source.clone(), e.path.clone(), e.message.clone())).collect())
        .unwrap_or_default();
    let want: BTreeSet<(String, String, String)> = case
        .want_validation_errors
        .iter()
        .map(|e| (e.source.clone(), e.path.clone().unwrap_or_default(), e.message.clone()))
        .collect();
    if got == want {
        Ok(())
    } else {
        Err(format!("validation errors: got {got:?}, want {want:?}"))
    }
}

#[test]
fn cerbos_schema_cases() {
    let mut tally = Tally::new("schema");
    match runtimes() {
        Ok(r) => tally.through(r.iter().map(|r| r.name()).collect()),
        Err(e) => panic!("{e}"),
    }
    let (Some(cases), Some(fs)) = (corpus("schema/test_cases"), corpus("schema/fs")) else {
        tally.missing("schema/test_cases/*.yaml");
        tally.finish();
        return;
    };
    let schemas = authz::store::load_dir(&fs).unwrap_or_default();
    for path in files(&cases, "yaml") {
        let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if !name.starts_with("check_input") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        tally.record(&name, run_case(&schemas, &text));
    }
    tally.finish();
}
