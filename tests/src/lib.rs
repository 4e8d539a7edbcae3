//! The conformance harness: locating Cerbos's test data, the committed skip list,
//! txtar archives, and tallying results so every corpus prints its pass count.

pub mod differential;
pub mod filter;
pub mod http;
pub mod runtime;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Environment variable overriding where Cerbos's test data lives.
pub const TESTDATA_ENV: &str = "AUTHZ_CERBOS_TESTDATA";

/// `../shared/cerbos-testdata` relative to the workspace, unless overridden.
pub fn testdata_dir() -> PathBuf {
    match std::env::var_os(TESTDATA_ENV) {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/cerbos-testdata"),
    }
}

/// The corpus directory, or `None` after saying loudly that it is missing.
pub fn corpus(sub: &str) -> Option<PathBuf> {
    let dir = testdata_dir().join(sub);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "\n!!! CERBOS TEST DATA NOT FOUND at {} — every `{sub}` case is counted as SKIPPED.\n!!! Set {TESTDATA_ENV} or put shared/ beside the checkout.\n",
            dir.display()
        );
        None
    }
}

/// The example bundle's suite (`policies/example/tests/document_test.yaml`) as a grid of checks,
/// for the tests that ask every principal about every resource: its principals and resources
/// as the suite writes them, and for each resource kind every action its tests ask about (in
/// the order first asked).
pub struct ExampleGrid {
    /// The suite's principals (`id`, `roles`, `attr`).
    pub principals: Vec<serde_json::Value>,
    /// The suite's resources (`kind`, `id`, `attr`, `scope`).
    pub resources: Vec<serde_json::Value>,
    /// Resource kind → the actions the suite asks about it.
    pub actions: BTreeMap<String, Vec<String>>,
}

/// Reads [`ExampleGrid`] from the example's suite.
pub fn example_grid() -> Result<ExampleGrid, String> {
    use serde_json::Value;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/example/tests/document_test.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let suite: Value = serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let values = |key: &str| -> Vec<Value> {
        suite.get(key).and_then(Value::as_object).map(|m| m.values().cloned().collect()).unwrap_or_default()
    };
    let strings = |v: &Value, key: &str| -> Vec<String> {
        v.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    let named = suite.get("resources").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut actions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for input in suite.get("tests").and_then(Value::as_array).into_iter().flatten().filter_map(|t| t.get("input")) {
        for r in strings(input, "resources") {
            let kind = named.get(&r).and_then(|r| r.get("kind")?.as_str());
            let list = actions.entry(kind.ok_or(format!("test resource `{r}` has no kind"))?.to_string()).or_default();
            for a in strings(input, "actions") {
                if !list.contains(&a) {
                    list.push(a);
                }
            }
        }
    }
    Ok(ExampleGrid { principals: values("principals"), resources: values("resources"), actions })
}

/// Files in `dir` with the given extension, sorted.
pub fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect()).unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == ext));
    v.sort();
    v
}

/// The committed list of known gaps: `corpus/file: reason` per line.
pub fn skip_list() -> BTreeMap<String, String> {
    let text = include_str!("../skiplist.txt");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(": ").map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
        .collect()
}

/// A txtar archive: `-- name --` headers followed by contents.
pub fn txtar(text: &str) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("-- ") && t.ends_with(" --") && t.len() > 6 {
            if let Some(f) = current.take() {
                files.push(f);
            }
            let name = t.get(3..t.len() - 3).unwrap_or_default().trim().to_string();
            current = Some((name, String::new()));
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    files.extend(current);
    files
}

/// Pass/fail/skip counts for one corpus; `finish` prints them and fails the test on
/// unexpected failures or on skip-list entries that now pass.
#[derive(Default)]
pub struct Tally {
    corpus: String,
    passed: usize,
    failed: Vec<(String, String)>,
    skipped: Vec<(String, String)>,
    stale: Vec<String>,
    skips: BTreeMap<String, String>,
    runtimes: Vec<&'static str>,
}

impl Tally {
    /// A tally for `corpus` (the prefix used in the skip list).
    pub fn new(corpus: &str) -> Self {
        Tally { corpus: corpus.to_string(), skips: skip_list(), ..Default::default() }
    }

    /// Names the runtimes every case ran through (all of them must agree for a pass).
    pub fn through(&mut self, runtimes: Vec<&'static str>) {
        self.runtimes = runtimes;
    }

    /// Records one case's result.
    pub fn record(&mut self, case: &str, result: Result<(), String>) {
        let key = format!("{}/{}", self.corpus, case);
        match (result, self.skips.get(&key)) {
            (Ok(()), None) => self.passed += 1,
            (Ok(()), Some(_)) => {
                self.passed += 1;
                self.stale.push(key);
            }
            (Err(e), None) => self.failed.push((case.to_string(), e)),
            (Err(_), Some(reason)) => self.skipped.push((case.to_string(), reason.clone())),
        }
    }

    /// Counts every case as skipped because the corpus is missing.
    pub fn missing(&mut self, count_hint: &str) {
        self.skipped.push(("<all>".into(), format!("corpus missing ({count_hint})")));
    }

    /// Records `run` on every `*.yaml` case of the corpus directory `sub` (by file name, with
    /// its path and text), or the corpus as missing; then prints the summary ([`Tally::finish`]).
    pub fn run_yaml_cases(mut self, sub: &str, mut run: impl FnMut(&Path, &str) -> Result<(), String>) {
        match corpus(sub) {
            None => self.missing(&format!("{sub}/*.yaml")),
            Some(dir) => {
                for path in files(&dir, "yaml") {
                    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    let result = run(&path, &text);
                    self.record(&name, result);
                }
            }
        }
        self.finish();
    }

    /// Prints the summary and panics on failures.
    pub fn finish(self) {
        let total = self.passed + self.failed.len() + self.skipped.len();
        for (case, e) in &self.failed {
            eprintln!("FAIL {}/{case}: {e}", self.corpus);
        }
        for (case, reason) in &self.skipped {
            eprintln!("SKIP {}/{case}: {reason}", self.corpus);
        }
        println!(
            "cerbos corpus `{}`: {} passed, {} failed, {} skipped (of {total}); runtimes: {}",
            self.corpus,
            self.passed,
            self.failed.len(),
            self.skipped.len(),
            match (self.runtimes.is_empty(), runtime::requests_through_every_runtime()) {
                (true, _) => "native engine only".to_string(),
                // A corpus compared outside the matrix (against Cerbos) counts no requests.
                (false, 0) => self.runtimes.join(" = "),
                (false, n) => format!("{} ({n} requests through each)", self.runtimes.join(" = ")),
            }
        );
        let mut problems = Vec::new();
        if !self.failed.is_empty() {
            problems.push(format!("{} case(s) failed", self.failed.len()));
        }
        if !self.stale.is_empty() {
            problems.push(format!("skip list entries now pass, remove them: {:?}", self.stale));
        }
        assert!(problems.is_empty(), "{}: {}", self.corpus, problems.join("; "));
    }
}
