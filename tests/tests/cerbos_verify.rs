//! Cerbos's `verify/cases`: test suites (txtar archives) run against Cerbos's
//! `store/`, compared with Cerbos's golden results per suite and per action.
#![expect(clippy::indexing_slicing, reason = "indexing a serde_json::Value by key yields Null, it never panics")]

use authz::suite::{is_suite_path, run_suite, Outcome, SuiteResult};
use authz_api::Decider;
use authz_conformance::runtime::Matrix;
use authz_conformance::{corpus, files, txtar, Tally};
use authz_engine::Bundle;
use std::collections::BTreeMap;

fn outcome(s: &str) -> Option<Outcome> {
    Some(match s {
        "RESULT_PASSED" => Outcome::Passed,
        "RESULT_FAILED" => Outcome::Failed,
        "RESULT_ERRORED" => Outcome::Errored,
        "RESULT_SKIPPED" => Outcome::Skipped,
        _ => return None,
    })
}

/// test/principal/resource/action → result, from a golden suite.
fn golden_actions(suite: &serde_json::Value) -> BTreeMap<String, Option<Outcome>> {
    let mut out = BTreeMap::new();
    let arr = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_array()).cloned().unwrap_or_default();
    for tc in arr(suite, "testCases") {
        for p in arr(&tc, "principals") {
            for r in arr(&p, "resources") {
                for a in arr(&r, "actions") {
                    let key = format!(
                        "{}/{}/{}/{}",
                        tc["name"].as_str().unwrap_or(""),
                        p["name"].as_str().unwrap_or(""),
                        r["name"].as_str().unwrap_or(""),
                        a["name"].as_str().unwrap_or("")
                    );
                    out.insert(key, a["details"]["result"].as_str().and_then(outcome));
                }
            }
        }
    }
    out
}

fn ours(s: &SuiteResult) -> BTreeMap<String, Option<Outcome>> {
    s.actions
        .iter()
        .map(|a| (format!("{}/{}/{}/{}", a.test, a.principal, a.resource, a.action), Some(a.result)))
        .collect()
}

fn run_case(decider: &dyn Decider, input: &str, golden: &str) -> Result<(), String> {
    let golden: serde_json::Value = serde_json::from_str(golden).map_err(|e| format!("unreadable golden: {e}"))?;
    let archive = txtar(input);
    let testdata: BTreeMap<String, String> =
        archive.iter().filter_map(|(p, t)| p.strip_prefix("testdata/").map(|n| (n.to_string(), t.clone()))).collect();
    let mut problems = Vec::new();
    let want_suites = golden.get("suites").and_then(|s| s.as_array()).cloned().unwrap_or_default();
    for ws in &want_suites {
        let file = ws["file"].as_str().unwrap_or_default();
        let Some((_, text)) = archive.iter().find(|(p, _)| p == file && is_suite_path(p)) else {
            problems.push(format!("suite {file} not found in the archive"));
            continue;
        };
        let got = run_suite(decider, file, text, &testdata);
        let want_overall = ws["summary"]["overallResult"].as_str().and_then(outcome);
        if Some(got.result) != want_overall {
            problems.push(format!("{file}: overall {:?}, want {want_overall:?} ({:?})", got.result, got.error));
        }
        let want_actions = golden_actions(ws);
        if !want_actions.is_empty() && want_actions != ours(&got) {
            let diff: Vec<_> = want_actions
                .iter()
                .filter(|(k, v)| ours(&got).get(*k) != Some(*v))
                .map(|(k, v)| format!("{k}: want {v:?} got {:?}", ours(&got).get(k)))
                .collect();
            let extra: Vec<_> = got
                .actions
                .iter()
                .filter(|a| a.result == Outcome::Failed)
                .map(|a| a.message.clone().unwrap_or_default())
                .collect();
            problems.push(format!("{file}: per-action results differ: {diff:?} {extra:?} {:?}", got.error));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[test]
fn cerbos_verify_cases() {
    let mut tally = Tally::new("verify");
    let (Some(cases), Some(store)) = (corpus("verify/cases"), corpus("store")) else {
        tally.missing("verify/cases/*.yaml");
        tally.finish();
        return;
    };
    let bundle = match Bundle::build(authz::store::load_dir(&store).unwrap_or_default(), None) {
        Ok(b) => b,
        Err(e) => panic!("Cerbos's store must build: {e}"),
    };
    // Built again (other hash seeds in this process), the store serializes to the same bytes:
    // baking it is reproducible.
    let again = Bundle::build(authz::store::load_dir(&store).unwrap_or_default(), None).map(|b| b.to_bytes());
    assert!(again.ok() == Some(bundle.to_bytes()), "the store's bundle serialized differently on a second build");
    let matrix = match Matrix::load(&bundle) {
        Ok(m) => m,
        Err(e) => panic!("every runtime must load the store's bundle: {e}"),
    };
    tally.through(matrix.names());
    for path in files(&cases, "yaml") {
        let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let input = std::fs::read_to_string(path.with_extension("yaml.input")).unwrap_or_default();
        let golden = std::fs::read_to_string(path.with_extension("yaml.golden")).unwrap_or_default();
        tally.record(&name, run_case(&matrix, &input, &golden));
    }
    tally.finish();
}
