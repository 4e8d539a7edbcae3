//! The example bundles' own `*_test.yaml` suites, run through every runtime.

use authz::suite::{is_suite_path, run_suite, Outcome};
use authz_conformance::runtime::Matrix;
use authz_engine::Bundle;
use std::collections::BTreeMap;
use std::path::Path;

#[test]
fn example_suites_pass_in_every_runtime() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let mut dirs: Vec<_> = std::fs::read_dir(&root).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).collect();
    dirs.retain(|d| d.is_dir());
    dirs.sort();
    assert!(!dirs.is_empty(), "no example bundles under {}", root.display());
    let mut failures = Vec::new();
    for dir in dirs {
        let sources = authz::store::load_dir(&dir).unwrap();
        let bundle = Bundle::build(sources.clone(), None).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let matrix = Matrix::load(&bundle).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut actions = 0;
        for s in sources.iter().filter(|s| is_suite_path(s.path())) {
            let folder = s.path().rsplit_once('/').map(|(d, _)| format!("{d}/testdata/")).unwrap_or("testdata/".into());
            let testdata: BTreeMap<String, String> = sources
                .iter()
                .filter_map(|f| f.path().strip_prefix(folder.as_str()).map(|n| (n.to_string(), f.text().to_string())))
                .collect();
            let r = run_suite(&matrix, s.path(), s.text(), &testdata);
            actions += r.actions.len();
            if r.result != Outcome::Passed {
                failures.push(format!("{}/{}: {:?} {:?}", dir.display(), r.file, r.result, r.error));
            }
            for a in r.actions.iter().filter(|a| a.result != Outcome::Passed) {
                failures.push(format!("{} {} {} {}: {:?}", a.test, a.principal, a.resource, a.action, a.message));
            }
        }
        assert!(actions > 0, "{}: no test actions ran", dir.display());
        println!(
            "example bundle {}: {actions} test actions passed; runtimes: {}",
            dir.display(),
            matrix.names().join(" = ")
        );
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
