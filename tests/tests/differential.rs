//! authz against the real Cerbos PDP (`scripts/cerbos.sh` installs it): generated requests sent
//! to both on the same policies, every field of the answers compared. `AUTHZ_DIFF_REQUESTS`
//! (default 2,000) requests on Cerbos's test store, a quarter as many on `policies/example` and
//! on the store in each other configuration (schema enforcement warn and reject, strict
//! evaluation), from seed `AUTHZ_DIFF_SEED` (default 1). Each kind of mismatch is one case of the
//! `differential` corpus: known ones are in `tests/skiplist.txt` with a reason; a campaign is
//! `bash scripts/differential.sh N`. The smallest request of every kind found and fixed is kept
//! in `tests/differential-regressions.json` and sent first, whatever the seed.

use authz_conformance::differential::{authz_with_config, cerbos_binary, classify, free_port, Cerbos, Pdps, Pool, Rng};
use authz_conformance::{corpus, Tally};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every kind of mismatch `classify` names.
const CLASSES: [&str; 8] = [
    "effect",
    "validation errors",
    "matched policy or scope",
    "effective derived roles",
    "outputs",
    "resource echo",
    "request refused by one side",
    "other",
];

/// Every YAML or JSON document in `path` (a file, or a directory walked recursively).
fn yaml_docs(path: &Path, out: &mut Vec<Value>) {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(path) {
        Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
        Err(_) => vec![path.to_path_buf()],
    };
    paths.sort();
    for p in paths {
        if p.is_dir() {
            yaml_docs(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json") {
            // A file left out only narrows what requests are made of; still, never silently.
            let text = match std::fs::read_to_string(&p) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("differential: not harvested: {}: {e}", p.display());
                    continue;
                }
            };
            for doc in serde_yaml::Deserializer::from_str(&text) {
                match serde_yaml::Value::deserialize(doc)
                    .map_err(|e| e.to_string())
                    .and_then(|v| serde_json::to_value(v).map_err(|e| e.to_string()))
                {
                    Ok(j) => out.push(j),
                    Err(e) => eprintln!("differential: a document not harvested: {}: {e}", p.display()),
                }
            }
        }
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Run {
    requests: usize,
    identical: usize,
    /// Requests carrying signed tokens.
    with_tokens: usize,
    by_class: BTreeMap<&'static str, (usize, Value, Value, Value)>,
}

/// The requests of `tests/differential-regressions.json` for the policy set `name`: one per
/// kind of mismatch found and fixed, sent to both before the generated ones.
fn regressions(name: &str) -> Result<Vec<Value>, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("differential-regressions.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let all: Vec<Value> = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    all.into_iter()
        .filter(|r| r.get("policies").and_then(Value::as_str) == Some(name))
        .map(|r| r.get("request").cloned().ok_or_else(|| format!("{}: an entry without `request`", path.display())))
        .collect()
}

/// A configuration both PDPs are run in: the same `--set` overrides, which `cerbos server`
/// and `authz serve` both take.
struct Mode {
    name: &'static str,
    sets: &'static [&'static str],
}

/// Defaults first; then schema enforcement warn and reject (Cerbos's default is none) and
/// strict evaluation, each with a quarter of the requests.
const STORE_MODES: [Mode; 4] = [
    Mode { name: "", sets: &[] },
    Mode { name: "schema warn", sets: &["schema.enforcement=warn"] },
    Mode { name: "schema reject", sets: &["schema.enforcement=reject"] },
    Mode { name: "strict", sets: &["engine.strictEvaluation=true"] },
];

fn run(name: &str, mode: &Mode, policies: &Path, pool: &Pool, n: usize, seed: u64, bin: &Path) -> Result<Run, String> {
    let mut sets: Vec<String> = mode.sets.iter().map(|s| s.to_string()).collect();
    // Both verify signed tokens with Cerbos's test key (the store's policies read JWT claims).
    let config_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (key_sets, config) = authz_conformance::differential::key_set_config(config_dir.path())?;
    sets.extend(key_sets);
    let cerbos = Cerbos::start(bin, policies, &sets)?;
    let extra: Vec<&str> = mode.sets.iter().flat_map(|s| ["--set", s]).collect();
    let (authz, _tmp) = authz_conformance::differential::authz_on(policies, Some(&config), &extra)?;
    let mut pdps = Pdps {
        cerbos: authz_conformance::http::Client::new(cerbos.addr),
        authz: authz.client(),
        principal_key_by_id: mode.name == "strict",
    };
    let label = if mode.name.is_empty() { name.to_string() } else { format!("{name}, {}", mode.name) };
    compare_all(name, &label, &mut pdps, pool, n, seed)
}

