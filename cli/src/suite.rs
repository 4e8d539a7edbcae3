//! Cerbos test suites (`*_test.yaml|yml|json`): fixtures, groups, expectations and
//! results in Cerbos's result vocabulary. Pure: the caller supplies file contents.

use authz_api::cerbos::WireOptions;
use authz_api::Decider;
use authz_engine::Effect;
use authz_engine::{AuxData, CheckInput, CheckOptions, Principal, Resource};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// The outcome of a suite, a test or one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
pub enum Outcome {
    /// Matched the expectation.
    #[serde(rename = "RESULT_PASSED")]
    Passed,
    /// Skipped on request.
    #[serde(rename = "RESULT_SKIPPED")]
    Skipped,
    /// Did not match the expectation.
    #[serde(rename = "RESULT_FAILED")]
    Failed,
    /// The suite or test could not run.
    #[serde(rename = "RESULT_ERRORED")]
    Errored,
}

/// The result of one action of one (principal, resource) pair.
#[derive(Debug, Clone, Serialize)]
pub struct ActionResult {
    /// Test name.
    pub test: String,
    /// Principal fixture name.
    pub principal: String,
    /// Resource fixture name.
    pub resource: String,
    /// Action.
    pub action: String,
    /// Outcome.
    pub result: Outcome,
    /// What went wrong, for failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The result of one suite file.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteResult {
    /// Path of the suite file.
    pub file: String,
    /// Suite name.
    pub name: String,
    /// Overall outcome.
    pub result: Outcome,
    /// Why the suite errored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Per-action results.
    pub actions: Vec<ActionResult>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Options {
    #[serde(default)]
    now: Option<String>,
    #[serde(default)]
    globals: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    default_policy_version: Option<String>,
    #[serde(default)]
    default_scope: Option<String>,
    #[serde(default)]
    lenient_scope_search: Option<bool>,
    #[serde(default)]
    strict_evaluation: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalGroup {
    principals: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceGroup {
    resources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Suite {
    #[serde(default, rename = "$schema")]
    _schema: Option<String>,
    name: String,
    #[serde(default, rename = "description")]
    _description: Option<String>,
    #[serde(default)]
    skip: bool,
    #[serde(default)]
    skip_reason: Option<String>,
    #[serde(default)]
    options: Option<Options>,
    #[serde(default)]
    principals: BTreeMap<String, Principal>,
    #[serde(default)]
    resources: BTreeMap<String, Resource>,
    #[serde(default)]
    aux_data: BTreeMap<String, AuxData>,
    #[serde(default)]
    principal_groups: BTreeMap<String, PrincipalGroup>,
    #[serde(default)]
    resource_groups: BTreeMap<String, ResourceGroup>,
    tests: Option<Vec<Test>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TestInput {
    #[serde(default)]
    principals: Vec<String>,
    #[serde(default)]
    principal_groups: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    resource_groups: Vec<String>,
    actions: Vec<String>,
    #[serde(default)]
    aux_data: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputExpectation {
    action: String,
    expected: Vec<ExpectedOutput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedOutput {
    src: String,
    val: serde_json::Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Expectation {
    #[serde(default)]
    principal: Option<String>,
    #[serde(default)]
    principals: Vec<String>,
    #[serde(default)]
    principal_groups: Vec<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    resource_groups: Vec<String>,
    #[serde(default)]
    actions: BTreeMap<String, Effect>,
    #[serde(default)]
    outputs: Vec<OutputExpectation>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Test {
    name: String,
    #[serde(default, rename = "description")]
    _description: Option<String>,
    #[serde(default)]
    skip: bool,
    #[serde(default)]
    skip_reason: Option<String>,
    #[serde(default)]
    options: Option<Options>,
    input: TestInput,
    #[serde(default)]
    expected: Vec<Expectation>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Fixtures {
    #[serde(default, rename = "$schema")]
    _schema: Option<String>,
    #[serde(default)]
    principals: BTreeMap<String, Principal>,
    #[serde(default)]
    resources: BTreeMap<String, Resource>,
    #[serde(default)]
    aux_data: BTreeMap<String, AuxData>,
    #[serde(default)]
    principal_groups: BTreeMap<String, PrincipalGroup>,
    #[serde(default)]
    resource_groups: BTreeMap<String, ResourceGroup>,
}

/// Whether `path` names a test suite file.
pub fn is_suite_path(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let hidden = path.split('/').any(|s| s.starts_with('.'));
    let in_testdata = path.split('/').any(|s| s == "testdata");
    !hidden && !in_testdata && ["_test.yaml", "_test.yml", "_test.json"].iter().any(|e| name.ends_with(e))
}

/// Parses YAML (with merge keys) or JSON into `T`, with a location-bearing message.
fn parse<T: serde::de::DeserializeOwned>(path: &str, text: &str) -> Result<T, String> {
    if path.ends_with(".json") {
        return serde_json::from_str(text).map_err(|e| format!("{}:{} {e}", e.line(), e.column()));
    }
    let mut v: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
        let loc = e.location().map(|l| format!("{}:{} ", l.line(), l.column())).unwrap_or_default();
        format!("{loc}invalid document: contents are not valid YAML or JSON: {e}")
    })?;
    v.apply_merge().map_err(|e| e.to_string())?;
    if !v.is_mapping() {
        return Err("1:1 invalid document: contents are not valid YAML or JSON".into());
    }
    serde_yaml::from_value(v).map_err(|e| e.to_string())
}

/// Loads the fixtures in the suite's `testdata/` folder (`files` maps names there to text).
fn load_fixtures(files: &BTreeMap<String, String>) -> Result<Fixtures, String> {
    let mut fx = Fixtures::default();
    for (base, what) in [("principals", "principals"), ("resources", "resources"), ("auxdata", "aux data")] {
        for ext in ["yaml", "yml", "json"] {
            let name = format!("{base}.{ext}");
            let Some(text) = files.get(&name) else { continue };
            let f: Fixtures = parse(&name, text).map_err(|e| format!("failed to load {what}: {e}"))?;
            fx.principals.extend(f.principals);
            fx.resources.extend(f.resources);
            fx.aux_data.extend(f.aux_data);
            fx.principal_groups.extend(f.principal_groups);
            fx.resource_groups.extend(f.resource_groups);
        }
    }
    Ok(fx)
}

fn errored(file: &str, name: &str, error: String) -> SuiteResult {
    SuiteResult { file: file.into(), name: name.into(), result: Outcome::Errored, error: Some(error), actions: vec![] }
}

/// A suite's `options` over `opts`: Cerbos's suite names for the request options
/// (`lenientScopeSearch`), applied as a request's `authzOptions` are, except that a bad `now`
/// reads as Cerbos's suite runner words it.
fn apply(opts: &mut CheckOptions, o: &Options) -> Result<(), String> {
    let now = o
        .now
        .as_deref()
        .map(|n| chrono::DateTime::parse_from_rfc3339(n).map_err(|e| format!("invalid timestamp value `{n}`: {e}")))
        .transpose()?;
    let request_options = WireOptions {
        now: None,
        globals: o.globals.clone(),
        default_policy_version: o.default_policy_version.clone(),
        default_scope: o.default_scope.clone(),
        lenient_scopes: o.lenient_scope_search,
        schema_enforcement: None,
        strict_evaluation: o.strict_evaluation,
    };
    request_options.apply(opts).map_err(|e| e.to_string())?;
    if now.is_some() {
        opts.now = now;
    }
    Ok(())
}

struct Resolved<'s> {
    suite: &'s Suite,
    fx: Fixtures,
}

impl Resolved<'_> {
    fn principal(&self, n: &str) -> Option<&Principal> {
        self.suite.principals.get(n).or_else(|| self.fx.principals.get(n))
    }
    fn resource(&self, n: &str) -> Option<&Resource> {
        self.suite.resources.get(n).or_else(|| self.fx.resources.get(n))
    }
    fn aux(&self, n: &str) -> Option<&AuxData> {
        self.suite.aux_data.get(n).or_else(|| self.fx.aux_data.get(n))
    }
    fn principal_group(&self, n: &str) -> Option<&PrincipalGroup> {
        self.suite.principal_groups.get(n).or_else(|| self.fx.principal_groups.get(n))
    }
    fn resource_group(&self, n: &str) -> Option<&ResourceGroup> {
        self.suite.resource_groups.get(n).or_else(|| self.fx.resource_groups.get(n))
    }

    fn principals(&self, test: &str, names: &[String], groups: &[String]) -> Result<Vec<String>, String> {
        let mut out: Vec<String> = names.to_vec();
        for g in groups {
            let grp = self
                .principal_group(g)
                .ok_or_else(|| format!("invalid test \"{test}\": principal group \"{g}\" not found"))?;
            out.extend(grp.principals.iter().cloned());
        }
        for n in &out {
            if self.principal(n).is_none() {
                return Err(format!("invalid test \"{test}\": principal \"{n}\" not found"));
            }
        }
        Ok(out)
    }

    fn resources(&self, test: &str, names: &[String], groups: &[String]) -> Result<Vec<String>, String> {
        let mut out: Vec<String> = names.to_vec();
        for g in groups {
            let grp = self
                .resource_group(g)
                .ok_or_else(|| format!("invalid test \"{test}\": resource group \"{g}\" not found"))?;
            out.extend(grp.resources.iter().cloned());
        }
        for n in &out {
            if self.resource(n).is_none() {
                return Err(format!("invalid test \"{test}\": resource \"{n}\" not found"));
            }
        }
        Ok(out)
    }
}

/// Runs one suite file. `testdata` holds the files of the `testdata/` folder next to it.
pub fn run_suite(decider: &dyn Decider, path: &str, text: &str, testdata: &BTreeMap<String, String>) -> SuiteResult {
    let suite: Suite = match parse(path, text) {
        Ok(s) => s,
        Err(e) => return errored(path, "Unknown", format!("failed to load test suite: {e}")),
    };
    let Some(tests) = suite.tests.as_ref().filter(|t| !t.is_empty()) else {
        return errored(path, &suite.name, "failed to load test suite: tests: value is required".into());
    };
    if suite.skip {
        return SuiteResult {
            file: path.into(),
            name: suite.name.clone(),
            result: Outcome::Skipped,
            error: suite.skip_reason.clone(),
            actions: vec![],
        };
    }
    let fx = match load_fixtures(testdata) {
        Ok(f) => f,
        Err(e) => return errored(path, &suite.name, format!("failed to load test fixtures from testdata: {e}")),
    };
    for (kind, names) in [
        ("principal", fx.principal_groups.values().flat_map(|g| g.principals.iter()).collect::<Vec<_>>()),
        ("resource", fx.resource_groups.values().flat_map(|g| g.resources.iter()).collect::<Vec<_>>()),
    ] {
        for n in names {
            let known = if kind == "principal" {
                fx.principals.contains_key(n) || suite.principals.contains_key(n)
            } else {
                fx.resources.contains_key(n) || suite.resources.contains_key(n)
            };
            if !known {
                return errored(
                    path,
                    &suite.name,
                    format!("failed to load test fixtures from testdata: missing fixture \"{n}\""),
                );
            }
        }
    }
    let mut base = CheckOptions::default();
    if let Some(o) = &suite.options {
        if let Err(e) = apply(&mut base, o) {
            return errored(path, &suite.name, format!("failed to load test suite: {e}"));
        }
    }
    let r = Resolved { suite: &suite, fx };
    let mut names = HashSet::new();
    for t in tests {
        if !names.insert(t.name.as_str()) {
            return errored(
                path,
                &suite.name,
                format!("Invalid test suite: another test named {} already exists", t.name),
            );
        }
    }
    let mut results = Vec::new();
    for t in tests {
        match run_test(decider, &r, &base, t) {
            Ok(mut v) => results.append(&mut v),
            Err(e) => return errored(path, &suite.name, format!("Failed to load the test suite: {e}")),
        }
    }
    let result = results.iter().map(|a| a.result).max().unwrap_or(Outcome::Passed);
    let result = if result == Outcome::Skipped { Outcome::Passed } else { result };
    SuiteResult { file: path.into(), name: suite.name.clone(), result, error: None, actions: results }
}

/// Expected effects per action and output expectations for one (principal, resource).
type PairExpectation<'t> = (BTreeMap<String, Effect>, Vec<&'t OutputExpectation>);

fn run_test(
    decider: &dyn Decider,
    r: &Resolved<'_>,
    base: &CheckOptions,
    t: &Test,
) -> Result<Vec<ActionResult>, String> {
    let mut opts = base.clone();
    if let Some(o) = &t.options {
        apply(&mut opts, o).map_err(|e| format!("invalid test \"{}\": {e}", t.name))?;
    }
    let principals = r.principals(&t.name, &t.input.principals, &t.input.principal_groups)?;
    let resources = r.resources(&t.name, &t.input.resources, &t.input.resource_groups)?;
    let aux = match &t.input.aux_data {
        Some(n) => {
            Some(r.aux(n).cloned().ok_or_else(|| format!("invalid test \"{}\": auxData \"{n}\" not found", t.name))?)
        }
        None => None,
    };
    // (principal, resource) → (action → effect, outputs)
    let mut expect: BTreeMap<(String, String), PairExpectation<'_>> = BTreeMap::new();
    for e in &t.expected {
        let mut ps: Vec<String> = e.principal.iter().cloned().chain(e.principals.iter().cloned()).collect();
        for g in &e.principal_groups {
            ps.extend(r.principal_group(g).map(|g| g.principals.clone()).unwrap_or_default());
        }
        let mut rs: Vec<String> = e.resource.iter().cloned().chain(e.resources.iter().cloned()).collect();
        for g in &e.resource_groups {
            rs.extend(r.resource_group(g).map(|g| g.resources.clone()).unwrap_or_default());
        }
        if ps.is_empty() || rs.is_empty() {
            return Err(format!("invalid test \"{}\": expectation needs a principal and a resource", t.name));
        }
        for p in &ps {
            for res in &rs {
                if !principals.contains(p) || !resources.contains(res) {
                    return Err(format!("invalid test \"{}\": found an expectation for principal \"{p}\" and resource \"{res}\", which are not in the test input", t.name));
                }
                for a in e.actions.keys() {
                    if !t.input.actions.contains(a) {
                        return Err(format!("invalid test \"{}\": found an expectation for action \"{a}\", which is not in the test input", t.name));
                    }
                }
                for o in &e.outputs {
                    if !t.input.actions.contains(&o.action) {
                        return Err(format!("invalid test \"{}\": found output expectations for action \"{}\", which is not in the test input", t.name, o.action));
                    }
                }
                let slot = expect.entry((p.clone(), res.clone())).or_default();
                for (a, eff) in &e.actions {
                    if let Some(prev) = slot.0.insert(a.clone(), *eff) {
                        if prev != *eff {
                            return Err(format!(
                                "invalid test \"{}\": inconsistent expectations for action \"{a}\"",
                                t.name
                            ));
                        }
                    }
                }
                slot.1.extend(e.outputs.iter());
            }
        }
    }
    let mut out = Vec::new();
    for p in &principals {
        for res in &resources {
            let (Some(pr), Some(rr)) = (r.principal(p), r.resource(res)) else { continue };
            let (effects, outputs) = expect.get(&(p.clone(), res.clone())).cloned().unwrap_or_default();
            let mk = |action: &str, result, message| ActionResult {
                test: t.name.clone(),
                principal: p.clone(),
                resource: res.clone(),
                action: action.to_string(),
                result,
                message,
            };
            if t.skip {
                out.extend(t.input.actions.iter().map(|a| mk(a, Outcome::Skipped, t.skip_reason.clone())));
                continue;
            }
            let input = CheckInput {
                request_id: "test".into(),
                principal: pr.clone(),
                resource: rr.clone(),
                actions: t.input.actions.clone(),
                aux_data: aux.clone(),
            };
            let got =
                authz_api::decide_each(&decider, &opts, std::slice::from_ref(&input)).map_err(|e| e.to_string())?;
            let Some(got) = got.first() else { continue };
            let clock_error = opts.now.is_none() && got.evaluation_errors.iter().any(|e| e.message.contains("@now"));
            for a in &t.input.actions {
                let want = effects.get(a).copied().unwrap_or(Effect::Deny);
                let actual = got.actions.get(a).map(|x| x.effect).unwrap_or(Effect::Deny);
                if clock_error {
                    out.push(mk(
                        a,
                        Outcome::Errored,
                        Some("time-based condition evaluated without `options.now`".into()),
                    ));
                    continue;
                }
                let mut problems = Vec::new();
                if want != actual {
                    problems.push(format!("expected {}, got {}", want.as_str(), actual.as_str()));
                }
                for o in outputs.iter().filter(|o| o.action == *a) {
                    for e in &o.expected {
                        let found = got.outputs.iter().find(|g| g.action == *a && g.src == e.src);
                        match found {
                            Some(g) if g.val == e.val => {}
                            Some(g) => problems.push(format!("output {}: expected {}, got {}", e.src, e.val, g.val)),
                            None => problems.push(format!("output {}: expected {}, got nothing", e.src, e.val)),
                        }
                    }
                }
                if problems.is_empty() {
                    out.push(mk(a, Outcome::Passed, None));
                } else {
                    out.push(mk(a, Outcome::Failed, Some(problems.join("; "))));
                }
            }
        }
    }
    Ok(out)
}
