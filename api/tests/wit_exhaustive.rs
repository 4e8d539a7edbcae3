//! Adding a field to a WIT record without mapping it fails the build, on every side.
//!
//! A probe crate (in a temporary directory) instantiates `authz_api::wit_conversions!` over
//! wit-bindgen's bindings of a copy of `wit/`, once as the component exports the interface and
//! once as a gateway imports it (the wasmtime host expands the same macro over its own
//! bindings). With the real WIT it compiles; with one field added to `check-options` it must
//! fail in both directions of the mapping: building the record (E0063, naming the new field)
//! and taking it apart (a pattern without the field).

#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::unwrap_used,
    clippy::panic,
    reason = "the test writes a probe crate and runs cargo on it: I/O and processes are its job, and a broken fixture must stop it loudly"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

const FIELD: &str = "probe-added-option";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The probe crate, with the real WIT plus a gateway world that imports `authz`.
fn probe(dir: &Path, add_field: bool) {
    let root = workspace();
    let wit = std::fs::read_to_string(root.join("wit/authz.wit")).unwrap();
    let mut wit = wit + "\n/// The probe's gateway: imports what the component exports.\nworld probe-gateway {\n    import authz;\n}\n";
    if add_field {
        let anchor = "    record check-options {\n";
        assert!(wit.contains(anchor), "check-options is no longer where the probe looks for it");
        wit = wit.replacen(anchor, &format!("{anchor}        /// Added by the probe.\n        {FIELD}: bool,\n"), 1);
    }
    std::fs::create_dir_all(dir.join("wit")).unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("wit/authz.wit"), wit).unwrap();
    // The workspace's versions, so the probe builds offline from what the workspace fetched.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let manifest = format!(
        r#"[package]
name = "wit-exhaustive-probe"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
authz-api = {{ path = "{api}" }}
wit-bindgen = {{ version = "0.63", default-features = false, features = ["macros", "realloc"] }}

[features]
guest = []
gateway = []

[workspace]
"#,
        api = root.join("api").display()
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    let lib = r#"#[cfg(feature = "guest")]
mod guest {
    wit_bindgen::generate!({ path: "wit", world: "pdp" });
    authz_api::wit_conversions!(super::exports::authz::pdp::authz);
}
#[cfg(feature = "gateway")]
mod gateway {
    wit_bindgen::generate!({ path: "wit", world: "probe-gateway" });
    authz_api::wit_conversions!(super::authz::pdp::authz);
}
"#;
    std::fs::write(dir.join("src/lib.rs"), lib).unwrap();
}

/// `cargo check` of the probe with `features`; the exit status and stderr.
fn check(dir: &Path, features: &str) -> (bool, String) {
    // A target directory of its own: the one running this test is locked by cargo.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
        .join("wit-exhaustive-probe");
    let out = Command::new(env!("CARGO"))
        .current_dir(dir)
        .args(["check", "--offline", "--quiet", "--message-format=short", "--features", features])
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn an_unmapped_check_options_field_fails_the_build_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    probe(dir.path(), false);
    let (ok, stderr) = check(dir.path(), "guest,gateway");
    assert!(ok, "the probe must build with the real WIT:\n{stderr}");

    probe(dir.path(), true);
    let field = FIELD.replace('-', "_");
    for side in ["guest", "gateway"] {
        let (ok, stderr) = check(dir.path(), side);
        assert!(!ok, "{side}: an unmapped field compiled");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error[")).collect();
        assert!(
            errors.iter().any(|l| l.contains("E0063") && l.contains(&field)),
            "{side}: building `check-options` must name the missing field:\n{stderr}"
        );
        // rustc words it as E0027 naming the field, or (for a field it considers not visible
        // from the macro's expansion) as a pattern that "requires `..`": either way, refused.
        let all = stderr.lines().filter(|l| l.contains("error")).collect::<Vec<_>>();
        assert!(
            all.iter().any(|l| (l.contains("E0027") && l.contains(&field)) || l.contains("pattern requires `..`")),
            "{side}: taking `check-options` apart must fail on the missing field:\n{stderr}"
        );
    }
}
