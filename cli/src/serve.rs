//! `authz serve`: where the HTTP PDP's bundle comes from (a baked component, a policy
//! directory baked on load, or the example embedded in this binary) and its flags.

use crate::{run_suites, GENERIC_COMPONENT};
use anyhow::Context;
use authz::cerbos_config::ServerSettings;
use authz::suite::Outcome;
use authz_engine::{Bundle, Source};
use authz_server::{AuditLog, BundleSource, ServeConfig, SourceError};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

mod example {
    include!(concat!(env!("OUT_DIR"), "/example_policies.rs"));
}

/// `authz serve`'s flags.
#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// A baked component (`authz bake`) to serve.
    #[arg(long, conflicts_with = "policies")]
    component: Option<PathBuf>,
    /// A policy directory: compiled, tested and baked at start and on every reload, by a
    /// child process bounded by --reload-timeout-ms and --reload-memory-mb.
    #[arg(long)]
    policies: Option<PathBuf>,
    /// Longest building a --policies bundle (compile, suites, bake) may take, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 120_000)]
    reload_timeout_ms: u64,
    /// Most memory building a --policies bundle may use, in MB.
    #[arg(long, value_name = "MB", default_value_t = 1024)]
    reload_memory_mb: u64,
    /// Label for a bundle baked from --policies.
    #[arg(long)]
    label: Option<String>,
    /// With --policies: a Cerbos configuration file whose `auxData.jwt` key sets go into the
    /// bundle (read again on every reload; watched too).
    #[arg(long, value_name = "FILE", requires = "policies", conflicts_with = "config")]
    cerbos_config: Option<PathBuf>,
    /// A Cerbos server configuration (`cerbos server --config`), `${VAR}` and `${VAR:default}`
    /// expanded: its listen address, request limits, disk storage (the policy directory and
    /// whether to watch it), schema enforcement, default policy version, lenient scope search,
    /// globals, JWT key sets and file audit log. Flags given as well win; keys authz does not
    /// use are listed at start, and one it cannot honour (another storage driver, TLS, another
    /// audit backend) stops it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A Cerbos configuration key set as `cerbos server --set` sets it, over --config's file
    /// (or alone): `--set engine.lenientScopeSearch=true`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Address to listen on (port 0: any free port; the address is printed on stderr).
    /// Default 127.0.0.1:3592.
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// Also serve Cerbos's gRPC API (`cerbos.svc.v1.CerbosService`: CheckResources and
    /// ServerInfo; gRPC health checking) on this address, as `cerbos server` does on its
    /// `grpcListenAddr` (port 0: any free port, printed on stderr). Needs a build with the
    /// `grpc` feature.
    #[arg(long, value_name = "ADDR")]
    grpc_addr: Option<SocketAddr>,
    /// Globals (`G`) as a JSON object, for every request.
    #[arg(long)]
    globals: Option<String>,
    /// Policy version for requests that name none (default `default`).
    #[arg(long, value_name = "VERSION")]
    default_policy_version: Option<String>,
    /// Search up a request's scope to the nearest that has a policy, instead of failing to match.
    #[arg(long)]
    lenient_scope_search: bool,
    /// A rule whose condition fails to evaluate denies, instead of not matching.
    #[arg(long)]
    strict_evaluation: bool,
    /// Check attributes against the policies' schemas: `none` (default), `warn` (reported in
    /// `validationErrors`) or `reject` (reported, and every action denied).
    #[arg(long, value_name = "MODE", value_parser = ["none", "warn", "reject"])]
    schema_enforcement: Option<String>,
    /// Let requests carry `authzOptions` (their own `now`, globals, default policy version and
    /// scope, lenient scopes, schema enforcement, strict evaluation). Off by default: a request
    /// with them is refused (400), so no caller can override the operator.
    #[arg(long)]
    allow_request_options: bool,
    /// Decision audit log, one JSON line per decision: `stdout` or a file path.
    #[arg(long)]
    audit_log: Option<String>,
    /// Fail a decision (HTTP 503) whose record cannot be written to the audit log, instead of
    /// answering it unrecorded (write failures are counted in /metrics either way). Needs an
    /// audit log: --audit-log, or the configuration's `audit`.
    #[arg(long)]
    audit_required: bool,
    /// Enables `POST /admin/reload` and `PUT /admin/bundle` with this bearer token
    /// (default: the AUTHZ_ADMIN_TOKEN environment variable).
    #[arg(long, env = "AUTHZ_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Poll the component file or policy directory every this many milliseconds; reload on change.
    #[arg(long, value_name = "MS")]
    watch: Option<u64>,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 4 << 20)]
    max_body_bytes: usize,
    /// Longest a client may take to send a request's headers, and longest a keep-alive
    /// connection may stay idle, in milliseconds; then it is closed.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    header_timeout_ms: u64,
    /// Longest a client may take to send a request's body, in milliseconds (then a 408).
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    body_timeout_ms: u64,
    /// Connections open at once; one more is closed as soon as it is accepted.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Resources per request (and evaluations per AuthZEN batch); default 50.
    #[arg(long)]
    max_resources: Option<usize>,
    /// Actions per resource; default 50.
    #[arg(long)]
    max_actions: Option<usize>,
    /// Longest a decision may run, in milliseconds, before it fails (HTTP 422); 0: no limit.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    timeout_ms: u64,
    /// Wasm instructions (fuel) per decision: a budget that does not depend on the machine,
    /// at the cost of metering every call (about 20% slower). Off by default.
    #[arg(long)]
    fuel: Option<u64>,
    /// Accept only components signed by this Ed25519 public key (a `.pub` file from
    /// `authz keygen`); repeat for several. Unsigned or otherwise signed components, at start,
    /// on reload and through `PUT /admin/bundle`, are refused. Needs --component.
    #[arg(long, value_name = "PUBLIC_KEY", requires = "component")]
    trusted_key: Vec<PathBuf>,
    /// Cache compiled components here (skips Cranelift on restart).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Do not supply the server's clock as `now` to requests that carry none (time
    /// conditions in them then fail and deny): for reproducible answers.
    #[arg(long)]
    no_host_clock: bool,
    /// Exit when standard input reaches its end: a supervisor (or a test harness) that holds
    /// the pipe stops the server by exiting, however it exits.
    #[arg(long)]
    exit_on_stdin_close: bool,
    /// Operational log lines on stderr: `text`, or `json` (one object per line). Decisions go
    /// to the audit log, not here.
    #[arg(long, env = "AUTHZ_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// The most detailed log level written: `error`, `warn`, `info`, `debug` or `trace`.
    #[arg(long, env = "AUTHZ_LOG", default_value = "info")]
    log_level: tracing::Level,
}

