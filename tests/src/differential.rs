//! Differential testing against the real Cerbos PDP: the same requests to `cerbos server` and
//! `authz serve` on the same policies, compared field by field.
//!
//! Requests are generated from a seed: principals, resources and actions taken from Cerbos's
//! engine cases and the store's own test suites, then mutated (roles, attributes of every JSON
//! type including null and missing, policy versions, scopes, actions, several resources per
//! request). A mismatch is shrunk to a small request that still differs.

use crate::http::{Client, Server};
use serde_json::{json, Map, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where `scripts/cerbos.sh` installs Cerbos, unless `CERBOS_BIN` says otherwise.
pub fn cerbos_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CERBOS_BIN") {
        return Some(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME")?;
    let tools = std::env::var_os("AUTHZ_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(home).join(".cache/authz-tools"));
    let p = tools.join("cerbos-0.55.0/node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64");
    p.is_file().then_some(p)
}

/// A `cerbos server` on loopback ports, stopped on drop.
pub struct Cerbos {
    child: Child,
    /// Its HTTP address.
    pub addr: SocketAddr,
    /// Its gRPC address, when it was started on one this code chose.
    pub grpc_addr: Option<SocketAddr>,
}

/// A TCP port free on loopback now.
pub fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

impl Cerbos {
    /// Starts Cerbos on the policies in `store` with extra `--set` overrides.
    pub fn start(bin: &Path, store: &Path, sets: &[String]) -> Result<Cerbos, String> {
        let (http, grpc) = (free_port()?, free_port()?);
        let mut command = Command::new(bin);
        command
            .args(["server", "--log-level=error", "--debug-listen-addr=127.0.0.1:0"])
            .arg(format!("--set=server.httpListenAddr=127.0.0.1:{http}"))
            .arg(format!("--set=server.grpcListenAddr=127.0.0.1:{grpc}"))
            .arg("--set=storage.driver=disk")
            .arg(format!("--set=storage.disk.directory={}", store.display()))
            .arg("--set=storage.disk.watchForChanges=false")
            .args(sets.iter().map(|s| format!("--set={s}")));
        let mut cerbos = Cerbos::spawn(command, http)?;
        cerbos.grpc_addr = Some(SocketAddr::from(([127, 0, 0, 1], grpc)));
        Ok(cerbos)
    }

    /// Starts `cerbos server --config CONFIG` with `env` added to its environment, which must
    /// make it listen for HTTP on 127.0.0.1:`http` (a port from [`free_port`]).
    pub fn start_with_config(bin: &Path, config: &Path, env: &[(&str, String)], http: u16) -> Result<Cerbos, String> {
        let mut command = Command::new(bin);
        command
            .args(["server", "--log-level=error", "--debug-listen-addr=127.0.0.1:0"])
            .arg(format!("--config={}", config.display()))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        Cerbos::spawn(command, http)
    }

    fn spawn(mut command: Command, http: u16) -> Result<Cerbos, String> {
        let child = command
            .env("CERBOS_NO_TELEMETRY", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting cerbos: {e}"))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], http));
        let mut cerbos = Cerbos { child, addr, grpc_addr: None };
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut client = Client::new(addr);
        loop {
            if let Ok(r) = client.get("/_cerbos/health") {
                if r.status == 200 {
                    return Ok(cerbos);
                }
            }
            if let Ok(Some(status)) = cerbos.child.try_wait() {
                return Err(format!("cerbos exited: {status}"));
            }
            if Instant::now() > deadline {
                return Err("cerbos did not become healthy in 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Cerbos {
    /// Its process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Cerbos {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small deterministic generator (xorshift64*): the same seed, the same requests.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// True with probability `p` percent.
    pub fn chance(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

/// What requests are made of: entities and values seen in the corpus.
#[derive(Default)]
pub struct Pool {
    principals: Vec<Value>,
    resources: Vec<Value>,
    actions: Vec<String>,
    roles: Vec<String>,
    kinds: Vec<String>,
    versions: Vec<String>,
    scopes: Vec<String>,
    /// Attribute values seen anywhere, plus one of every JSON type.
    values: Vec<Value>,
    /// Attribute names seen anywhere.
    keys: Vec<String>,
    /// Signed tokens seen in requests' `auxData` (Cerbos's server cases).
    tokens: Vec<String>,
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

impl Pool {
    /// Harvests every principal, resource and action in `docs` (JSON values of engine cases,
    /// test suites and requests), wherever they appear.
    pub fn harvest(docs: &[Value]) -> Pool {
        let mut p = Pool::default();
        for v in [json!(null), json!(true), json!(false), json!(0), json!(7), json!(-1.5), json!(""), json!("x")] {
            p.values.push(v);
        }
        p.values.push(json!(["a", 1]));
        p.values.push(json!({"k": "v"}));
        for v in ["", "default"] {
            push_unique(&mut p.versions, v.to_string());
        }
        push_unique(&mut p.scopes, String::new());
        for d in docs {
            p.walk(d);
        }
        p
    }

    fn walk(&mut self, v: &Value) {
        match v {
            Value::Object(m) => {
                let is_principal = m.get("roles").is_some_and(Value::is_array) && m.get("id").is_some();
                let is_resource = m.get("kind").is_some_and(Value::is_string);
                if is_principal {
                    self.principals.push(v.clone());
                    for r in m.get("roles").and_then(Value::as_array).into_iter().flatten() {
                        if let Some(r) = r.as_str() {
                            push_unique(&mut self.roles, r.to_string());
                        }
                    }
                }
                if is_resource {
                    self.resources.push(v.clone());
                    if let Some(k) = m.get("kind").and_then(Value::as_str) {
                        push_unique(&mut self.kinds, k.to_string());
                    }
                }
                if is_principal || is_resource {
                    if let Some(ver) = m.get("policyVersion").and_then(Value::as_str) {
                        push_unique(&mut self.versions, ver.to_string());
                    }
                    if let Some(s) = m.get("scope").and_then(Value::as_str) {
                        push_unique(&mut self.scopes, s.to_string());
                    }
                    for (k, a) in m.get("attr").and_then(Value::as_object).into_iter().flatten() {
                        push_unique(&mut self.keys, k.clone());
                        if self.values.len() < 400 {
                            push_unique(&mut self.values, a.clone());
                        }
                    }
                }
                for t in ["jwt", "jwts"].iter().filter_map(|k| m.get("auxData").and_then(|a| a.get(*k))) {
                    let tokens = std::iter::once(t).chain(t.as_object().into_iter().flat_map(|o| o.values()));
                    for t in tokens.filter_map(|t| t.get("token").and_then(Value::as_str)) {
                        push_unique(&mut self.tokens, t.to_string());
                    }
                }
                if let Some(actions) = m.get("actions").and_then(Value::as_array) {
                    for a in actions.iter().filter_map(Value::as_str) {
                        push_unique(&mut self.actions, a.to_string());
                    }
                }
                for x in m.values() {
                    self.walk(x);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| self.walk(x)),
            _ => {}
        }
    }

    /// Whether there is enough to generate requests from.
    pub fn usable(&self) -> bool {
        !self.principals.is_empty() && !self.resources.is_empty() && !self.actions.is_empty()
    }

    fn attrs(&self, rng: &mut Rng, base: Option<&Value>) -> Value {
        let mut attr: Map<String, Value> = base.and_then(Value::as_object).cloned().unwrap_or_default();
        let keys: Vec<String> = attr.keys().cloned().collect();
        for k in keys {
            match rng.below(10) {
                0 => {
                    attr.remove(&k);
                }
                1 | 2 => {
                    let v = rng.pick(&self.values).cloned().unwrap_or(Value::Null);
                    attr.insert(k, v);
                }
                _ => {}
            }
        }
        if rng.chance(30) {
            if let (Some(k), Some(v)) = (rng.pick(&self.keys).cloned(), rng.pick(&self.values).cloned()) {
                attr.insert(k, v);
            }
        }
        Value::Object(attr)
    }

    fn principal(&self, rng: &mut Rng) -> Value {
        let base = rng.pick(&self.principals).cloned().unwrap_or_else(|| json!({}));
        let mut roles: Vec<Value> = base.get("roles").and_then(Value::as_array).cloned().unwrap_or_default();
        if roles.is_empty() || rng.chance(25) {
            if let Some(r) = rng.pick(&self.roles) {
                roles.push(json!(r));
            }
        }
        if roles.len() > 1 && rng.chance(20) {
            roles.remove(rng.below(roles.len()));
        }
        let mut p = Map::new();
        p.insert("id".into(), base.get("id").cloned().unwrap_or_else(|| json!("someone")));
        p.insert("roles".into(), Value::Array(roles));
        p.insert("attr".into(), self.attrs(rng, base.get("attr")));
        self.version_and_scope(rng, &base, &mut p);
        Value::Object(p)
    }

    fn resource(&self, rng: &mut Rng) -> Value {
        let base = rng.pick(&self.resources).cloned().unwrap_or_else(|| json!({}));
        let mut r = Map::new();
        let kind = if rng.chance(10) { rng.pick(&self.kinds).cloned() } else { None };
        r.insert("kind".into(), kind.map(Value::String).or_else(|| base.get("kind").cloned()).unwrap_or(json!("x")));
        r.insert("id".into(), base.get("id").cloned().unwrap_or_else(|| json!("r1")));
        r.insert("attr".into(), self.attrs(rng, base.get("attr")));
        self.version_and_scope(rng, &base, &mut r);
        Value::Object(r)
    }

    fn version_and_scope(&self, rng: &mut Rng, base: &Value, out: &mut Map<String, Value>) {
        let version = if rng.chance(20) { rng.pick(&self.versions).cloned() } else { None }
            .or_else(|| base.get("policyVersion").and_then(Value::as_str).map(str::to_string));
        if let Some(v) = version.filter(|v| !v.is_empty()) {
            out.insert("policyVersion".into(), json!(v));
        }
        let scope = if rng.chance(20) { rng.pick(&self.scopes).cloned() } else { None }
            .or_else(|| base.get("scope").and_then(Value::as_str).map(str::to_string));
        if let Some(s) = scope.filter(|s| !s.is_empty()) {
            out.insert("scope".into(), json!(s));
        }
    }

    /// One CheckResources request.
    pub fn request(&self, rng: &mut Rng, n: usize) -> Value {
        let resources: Vec<Value> = (0..1 + rng.below(3))
            .map(|i| {
                let mut actions: Vec<Value> = Vec::new();
                for _ in 0..1 + rng.below(4) {
                    if let Some(a) = rng.pick(&self.actions) {
                        if !actions.contains(&json!(a)) {
                            actions.push(json!(a));
                        }
                    }
                }
                let mut r = self.resource(rng);
                if let Some(id) = r.get_mut("id") {
                    *id = json!(format!("{}#{i}", id.as_str().unwrap_or("r")));
                }
                json!({ "actions": actions, "resource": r })
            })
            .collect();
        let mut request = json!({
            "requestId": format!("diff-{n}"),
            "principal": self.principal(rng),
            "resources": resources,
            "includeMeta": true,
        });
        if let (Some(aux), Some(m)) = (self.aux_data(rng), request.as_object_mut()) {
            m.insert("auxData".into(), aux);
        }
        request
    }

    /// Now and then, signed tokens as Cerbos's API takes them: one (`jwt`) or two named ones
    /// (`jwts`, under the names the store's policies read), with or without the key set's ID,
    /// sometimes naming an unknown key set or with a signature that no longer verifies.
    fn aux_data(&self, rng: &mut Rng) -> Option<Value> {
        if self.tokens.is_empty() || !rng.chance(25) {
            return None;
        }
        let token = |rng: &mut Rng| {
            let mut t = rng.pick(&self.tokens).cloned().unwrap_or_default();
            if rng.chance(10) {
                t.truncate(t.len().saturating_sub(4));
                t.push_str("AAAA");
            }
            match rng.below(10) {
                0..=3 => json!({ "token": t, "keySetId": DIFF_KEY_SET }),
                4 => json!({ "token": t, "keySetId": "unknown" }),
                _ => json!({ "token": t }),
            }
        };
        Some(if rng.chance(60) {
            json!({ "jwt": token(rng) })
        } else {
            json!({ "jwts": { "token_a": token(rng), "token_b": token(rng) } })
        })
    }
}

/// A response reduced to what both PDPs must agree on: no call IDs or bundle digests, and
/// no empty strings, lists or objects (Cerbos leaves them out; authz writes some).
pub fn normalize(status: u16, body: &Value) -> Value {
    fn strip(v: &Value) -> Option<Value> {
        match v {
            Value::String(s) if s.is_empty() => None,
            Value::Array(a) if a.is_empty() => None,
            Value::Object(m) if m.is_empty() => None,
            Value::Array(a) => Some(Value::Array(a.iter().filter_map(strip).collect())),
            Value::Object(m) => {
                let out: Map<String, Value> = m
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "cerbosCallId" | "bundleDigest" | "bundleLabel"))
                    .filter_map(|(k, x)| {
                        // Output values are compared as they are (null included).
                        if k == "val" {
                            return Some((k.clone(), x.clone()));
                        }
                        strip(x).map(|x| (k.clone(), x))
                    })
                    .collect();
                let mut out = out;
                // Cerbos collects derived roles in a Go map, and its schema validator visits a
                // schema's properties in Go map order (the same request gets its validation
                // errors in varying orders): neither order is part of the answer.
                for key in ["effectiveDerivedRoles", "validationErrors"] {
                    if let Some(Value::Array(items)) = out.get_mut(key) {
                        items.sort_by_key(Value::to_string);
                    }
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
            other => Some(other.clone()),
        }
    }
    if status == 200 {
        strip(body).unwrap_or(Value::Null)
    } else {
        // Request errors: both refuse (the wording is each PDP's own).
        json!({ "refused": status / 100 })
    }
}

/// Every `matchedPolicy` of a principal policy (`principal.id.vversion[/scope]`) cut to the
/// principal's id: `principal.id`.
fn principal_keys_by_id(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match x {
                    Value::String(s) if k == "matchedPolicy" && s.starts_with("principal.") => {
                        let key = s.split_once('/').map_or(s.as_str(), |(k, _)| k);
                        *s = key.rsplit_once(".v").map_or(key, |(b, _)| b).to_string();
                    }
                    _ => principal_keys_by_id(x),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(principal_keys_by_id),
        _ => {}
    }
}

/// What a mismatch is about: the first field (in this order) whose values differ.
pub fn classify(want: &Value, got: &Value) -> &'static str {
    if want.get("refused").is_some() || got.get("refused").is_some() {
        return "request refused by one side";
    }
    let results = |v: &Value| v.get("results").and_then(Value::as_array).cloned().unwrap_or_default();
    let (w, g) = (results(want), results(got));
    let fields: [(&str, &str); 6] = [
        ("actions", "effect"),
        ("validationErrors", "validation errors"),
        ("meta.actions", "matched policy or scope"),
        ("meta.effectiveDerivedRoles", "effective derived roles"),
        ("outputs", "outputs"),
        ("resource", "resource echo"),
    ];
    for (path, name) in fields {
        let get = |r: &Value| path.split('.').try_fold(r.clone(), |v, k| v.get(k).cloned());
        if w.iter().zip(&g).any(|(a, b)| get(a) != get(b)) || w.len() != g.len() {
            return name;
        }
    }
    "other"
}

/// The two PDPs under comparison, started in the same configuration.
pub struct Pdps {
    /// `cerbos server`.
    pub cerbos: Client,
    /// `authz serve`.
    pub authz: Client,
    /// Compare principal policies' keys by the principal's id only, without version and scope
    /// (strict evaluation: which key Cerbos reports there depends on Go map order, see
    /// `tests/divergences.md`).
    pub principal_key_by_id: bool,
}

impl Pdps {
    /// Sends `request` to both; their normalized answers when they differ.
    pub fn compare(&mut self, request: &Value) -> Result<Option<(Value, Value)>, String> {
        let text = request.to_string();
        let c = self.cerbos.post_json("/api/check/resources", &text)?;
        let a = self.authz.post_json("/api/check/resources", &text)?;
        let mut want = normalize(c.status, &c.json().unwrap_or(Value::Null));
        let mut got = normalize(a.status, &a.json().unwrap_or(Value::Null));
        if self.principal_key_by_id {
            principal_keys_by_id(&mut want);
            principal_keys_by_id(&mut got);
        }
        Ok((want != got).then_some((want, got)))
    }

    /// Removes parts of `request` while the PDPs still disagree: resources, actions, roles,
    /// attributes, versions and scopes (never the last resource, action or role).
    pub fn shrink(&mut self, request: &Value) -> Value {
        let mut best = request.clone();
        loop {
            let mut candidates: Vec<Value> = Vec::new();
            let resources = items(&best, "/resources");
            let mut removable = |at: String, keep_one: bool, only: Option<&[&str]>| {
                let all = items(&best, &at);
                if keep_one && all.len() < 2 {
                    return;
                }
                for item in all.iter().filter(|i| only.is_none_or(|o| o.contains(&i.as_str()))) {
                    candidates.extend(without(&best, &at, item));
                }
            };
            removable("/resources".into(), true, None);
            for r in &resources {
                removable(format!("/resources/{r}/actions"), true, None);
                removable(format!("/resources/{r}/resource/attr"), false, None);
                removable(format!("/resources/{r}/resource"), false, Some(&["policyVersion", "scope"]));
            }
            removable("/principal/attr".into(), false, None);
            removable("/principal/roles".into(), true, None);
            removable("/principal".into(), false, Some(&["policyVersion", "scope"]));
            match candidates.into_iter().find(|c| matches!(self.compare(c), Ok(Some(_)))) {
                Some(smaller) => best = smaller,
                None => return best,
            }
        }
    }
}

/// `v` without the element `item` (an array index or an object key) of the container at
/// JSON pointer `at`; `None` when there is no such element.
fn without(v: &Value, at: &str, item: &str) -> Option<Value> {
    let mut out = v.clone();
    match out.pointer_mut(at)? {
        Value::Array(a) => {
            let i: usize = item.parse().ok()?;
            (i < a.len()).then(|| a.remove(i))?;
        }
        Value::Object(m) => {
            m.remove(item)?;
        }
        _ => return None,
    }
    Some(out)
}

/// The items (indexes or keys) of the container at `at`.
fn items(v: &Value, at: &str) -> Vec<String> {
    match v.pointer(at) {
        Some(Value::Array(a)) => (0..a.len()).map(|i| i.to_string()).collect(),
        Some(Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The ID of the key set both PDPs verify tokens with (Cerbos's test key, `auxdata/keys`).
pub const DIFF_KEY_SET: &str = "ks1";

/// `auxData.jwt.keySets` with Cerbos's test verification key: as `--set` overrides for
/// `cerbos server`, and a Cerbos configuration file (written into `dir`) for `authz bake`.
pub fn key_set_config(dir: &Path) -> Result<(Vec<String>, PathBuf), String> {
    let key = crate::testdata_dir().join("auxdata/keys/verify_key.jwk");
    if !key.is_file() {
        return Err(format!("{} is missing", key.display()));
    }
    let sets = vec![
        format!("auxData.jwt.keySets[0].id={DIFF_KEY_SET}"),
        format!("auxData.jwt.keySets[0].local.file={}", key.display()),
    ];
    let config = dir.join("cerbos.yaml");
    let text = format!(
        "auxData:\n  jwt:\n    keySets:\n      - id: {DIFF_KEY_SET}\n        local:\n          file: {}\n",
        key.display()
    );
    std::fs::write(&config, text).map_err(|e| format!("{}: {e}", config.display()))?;
    Ok((sets, config))
}

/// `authz serve --config CONFIG` (a Cerbos server configuration) with `env` added to its
/// environment; the configuration must make it listen on 127.0.0.1 (port 0: any free port).
pub fn authz_with_config(config: &Path, env: &[(&str, String)]) -> Result<Server, String> {
    let mut command = Command::new(crate::http::authz_binary()?);
    command
        .args(["serve", "--exit-on-stdin-close", "--config"])
        .arg(config)
        .arg("--cache-dir")
        .arg(crate::runtime::wasm_dir().join("compiled-servers"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    Server::spawn(command, "listening on http://")
}

/// `authz serve` on a component baked from `dir` without running its suites (the store's
/// suites are Cerbos's; whether they pass is another test's question).
pub fn authz_on(
    dir: &Path,
    cerbos_config: Option<&Path>,
    extra: &[&str],
) -> Result<(Server, tempfile::TempDir), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out = tmp.path().join("store.wasm");
    let mut bake = Command::new(crate::http::authz_binary()?);
    bake.args(["bake", "--skip-tests", "--policies"]).arg(dir).arg("--out").arg(&out);
    if let Some(config) = cerbos_config {
        bake.arg("--cerbos-config").arg(config);
    }
    let bake = bake.output().map_err(|e| e.to_string())?;
    if !bake.status.success() {
        return Err(format!("authz bake {}: {}", dir.display(), String::from_utf8_lossy(&bake.stderr)));
    }
    let out = out.to_string_lossy().to_string();
    let mut args = vec!["--component", out.as_str()];
    args.extend_from_slice(extra);
    let server = Server::start(&args)?;
    Ok((server, tmp))
}
