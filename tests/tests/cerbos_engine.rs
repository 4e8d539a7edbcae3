//! Cerbos's `engine/*.yaml` cases against its `store/`, with Cerbos's harness
//! settings: globals `{"environment":"test"}`, default version `default`, no schemas.

use authz_api::Decider;
use authz_conformance::runtime::Matrix;
use authz_conformance::{corpus, files, Tally};
use authz_engine::{Bundle, CheckInput, CheckOptions, CheckOutput};
use serde::Deserialize;
use std::collections::BTreeSet;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    inputs: Vec<CheckInput>,
    #[serde(default)]
    want_outputs: Vec<serde_json::Value>,
    #[serde(default)]
    want_error: bool,
}

fn set(v: Option<&serde_json::Value>) -> BTreeSet<String> {
    v.and_then(|v| v.as_array()).map(|a| a.iter().map(|x| x.to_string()).collect()).unwrap_or_default()
}

fn compare(got: &CheckOutput, want: &serde_json::Value) -> Result<(), String> {
    let got_json = serde_json::to_value(got).map_err(|e| e.to_string())?;
    let mut diffs = Vec::new();
    for field in ["requestId", "resourceId"] {
        if got_json.get(field) != want.get(field) {
            diffs.push(format!("{field}: got {:?} want {:?}", got_json.get(field), want.get(field)));
        }
    }
    let empty = serde_json::json!({});
    // proto3 omits empty strings: a missing `scope` and `"scope": ""` are the same.
    let mut want_actions = want.get("actions").unwrap_or(&empty).clone();
    if let Some(m) = want_actions.as_object_mut() {
        for a in m.values_mut().filter_map(|a| a.as_object_mut()) {
            if a.get("scope").and_then(|s| s.as_str()) == Some("") {
                a.remove("scope");
            }
        }
    }
    let want_actions = &want_actions;
    let got_actions = got_json.get("actions").unwrap_or(&empty);
    if got_actions != want_actions {
        diffs.push(format!("actions: got {got_actions} want {want_actions}"));
    }
    for field in ["effectiveDerivedRoles", "validationErrors"] {
        let (g, w) = (set(got_json.get(field)), set(want.get(field)));
        if g != w {
            diffs.push(format!("{field}: got {g:?} want {w:?}"));
        }
    }
    let outputs = |v: Option<&serde_json::Value>| -> BTreeSet<String> {
        v.and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .map(|o| {
                        format!("{}|{}|{}", o["src"], o["action"], o.get("val").unwrap_or(&serde_json::Value::Null))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (g, w) = (outputs(got_json.get("outputs")), outputs(want.get("outputs")));
    if g != w {
        diffs.push(format!("outputs: got {g:?} want {w:?}"));
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("; "))
    }
}

fn run_case(decider: &dyn Decider, text: &str) -> Result<(), String> {
    let case: Case = serde_yaml::from_str(text).map_err(|e| format!("unreadable case: {e}"))?;
    let mut opts = CheckOptions::default();
    opts.globals.insert("environment".into(), "test".into());
    let outputs = authz_api::decide_each(&decider, &opts, &case.inputs).map_err(|e| e.to_string())?;
    if case.want_error {
        return Err("case expects an error; the engine never errors on input".into());
    }
    if outputs.len() != case.want_outputs.len() {
        return Err(format!("got {} outputs, want {}", outputs.len(), case.want_outputs.len()));
    }
    let errs: Vec<String> = outputs
        .iter()
        .zip(&case.want_outputs)
        .enumerate()
        .filter_map(|(i, (g, w))| compare(g, w).err().map(|e| format!("[{i}] {e}")))
        .collect();
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("\n    "))
    }
}

#[test]
fn cerbos_engine_cases() {
    let mut tally = Tally::new("engine");
    let (Some(cases), Some(store)) = (corpus("engine"), corpus("store")) else {
        tally.missing("engine/*.yaml");
        tally.finish();
        return;
    };
    let sources = authz::store::load_dir(&store).unwrap_or_default();
    let bundle = match Bundle::build(sources, None) {
        Ok(b) => b,
        Err(e) => panic!("Cerbos's store must build: {e}"),
    };
    // The same cases through every runtime (the engine loaded from the bundle's bytes, the
    // baked component in wasmtime), which must all answer identically.
    let matrix = match Matrix::load(&bundle) {
        Ok(m) => m,
        Err(e) => panic!("every runtime must load the store's bundle: {e}"),
    };
    tally.through(matrix.names());
    for path in files(&cases, "yaml") {
        let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let result = run_case(&bundle, &text).and_then(|()| run_case(&matrix, &text));
        tally.record(&name, result);
    }
    tally.finish();
}