/// Writes the server's `tracing` events to stderr as text or JSON lines, from `level` up. A
/// closed stderr loses the lines but never stops the server.
fn init_logs(format: &str, level: tracing::Level) {
    // Internal errors off: tracing-subscriber reports a failed write with `eprintln!`, which panics
    // when stderr is a closed pipe.
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_max_level(level)
        .log_internal_errors(false);
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
}

struct ComponentFile(PathBuf);

impl BundleSource for ComponentFile {
    fn describe(&self) -> String {
        format!("component {}", self.0.display())
    }

    fn load(&self) -> Result<Vec<u8>, SourceError> {
        std::fs::read(&self.0).map_err(|e| SourceError::caused(format!("reading `{}`", self.0.display()), e))
    }

    fn watch_paths(&self) -> Vec<PathBuf> {
        vec![self.0.clone()]
    }
}

/// How far a reload of `--policies` may go: it runs in a child process (`authz bake`) with a
/// time and a memory limit, so a bad push (a suite that allocates without end, a build that
/// never finishes) is a rejected reload, never a server that runs out of memory.
#[derive(Clone, Copy)]
struct ReloadLimits {
    time: Duration,
    memory_mb: u64,
}

/// A policy directory compiled, tested and baked by a bounded child process on every load.
struct PolicyDir {
    dir: PathBuf,
    label: Option<String>,
    cerbos_config: Option<PathBuf>,
    limits: ReloadLimits,
}

impl BundleSource for PolicyDir {
    fn describe(&self) -> String {
        format!("policies {}", self.dir.display())
    }

