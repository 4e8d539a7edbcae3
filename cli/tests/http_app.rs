//! The `wasi:http` gateway and the app `authz bake --http` composes: what they import and export.
//! SpinKube's shim (containerd-shim-spin v0.24: Spin 3.6.3 on wasmtime 42) provides WASI 0.2.6,
//! so nothing may import a later WASI 0.2 version.

#![expect(clippy::expect_used, reason = "test helpers outside #[test]: a failed setup step should abort the test")]

use std::path::Path;
use std::process::Command;

/// The top-level imports and exports of a component.
fn interface(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.expect("a valid component") {
            wasmparser::Payload::ModuleSection { .. } | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(s) if depth == 0 => {
                imports.extend(s.into_iter().map(|i| i.expect("an import").name.name.to_string()));
            }
            wasmparser::Payload::ComponentExportSection(s) if depth == 0 => {
                exports.extend(s.into_iter().map(|e| e.expect("an export").name.name.to_string()));
            }
            _ => {}
        }
    }
    (imports, exports)
}

/// Whether `name` is a WASI 0.2 interface at 0.2.6 or earlier.
fn wasi_up_to_0_2_6(name: &str) -> bool {
    let Some((iface, version)) = name.split_once('@') else { return false };
    let patch = version.strip_prefix("0.2.").and_then(|p| p.parse::<u32>().ok());
    iface.starts_with("wasi:") && patch.is_some_and(|p| p <= 6)
}

#[test]
fn the_gateway_imports_the_pdp_and_wasi_0_2_6_at_most_and_exports_the_http_handler() {
    let (imports, exports) = interface(authz::compose::GATEWAY);
    assert!(imports.iter().any(|i| i == "authz:pdp/authz@0.1.0"), "{imports:?}");
    let others: Vec<&String> = imports.iter().filter(|i| *i != "authz:pdp/authz@0.1.0").collect();
    assert!(!others.is_empty());
    assert!(others.iter().all(|i| wasi_up_to_0_2_6(i)), "imports past WASI 0.2.6 or not WASI: {others:?}");
    assert!(others.iter().any(|i| i.starts_with("wasi:http/types@")), "{others:?}");
    assert!(exports.iter().all(|e| e.starts_with("wasi:http/incoming-handler@0.2.")), "{exports:?}");
    assert_eq!(exports.len(), 1, "{exports:?}");
}

#[test]
fn bake_http_composes_one_component_that_imports_only_wasi() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("app.wasm");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/example");
    let status = Command::new(env!("CARGO_BIN_EXE_authz"))
        .args(["bake", "--skip-tests", "--http", "--policies"])
        .arg(&example)
        .arg("--out")
        .arg(&out)
        .status()
        .expect("authz runs");
    assert!(status.success());
    let app = std::fs::read(&out).expect("the app");
    let (imports, exports) = interface(&app);
    assert!(imports.iter().all(|i| wasi_up_to_0_2_6(i)), "{imports:?}");
    assert!(!imports.iter().any(|i| i.starts_with("authz:")), "the PDP is composed in: {imports:?}");
    assert_eq!(exports, ["wasi:http/incoming-handler@0.2.4"]);
}

#[test]
fn the_version_check_refuses_later_wasi_and_other_packages() {
    assert!(wasi_up_to_0_2_6("wasi:io/streams@0.2.6"));
    assert!(wasi_up_to_0_2_6("wasi:http/types@0.2.4"));
    assert!(!wasi_up_to_0_2_6("wasi:io/streams@0.2.12"));
    assert!(!wasi_up_to_0_2_6("wasi:io/streams@0.3.0"));
    assert!(!wasi_up_to_0_2_6("authz:pdp/authz@0.1.0"));
    assert!(!wasi_up_to_0_2_6("wasi:io/streams"));
}