/// `n` generated requests (after the regressions of `name`) sent to both PDPs, each kind of
/// mismatch kept with its smallest request.
fn compare_all(name: &str, label: &str, pdps: &mut Pdps, pool: &Pool, n: usize, seed: u64) -> Result<Run, String> {
    let mut rng = Rng::new(seed);
    let mut out = Run { requests: 0, identical: 0, with_tokens: 0, by_class: BTreeMap::new() };
    let fixed = regressions(name)?;
    for i in 0..fixed.len() + n {
        let request = match fixed.get(i) {
            Some(r) => r.clone(),
            None => pool.request(&mut rng, i - fixed.len()),
        };
        out.requests += 1;
        out.with_tokens += usize::from(request.get("auxData").is_some());
        match pdps.compare(&request)? {
            None => out.identical += 1,
            Some((want, got)) => {
                let class = classify(&want, &got);
                let entry = out.by_class.entry(class).or_insert((0, Value::Null, Value::Null, Value::Null));
                if entry.0 == 0 {
                    let small = pdps.shrink(&request);
                    let (w, g) = pdps.compare(&small)?.unwrap_or((want, got));
                    *entry = (0, small, w, g);
                }
                entry.0 += 1;
            }
        }
    }
    println!(
        "differential `{label}`: {} requests ({} with signed tokens), {} identical to cerbos server 0.55",
        out.requests, out.with_tokens, out.identical
    );
    Ok(out)
}

/// A Cerbos server configuration as an operator writes it, environment variables and all: both
/// PDPs start from this one file (`cerbos server --config`, `authz serve --config`), each given
/// its own ports, audit file and the example's directory in its environment. Schema enforcement
/// and lenient scope search change answers, so a setting either side missed is a mismatch;
/// authz reports the keys it does not use (gRPC, telemetry) and ignores them.
const CONFIG: &str = r#"---
server:
  httpListenAddr: "127.0.0.1:${DIFF_HTTP_PORT}"
  grpcListenAddr: "127.0.0.1:${DIFF_GRPC_PORT}"
  requestLimits:
    maxActionsPerResource: 50
    maxResourcesPerRequest: 50
storage:
  driver: disk
  disk:
    directory: "${DIFF_POLICIES}"
    watchForChanges: false
schema:
  enforcement: reject
engine:
  defaultPolicyVersion: "${DIFF_UNSET_VERSION:default}"
  lenientScopeSearch: true
audit:
  enabled: true
  backend: file
  file:
    path: "${DIFF_AUDIT}"
telemetry:
  disabled: true
"#;

/// Both PDPs started from [`CONFIG`] on `policies`; also says what authz's start reported and
/// how many decision records its audit file holds afterwards.
fn run_config(
    policies: &Path,
    pool: &Pool,
    n: usize,
    seed: u64,
    bin: &Path,
) -> Result<(Run, Vec<String>, usize), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = dir.path().join(".cerbos.yaml");
    std::fs::write(&config, CONFIG).map_err(|e| e.to_string())?;
    let port = |p: Result<u16, String>| p.map(|p| p.to_string());
    let (http, grpc) = (free_port()?, port(free_port())?);
    let shared = |audit: &str, http: String, grpc: String| {
        vec![
            ("DIFF_HTTP_PORT", http),
            ("DIFF_GRPC_PORT", grpc),
            ("DIFF_POLICIES", policies.display().to_string()),
            ("DIFF_AUDIT", dir.path().join(audit).display().to_string()),
        ]
    };
    let cerbos = Cerbos::start_with_config(bin, &config, &shared("cerbos-audit.log", http.to_string(), grpc), http)?;
    // Any free ports (a build with the gRPC API serves `server.grpcListenAddr` too).
    let authz = authz_with_config(&config, &shared("authz-audit.log", "0".into(), "0".into()))?;
    let mut pdps = Pdps {
        cerbos: authz_conformance::http::Client::new(cerbos.addr),
        authz: authz.client(),
        principal_key_by_id: false,
    };
    let run = compare_all("example", "example, one Cerbos config file", &mut pdps, pool, n, seed)?;
    let reported = authz.stderr.lock().map(|l| l.clone()).unwrap_or_default();
    drop(authz);
    let audit = std::fs::read_to_string(dir.path().join("authz-audit.log")).unwrap_or_default();
    let records = audit
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).is_ok_and(|r| r.get("bundleDigest").is_some_and(Value::is_string)))
        .count();
    Ok((run, reported, records))
}