    fn load(&self) -> Result<Vec<u8>, SourceError> {
        let exe = std::env::current_exe().map_err(|e| SourceError::caused("finding the authz binary", e))?;
        let out = tempfile::Builder::new()
            .prefix("authz-reload-")
            .suffix(".wasm")
            .tempfile()
            .map_err(|e| SourceError::caused("creating a temporary file", e))?;
        let mut cmd = std::process::Command::new("/bin/sh");
        // `ulimit -d` bounds the memory the process can write to (heap and anonymous maps), not
        // the address space wasmtime reserves; `exec` keeps the child's PID for the kill below.
        cmd.arg("-c")
            .arg("ulimit -d \"$1\" && shift && exec \"$@\"")
            .arg("sh")
            .arg(self.limits.memory_mb.saturating_mul(1024).to_string())
            .arg(exe)
            .arg("bake")
            .arg("--policies")
            .arg(&self.dir)
            .arg("--out")
            .arg(out.path());
        if let Some(label) = &self.label {
            cmd.arg("--label").arg(label);
        }
        if let Some(config) = &self.cerbos_config {
            cmd.arg("--cerbos-config").arg(config);
        }
        let output = run_bounded(cmd, self.limits.time)?;
        if !output.status.success() {
            let text =
                format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = lines.get(lines.len().saturating_sub(20)..).unwrap_or_default().join("\n");
            let why = match output.status.code() {
                Some(_) => "the bundle was not built".to_string(),
                None => format!(
                    "the build process died ({}; its memory limit is {} MB)",
                    output.status, self.limits.memory_mb
                ),
            };
            return Err(SourceError::new(format!("{why}:\n{tail}")));
        }
        std::fs::read(out.path()).map_err(|e| SourceError::caused("reading the baked component", e))
    }

    fn watch_paths(&self) -> Vec<PathBuf> {
        std::iter::once(self.dir.clone()).chain(self.cerbos_config.clone()).collect()
    }
}

/// Runs `cmd` to completion, killing it after `limit`; its output is collected as it comes.
fn run_bounded(mut cmd: std::process::Command, limit: Duration) -> Result<std::process::Output, SourceError> {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| SourceError::caused("starting the build process", e))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SourceError::new(format!(
                    "the build took longer than its limit of {} s and was stopped",
                    limit.as_secs_f64()
                )));
            }
            Err(e) => return Err(SourceError::caused("waiting for the build process", e)),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok(std::process::Output { status, stdout, stderr })
}

/// Policies compiled, tested and baked into the generic component on every load, in this
/// process: the example embedded in the binary.
struct Policies {
    sources: Box<dyn Fn() -> Result<Vec<Source>, String> + Send + Sync>,
    label: Option<String>,
    name: String,
    watch: Vec<PathBuf>,
}

impl BundleSource for Policies {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn load(&self) -> Result<Vec<u8>, SourceError> {
        let sources = (self.sources)().map_err(SourceError::new)?;
        let bundle = Bundle::build(sources.clone(), self.label.clone())
            .map_err(|errors| SourceError::caused("the policies do not build", errors))?;
        let failed: Vec<String> = run_suites(&sources, &bundle)
            .into_iter()
            .filter(|r| !matches!(r.result, Outcome::Passed | Outcome::Skipped))
            .map(|r| format!("{} ({}): {:?} {}", r.file, r.name, r.result, r.error.unwrap_or_default()))
            .collect();
        if !failed.is_empty() {
            let failed = failed.join("; ");
            return Err(SourceError::new(format!("test suites failed (run `authz compile` for details): {failed}")));
        }
        authz_wasmtime::bake::bake(GENERIC_COMPONENT, &bundle.to_bytes())
            .map_err(|e| SourceError::caused("baking the component", e))
    }

    fn watch_paths(&self) -> Vec<PathBuf> {
        self.watch.clone()
    }
}

