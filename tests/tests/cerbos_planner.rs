//! Cerbos's query planner suites (`query_planner/suite/common/*.yaml`) against its planner
//! policies (`query_planner/policies`), with Cerbos's harness settings: `now` =
//! 2024-01-16T10:18:27.395+13:00, `auxData.jwt` = `{"customInt": 42}`, globals as for the
//! engine cases; operands of commutative operators compared in any order. Each test of a suite
//! is a case (`harry.yaml[13]`). Every plan goes through every runtime of the harness, typed
//! and as Cerbos JSON, and must be the same in each (bundle digest included).

use authz_api::plan::{Operand, PlanFilter, PlanInput, PlanResource};
use authz_api::Decider;
use authz_conformance::runtime::Matrix;
use authz_conformance::{corpus, files, Tally};
use authz_engine::{AuxData, Bundle, CheckOptions, Principal};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Suite {
    principal: Principal,
    tests: Vec<Test>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Test {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actions: Vec<String>,
    resource: PlanResource,
    want: PlanFilter,
}

/// Cerbos's planner harness options.
pub fn harness_options() -> CheckOptions {
    let mut opts = CheckOptions::default();
    opts.globals.insert("environment".into(), "test".into());
    opts.now = authz_engine::parse_time("2024-01-16T10:18:27.395+13:00");
    opts
}

/// The operands of commutative operators in one order (by their JSON text), all the way down.
fn canonical(o: &Operand) -> serde_json::Value {
    match o {
        Operand::Expression(e) => {
            let mut ops: Vec<serde_json::Value> = e.operands.iter().map(canonical).collect();
            if matches!(e.operator.as_str(), "and" | "or" | "eq" | "ne") {
                ops.sort_by_key(|v| v.to_string());
            }
            serde_json::json!({ "expression": { "operator": e.operator, "operands": ops } })
        }
        other => serde_json::to_value(other).unwrap_or_default(),
    }
}

fn same(got: &PlanFilter, want: &PlanFilter) -> bool {
    got.kind == want.kind && got.condition.as_ref().map(canonical) == want.condition.as_ref().map(canonical)
}

/// Applies YAML merge keys (`<<: *anchor`) at every depth, the merged mapping's own keys first.
fn merge_keys(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Array(items) => items.iter_mut().for_each(merge_keys),
        serde_json::Value::Object(map) => {
            map.values_mut().for_each(merge_keys);
            if let Some(serde_json::Value::Object(base)) = map.remove("<<") {
                for (k, x) in base {
                    map.entry(k).or_insert(x);
                }
            }
        }
        _ => {}
    }
}

/// Each test of the suite, by index, with its result.
fn run_suite(planner: &dyn Decider, text: &str) -> Result<Vec<Result<(), String>>, String> {
    // Through JSON: the filter's operands are externally tagged, and the suites merge anchors (`<<:`).
    let mut yaml: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| format!("unreadable suite: {e}"))?;
    yaml.apply_merge().map_err(|e| format!("unreadable suite: {e}"))?;
    let mut json = serde_json::to_value(yaml).map_err(|e| format!("unreadable suite: {e}"))?;
    merge_keys(&mut json);
    let suite: Suite = serde_json::from_value(json).map_err(|e| format!("unreadable suite: {e}"))?;
    let opts = harness_options();
    let mut aux = AuxData::default();
    aux.jwt.insert("customInt".into(), 42.into());
    let mut results = Vec::new();
    for (i, test) in suite.tests.iter().enumerate() {
        let actions = if test.action.is_empty() { test.actions.clone() } else { vec![test.action.clone()] };
        let input = PlanInput {
            request_id: format!("test-{i}"),
            actions: actions.clone(),
            principal: suite.principal.clone(),
            resource: test.resource.clone(),
            aux_data: Some(aux.clone()),
        };
        let got = match planner.plan(&input, &opts) {
            Ok(d) => d.output.filter,
            Err(e) => {
                results.push(Err(e.to_string()));
                continue;
            }
        };
        results.push(if same(&got, &test.want) {
            Ok(())
        } else {
            Err(format!(
                "{actions:?} on {}: got {} want {}",
                test.resource.kind,
                got.debug_string(),
                test.want.debug_string()
            ))
        });
    }
    Ok(results)
}

#[test]
fn cerbos_query_planner_suites() {
    let mut tally = Tally::new("query_planner");
    let Some(dir) = corpus("query_planner") else {
        tally.missing("query_planner/suite/common/*.yaml");
        tally.finish();
        return;
    };
    let sources = authz::store::load_dir(&dir.join("policies")).unwrap_or_default();
    let bundle = match Bundle::build(sources, None) {
        Ok(b) => b,
        Err(e) => panic!("Cerbos's planner policies must build: {e}"),
    };
    let matrix = match Matrix::load(&bundle) {
        Ok(m) => m,
        Err(e) => panic!("every runtime must load the planner policies' bundle: {e}"),
    };
    tally.through(matrix.names());
    for path in files(&dir.join("suite/common"), "yaml") {
        let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        match run_suite(&matrix, &text) {
            Ok(results) => {
                for (i, result) in results.into_iter().enumerate() {
                    tally.record(&format!("{name}[{i}]"), result);
                }
            }
            Err(e) => tally.record(&name, Err(e)),
        }
    }
    tally.finish();
}