/// One case per kind of mismatch (`PREFIX/KIND`): passed, or failed with its count and smallest request.
fn record(tally: &mut Tally, prefix: &str, result: &Run) {
    for class in CLASSES {
        let case = format!("{prefix}/{class}");
        match result.by_class.get(class) {
            None => tally.record(&case, Ok(())),
            Some((count, small, want, got)) => tally.record(
                &case,
                Err(format!(
                    "{count} of {} requests; smallest found:\n    request {small}\n    cerbos  {want}\n    authz   {got}",
                    result.requests
                )),
            ),
        }
    }
}

#[test]
fn authz_decides_as_cerbos_does() {
    let mut tally = Tally::new("differential");
    tally.through(vec!["http/authz-serve", "cerbos server 0.55"]);
    let Some(bin) = cerbos_binary() else {
        eprintln!("\n!!! THE CERBOS BINARY WAS NOT FOUND (bash scripts/cerbos.sh installs it): every differential case is SKIPPED\n");
        tally.missing("no cerbos binary");
        tally.finish();
        return;
    };
    let Some(store) = corpus("store") else {
        tally.missing("no cerbos test store");
        tally.finish();
        return;
    };
    let n = env_number("AUTHZ_DIFF_REQUESTS", 2000) as usize;
    let seed = env_number("AUTHZ_DIFF_SEED", 1);
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/example");
    let mut store_docs = Vec::new();
    yaml_docs(&authz_conformance::testdata_dir().join("engine"), &mut store_docs);
    yaml_docs(&store.join("tests"), &mut store_docs);
    // Cerbos's server cases: requests with signed tokens (and more principals and resources).
    yaml_docs(&authz_conformance::testdata_dir().join("server"), &mut store_docs);
    let mut example_docs = Vec::new();
    yaml_docs(&example.join("tests"), &mut example_docs);
    yaml_docs(&example.with_file_name("example-request.json"), &mut example_docs);
    let (example_dir, example_docs_for_config) = (example.clone(), example_docs.clone());
    let default = [Mode { name: "", sets: &[] }];
    for (name, dir, docs, count, modes) in
        [("store", store, store_docs, n, &STORE_MODES[..]), ("example", example, example_docs, n / 4, &default[..])]
    {
        let pool = Pool::harvest(&docs);
        assert!(pool.usable(), "{name}: nothing to generate requests from");
        for mode in modes {
            let count = if mode.name.is_empty() { count } else { n / 4 };
            let result = match run(name, mode, &dir, &pool, count.max(1), seed, &bin) {
                Ok(r) => r,
                Err(e) => panic!("{name}: {e}"),
            };
            let prefix = if mode.name.is_empty() { name.to_string() } else { format!("{name}/{}", mode.name) };
            record(&mut tally, &prefix, &result);
        }
    }
    // One Cerbos configuration file starts both: the same answers, the unused keys reported,
    // the decisions in the configured audit file.
    let example_pool = Pool::harvest(&example_docs_for_config);
    let (result, reported, records) = match run_config(&example_dir, &example_pool, (n / 4).max(1), seed, &bin) {
        Ok(r) => r,
        Err(e) => panic!("example, one Cerbos config file: {e}"),
    };
    record(&mut tally, "example/config file", &result);
    // A build with the gRPC API serves `server.grpcListenAddr`; one without reports it.
    let grpc = cfg!(feature = "grpc");
    let unused = if grpc { &["telemetry"][..] } else { &["server.grpcListenAddr", "telemetry"] };
    if grpc {
        let served = reported.iter().any(|l| l.contains("listening on grpc://127.0.0.1:"));
        let served = if served { Ok(()) } else { Err(format!("no gRPC API announced:\n{}", reported.join("\n"))) };
        tally.record("example/config file/gRPC served at server.grpcListenAddr", served);
    }
    let missing: Vec<&str> = unused
        .iter()
        .copied()
        .filter(|key| {
            !reported.iter().any(|l| l.contains(&format!("{key}: ignored")) || l.contains(&format!("ignored: {key}")))
        })
        .collect();
    tally.record(
        "example/config file/unused keys reported",
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("not reported: {missing:?}; authz printed:\n{}", reported.join("\n")))
        },
    );
    tally.record(
        "example/config file/audit file",
        if records > 0 { Ok(()) } else { Err("the configured audit file holds no decision record".into()) },
    );
    tally.finish();
}