pub(crate) fn serve(a: ServeArgs) -> anyhow::Result<()> {
    // A configuration that cannot be served as written stops the server before it starts.
    let settings = if a.config.is_some() || !a.set.is_empty() {
        authz::cerbos_config::read(a.config.as_deref(), &a.set)?
    } else {
        ServerSettings::default()
    };
    // Flags win over the configuration; the configuration's directory is the source unless a
    // flag names one.
    let policies = match (&a.component, a.policies) {
        (None, None) => settings.policies.clone(),
        (_, policies) => policies,
    };
    let cerbos_config =
        a.cerbos_config.or_else(|| a.config.clone().filter(|_| settings.aux_data && policies.is_some()));
    let cerbos_config_unused = a.component.is_some() || policies.is_none();
    let source: Box<dyn BundleSource> = match (a.component, policies) {
        (Some(path), _) => Box::new(ComponentFile(path)),
        (None, Some(dir)) => Box::new(PolicyDir {
            dir,
            label: a.label,
            cerbos_config,
            limits: ReloadLimits {
                time: Duration::from_millis(a.reload_timeout_ms.max(1)),
                memory_mb: a.reload_memory_mb.max(1),
            },
        }),
        (None, None) => Box::new(Policies {
            name: "the example bundle embedded in authz".into(),
            watch: Vec::new(),
            sources: Box::new(|| Ok(example::EXAMPLE_POLICIES.iter().map(|(p, t)| Source::new(*p, *t)).collect())),
            label: Some(a.label.unwrap_or_else(|| format!("example (authz {})", env!("CARGO_PKG_VERSION")))),
        }),
    };
    let globals = match (a.globals.as_deref(), settings.globals) {
        (None, Some(g)) => g,
        (flag, _) => crate::globals_arg(flag)?,
    };
    let audit = match a.audit_log.or(settings.audit_log).as_deref() {
        None => None,
        Some("stdout" | "-") => Some(AuditLog::stdout()),
        Some("stderr") => Some(AuditLog::file("/dev/stderr".as_ref()).context("opening the audit log on stderr")?),
        Some(path) => Some(AuditLog::file(path.as_ref()).with_context(|| format!("opening audit log `{path}`"))?),
    };
    if a.audit_required && audit.is_none() {
        anyhow::bail!("--audit-required needs an audit log: --audit-log, or `audit` in the --config file");
    }
    let trusted_keys = a
        .trusted_key
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            authz_wasmtime::seal::TrustedKey::parse(&text).with_context(|| format!("public key {}", path.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let pdp = authz_wasmtime::Config {
        trusted_keys,
        timeout: (a.timeout_ms > 0).then(|| std::time::Duration::from_millis(a.timeout_ms)),
        fuel: a.fuel,
        cache_dir: a.cache_dir,
        supply_now: !a.no_host_clock,
        ..Default::default()
    };
    let schema_enforcement = match a.schema_enforcement {
        Some(mode) => mode.parse().map_err(anyhow::Error::msg)?,
        None => settings.schema_enforcement.unwrap_or_default(),
    };
    let options = authz_api::CheckOptions {
        default_policy_version: a
            .default_policy_version
            .or(settings.default_policy_version)
            .unwrap_or_else(|| authz_api::DEFAULT_POLICY_VERSION.into()),
        lenient_scopes: a.lenient_scope_search || settings.lenient_scope_search.unwrap_or(false),
        strict_evaluation: a.strict_evaluation || settings.strict_evaluation.unwrap_or(false),
        schema_enforcement,
        ..authz_api::CheckOptions::default()
    };
    // `storage.disk.watchForChanges`: Cerbos reacts to file events; authz polls each second.
    let watch = a.watch.or((settings.watch_for_changes && settings.policies.is_some()).then_some(1000));
    let config = ServeConfig {
        addr: a.addr.or(settings.http_listen_addr).unwrap_or(SocketAddr::from(([127, 0, 0, 1], 3592))),
        grpc_addr: a.grpc_addr.or(settings.grpc_listen_addr),
        pdp,
        globals,
        options,
        request_options: a.allow_request_options,
        max_body_bytes: a.max_body_bytes,
        header_timeout: Duration::from_millis(a.header_timeout_ms.max(1)),
        body_timeout: Duration::from_millis(a.body_timeout_ms.max(1)),
        max_connections: a.max_connections.max(1),
        max_resources: a.max_resources.or(settings.max_resources).unwrap_or(50),
        max_actions: a.max_actions.or(settings.max_actions).unwrap_or(50),
        admin_token: a.admin_token.filter(|t| !t.is_empty()),
        watch: watch.map(Duration::from_millis),
        audit,
        audit_required: a.audit_required,
    };
    init_logs(&a.log_format, a.log_level);
    if a.config.is_some() || !a.set.is_empty() {
        let shown = a.config.as_ref().map_or_else(|| "--set".to_string(), |p| p.display().to_string());
        for key in &settings.ignored {
            tracing::warn!(config = %shown, "{shown}: ignored: {key}");
        }
    }
    if let Some(path) = &a.config {
        if settings.aux_data && cerbos_config_unused {
            tracing::warn!(config = %path.display(), "{}: auxData: ignored: JWT key sets are baked into a bundle built from policies (--policies or storage.disk.directory)", path.display());
        }
    }
    // Watched from here: every mistake in the flags and the configuration is reported first.
    if a.exit_on_stdin_close {
        std::thread::spawn(|| {
            use std::io::Write;
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            // Whoever held the pipe may have held stderr too: a failed write must not stop the exit.
            let _ = writeln!(std::io::stderr(), "authz serve: standard input closed: exiting");
            std::process::exit(0);
        });
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(authz_server::serve(config, source))?;
    Ok(())
}
