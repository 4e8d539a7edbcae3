//! Cerbos's `compile/` cases: a broken store must fail to build, with an error in
//! each file Cerbos names (and at Cerbos's line where it gives one); a valid store
//! must build.

use authz_conformance::{corpus, txtar, Tally};
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

/// A case's store (its txtar input) with the shared schema fixtures.
fn case_sources(input: &str) -> Vec<Source> {
    let mut sources: Vec<Source> = txtar(input).into_iter().map(|(p, t)| Source::new(p, t)).collect();
    sources.extend(schema_fixtures());
    sources
}

fn run_case(case_text: &str, input: &str) -> Result<(), String> {
    let case: Case = serde_yaml::from_str(case_text).map_err(|e| format!("unreadable case: {e}"))?;
    match (Bundle::build(case_sources(input), None), case.want_errors.is_empty()) {
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
    Tally::new("compile").run_yaml_cases("compile", |path, case_text| {
        let input = std::fs::read_to_string(path.with_extension("yaml.input")).unwrap_or_default();
        run_case(case_text, &input)
    });
    if let Ok(lines) = LINES.lock() {
        println!("cerbos corpus `compile`: error lines equal to Cerbos's: {} of {}", lines.0, lines.1);
    }
}

/// Copies the files under `from` into `to`, keeping their relative paths.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Whether `cerbos compile` accepts the case's store (written out with the schema fixtures).
fn cerbos_accepts(bin: &std::path::Path, input: &str) -> Result<bool, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    if let Some(fixtures) = corpus("schema/fs") {
        copy_tree(&fixtures, dir.path()).map_err(|e| e.to_string())?;
    }
    for (path, text) in txtar(input) {
        let target = dir.path().join(&path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&target, text).map_err(|e| format!("{path}: {e}"))?;
    }
    let out = std::process::Command::new(bin)
        .arg("compile")
        .arg(dir.path())
        .env("CERBOS_NO_TELEMETRY", "1")
        .output()
        .map_err(|e| format!("running cerbos compile: {e}"))?;
    Ok(out.status.success())
}

/// The same cases through the real `cerbos compile` (0.55): it accepts exactly the stores
/// authz builds.
#[test]
fn cerbos_compile_agrees() {
    let mut tally = Tally::new("compile-vs-cerbos");
    tally.through(vec!["native", "cerbos compile 0.55"]);
    let Some(bin) = authz_conformance::differential::cerbos_binary() else {
        eprintln!(
            "\n!!! THE CERBOS BINARY WAS NOT FOUND (bash scripts/cerbos.sh installs it): every case is SKIPPED\n"
        );
        tally.missing("no cerbos binary");
        tally.finish();
        return;
    };
    tally.run_yaml_cases("compile", |path, _| {
        let input = std::fs::read_to_string(path.with_extension("yaml.input")).unwrap_or_default();
        let ours = Bundle::build(case_sources(&input), None).is_ok();
        cerbos_accepts(&bin, &input).and_then(|theirs| match (ours, theirs) {
            (a, b) if a == b => Ok(()),
            (true, _) => Err("authz builds this store; cerbos compile rejects it".into()),
            (false, _) => Err("cerbos compile accepts this store; authz rejects it".into()),
        })
    });
}
