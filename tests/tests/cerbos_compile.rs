//! Cerbos's `compile/` cases: a broken store must fail to build, with an error in
//! each file Cerbos names (and at Cerbos's line where it gives one); a valid store
//! must build.

use authz_conformance::{corpus, files, txtar, Tally};
use authz_engine::{Bundle, Source};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WantErr {
    file: String,
    #[serde(default)]
    position: Option<Position>,
}

#[derive(Deserialize)]
struct Position {
    line: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    #[serde(default)]
    want_errors: Vec<WantErr>,
}

/// Cerbos's compile harness resolves `cerbos:///` schema references against the
/// shared schema fixtures in `schema/fs/_schemas`.
fn schema_fixtures() -> Vec<Source> {
    corpus("schema/fs").map(|dir| authz::store::load_dir(&dir).unwrap_or_default()).unwrap_or_default()
}

/// Lines Cerbos gives that we report too, and lines it gives (informational).
static LINES: std::sync::Mutex<(usize, usize)> = std::sync::Mutex::new((0, 0));

fn run_case(case_text: &str, input: &str) -> Result<(), String> {
    let case: Case = serde_yaml::from_str(case_text).map_err(|e| format!("unreadable case: {e}"))?;
    let mut sources: Vec<Source> = txtar(input).into_iter().map(|(p, t)| Source::new(p, t)).collect();
    sources.extend(schema_fixtures());
    match (Bundle::build(sources, None), case.want_errors.is_empty()) {
        (Ok(_), true) => Ok(()),
        (Ok(_), false) => Err("built, but Cerbos rejects this store".into()),
        (Err(e), true) => Err(format!("valid store rejected: {e}")),
        (Err(e), false) => {
            let mut missing = Vec::new();
            for w in &case.want_errors {
                let in_file: Vec<_> = e.errors().iter().filter(|g| g.location().file() == w.file).collect();
                if let (Some(p), Ok(mut lines)) = (&w.position, LINES.lock()) {
                    lines.1 += 1;
                    lines.0 += usize::from(in_file.iter().any(|g| g.location().line() == p.line));
                }
                if in_file.is_empty() {
                    missing.push(format!("{}:{}", w.file, w.position.as_ref().map(|p| p.line).unwrap_or(0)));
                }
            }
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("no error reported at {missing:?}; got: {e}"))
            }
        }
    }
}

#[test]
fn cerbos_compile_cases() {
    let mut tally = Tally::new("compile");
    let Some(dir) = corpus("compile") else {
        tally.missing("compile/*.yaml");
        tally.finish();
        return;
    };
    for path in files(&dir, "yaml") {
        let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let case_text = std::fs::read_to_string(&path).unwrap_or_default();
        let input = std::fs::read_to_string(path.with_extension("yaml.input")).unwrap_or_default();
        tally.record(&name, run_case(&case_text, &input));
    }
    if let Ok(lines) = LINES.lock() {
        println!("cerbos corpus `compile`: error lines equal to Cerbos's: {} of {}", lines.0, lines.1);
    }
    tally.finish();
}
