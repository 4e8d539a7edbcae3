//! Cerbos's `auxdata/` cases: key sets as Cerbos loads them (JWK, JWK sets, PEM), each as the
//! `auxData.jwt.keySets` of a bundle; a case with `wantErr` (or `wantLocalErr`: these are local
//! key sets) must fail to build with that message, the others must build. Then a signed token
//! from Cerbos's server cases through every runtime: verified, its claims decide as Cerbos's
//! expected response says, and a token that does not verify is refused everywhere.

use authz_conformance::runtime::Matrix;
use authz_conformance::{corpus, Tally};
use authz_engine::{Bundle, Source, AUX_DATA_CONFIG_PATH};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    input: Input,
    #[serde(default)]
    want_err: String,
    #[serde(default)]
    want_local_err: String,
}

#[derive(Deserialize)]
struct Input {
    key: String,
    #[serde(default)]
    pem: bool,
}

fn config(key: &[u8], pem: bool) -> Source {
    let data = base64::engine::general_purpose::STANDARD.encode(key);
    let text = format!("jwt:\n  keySets:\n    - id: ks1\n      local:\n        data: {data}\n        pem: {pem}\n");
    Source::new(AUX_DATA_CONFIG_PATH, text)
}

fn run_case(text: &str) -> Result<(), String> {
    let case: Case = serde_yaml::from_str(text).map_err(|e| format!("unreadable case: {e}"))?;
    let want = if case.want_err.is_empty() { case.want_local_err } else { case.want_err };
    match (Bundle::build(vec![config(case.input.key.as_bytes(), case.input.pem)], None), want.is_empty()) {
        (Ok(_), true) => Ok(()),
        (Ok(_), false) => Err(format!("built; Cerbos refuses this key set: {want}")),
        (Err(e), true) => Err(format!("Cerbos loads this key set; authz refused it: {e}")),
        (Err(e), false) if e.to_string().contains(&want) => Ok(()),
        (Err(e), false) => Err(format!("refused, but not with Cerbos's `{want}`: {e}")),
    }
}

#[test]
fn cerbos_auxdata_cases() {
    Tally::new("auxdata").run_yaml_cases("auxdata", |_, text| run_case(text));
}

/// The store with Cerbos's test verification key; the first server case with a signed token.
fn store_with_key() -> Result<(Bundle, Value, Value), String> {
    let store = corpus("store").ok_or("no cerbos test store")?;
    let key = std::fs::read(authz_conformance::testdata_dir().join("auxdata/keys/verify_key.jwk"))
        .map_err(|e| format!("verify_key.jwk: {e}"))?;
    let mut sources = authz::store::load_dir(&store).map_err(|e| e.to_string())?;
    sources.push(config(&key, false));
    let bundle = Bundle::build(sources, None).map_err(|e| e.to_string())?;
    let case_path = authz_conformance::testdata_dir().join("server/checks/check_resources/cr_case_01.yaml");
    let case: Value = serde_yaml::from_str(&std::fs::read_to_string(&case_path).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let input = case.pointer("/checkResources/input").cloned().ok_or("cr_case_01: no input")?;
    let want = case.pointer("/checkResources/wantResponse").cloned().ok_or("cr_case_01: no wantResponse")?;
    Ok((bundle, input, want))
}

/// `{resource id: {action: effect}}` of a response.
fn effects(response: &Value) -> Value {
    let results = response.get("results").and_then(Value::as_array).cloned().unwrap_or_default();
    results
        .iter()
        .map(|r| {
            let id = r.pointer("/resource/id").and_then(Value::as_str).unwrap_or_default().to_string();
            (id, r.get("actions").cloned().unwrap_or(Value::Null))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[test]
fn signed_tokens_verify_in_every_runtime() {
    let mut tally = Tally::new("auxdata-tokens");
    if corpus("store").is_none() || corpus("server").is_none() {
        tally.missing("server/checks/check_resources/cr_case_01.yaml");
        tally.finish();
        return;
    }
    let (bundle, input, want) = match store_with_key() {
        Ok(x) => x,
        Err(e) => panic!("{e}"),
    };
    let matrix = match Matrix::load(&bundle) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    tally.through(matrix.names());
    let limits = authz_api::cerbos::Limits::default();
    let now = authz_api::CheckOptions {
        now: authz_api::model::parse_time("2026-12-01T00:00:00Z"),
        ..authz_api::CheckOptions::default()
    };
    let check = |request: &Value| authz_api::cerbos::check_json(&matrix, &request.to_string(), &limits, &now);
    tally.record(
        "cr_case_01 (ES384 token, claims in conditions)",
        check(&input).map_err(|e| e.to_string()).and_then(|got| {
            (effects(&got) == effects(&want))
                .then_some(())
                .ok_or_else(|| format!("want {}, got {}", effects(&want), effects(&got)))
        }),
    );
    let mut tampered = input.clone();
    if let Some(Value::String(t)) = tampered.pointer_mut("/auxData/jwt/token") {
        t.truncate(t.len().saturating_sub(4));
        t.push_str("AAAA");
    }
    tally.record(
        "a signature that does not verify is refused",
        match check(&tampered) {
            // The harness reports a refusal as its own error, with the runtimes' message.
            Err(e) if e.to_string().contains("`$.auxData.jwt`: failed to extract JWT") => Ok(()),
            other => Err(format!("want a request error at $.auxData.jwt, got {other:?}")),
        },
    );
    let late = authz_api::CheckOptions { now: authz_api::model::parse_time("2032-01-01T00:00:00Z"), ..now.clone() };
    tally.record(
        "an expired token is refused",
        match authz_api::cerbos::check_json(&matrix, &input.to_string(), &limits, &late) {
            Err(e) if e.to_string().contains("token has expired (exp)") => Ok(()),
            other => Err(format!("want `token has expired (exp)`, got {other:?}")),
        },
    );
    tally.finish();
}
