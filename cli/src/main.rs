//! `authz`: build and test Cerbos policy bundles, and answer CheckResources requests.

use anyhow::Context;
use authz::suite::{is_suite_path, run_suite, Outcome};
use authz_api::cerbos::Limits;
use authz_api::http::{Endpoint, Handler};
use authz_engine::{Bundle, CheckOptions, SchemaEnforcement, Source};
use clap::{Parser, Subcommand};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod serve;

#[derive(Parser)]
#[command(name = "authz", version, about = "One policy decision point, every runtime (Cerbos policies + CEL)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the bundle in DIR (report every error), then run its *_test.yaml suites.
    Compile {
        /// Policy directory.
        dir: PathBuf,
        /// Skip the test suites.
        #[arg(long)]
        skip_tests: bool,
        /// A Cerbos configuration file whose `auxData.jwt` key sets (and their key files) go
        /// into the bundle, so requests can carry signed tokens (`auxData.jwt.token`).
        #[arg(long, value_name = "FILE")]
        cerbos_config: Option<PathBuf>,
    },
    /// Build and test the bundle in DIR like `compile`, then write a component with it baked in.
    Bake {
        /// Policy directory.
        #[arg(long)]
        policies: PathBuf,
        /// Where to write the baked component.
        #[arg(long)]
        out: PathBuf,
        /// Label recorded in the bundle (for example a git revision).
        #[arg(long)]
        label: Option<String>,
        /// Skip the test suites.
        #[arg(long)]
        skip_tests: bool,
        /// Generic component to bake into (default: the one built into this binary).
        #[arg(long)]
        component: Option<PathBuf>,
        /// Sign the component's seal with this Ed25519 key (a file `authz keygen` wrote); hosts
        /// given the public key (`serve --trusted-key`) then accept it and refuse others.
        #[arg(long, value_name = "KEY")]
        sign: Option<PathBuf>,
        /// A Cerbos configuration file whose `auxData.jwt` key sets (and their key files) go
        /// into the bundle, so requests can carry signed tokens (`auxData.jwt.token`).
        #[arg(long, value_name = "FILE")]
        cerbos_config: Option<PathBuf>,
        /// Write one `wasi:http` component instead: the HTTP gateway (authz's HTTP API, built
        /// into this binary) composed with the baked PDP, for `wasmtime serve`, Spin and SpinKube.
        #[arg(long)]
        http: bool,
    },
    /// Write a new Ed25519 signing key to OUT and its public key to OUT.pub (for `bake --sign`
    /// and `serve --trusted-key`).
    Keygen {
        /// Where to write the private key (created; never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Read a Cerbos CheckResources request (or, with --endpoint, an AuthZEN one) on stdin,
    /// write the response on stdout; a refused request's error body goes to stderr (exit 2).
    Check(CheckArgs),
    /// Read a Cerbos PlanResources request on stdin ("which resources of this kind may the
    /// principal act on?"), write the response on stdout: a filter over the resource attributes
    /// the request does not give; a refused request's error body goes to stderr (exit 2).
    Plan(PdpArgs),
    /// Serve an HTTP PDP (Cerbos CheckResources + AuthZEN) deciding with a baked component;
    /// with no source, the example bundle built into this binary.
    Serve(Box<serve::ServeArgs>),
}

/// The generic component, committed beside its sources (`scripts/build-component.sh` rebuilds it;
/// CI requires the same bytes): every authz binary can bake, however it was built.
const GENERIC_COMPONENT: &[u8] = include_bytes!("../../component/authz-pdp-generic.wasm");

fn load(
    dir: &Path,
    label: Option<String>,
    cerbos_config: Option<&Path>,
) -> anyhow::Result<(Vec<Source>, Result<Bundle, authz_engine::BuildErrors>)> {
    let mut sources =
        authz::store::load_dir(dir).with_context(|| format!("reading policies from {}", dir.display()))?;
    if let Some(config) = cerbos_config {
        sources.push(authz::store::cerbos_aux_config(config)?);
    }
    let bundle = Bundle::build(sources.clone(), label);
    Ok((sources, bundle))
}

/// Builds the bundle and runs its suites, reporting on stdout/stderr; `None` if anything failed.
fn compile(
    dir: &Path,
    skip_tests: bool,
    label: Option<String>,
    cerbos_config: Option<&Path>,
) -> anyhow::Result<Option<Bundle>> {
    let (sources, bundle) = load(dir, label, cerbos_config)?;
    let bundle = match bundle {
        Ok(b) => b,
        Err(errors) => {
            for e in errors.errors() {
                eprintln!("{e}");
            }
            eprintln!("{} error(s): the bundle was not built", errors.errors().len());
            return Ok(None);
        }
    };
    println!(
        "bundle ok: {} policies, {} time zones, digest {}",
        bundle.policy_count(),
        bundle.time_zone_count(),
        bundle.digest()
    );
    if skip_tests {
        return Ok(Some(bundle));
    }
    let mut ok = true;
    let reports = run_suites(&sources, &bundle);
    let suites = reports.len();
    for r in reports {
        let count = |o: Outcome| r.actions.iter().filter(|a| a.result == o).count();
        println!(
            "{} ({}): {:?}: {} passed, {} failed, {} skipped",
            r.file,
            r.name,
            r.result,
            count(Outcome::Passed),
            count(Outcome::Failed) + count(Outcome::Errored),
            count(Outcome::Skipped)
        );
        if let Some(e) = &r.error {
            println!("  error: {e}");
        }
        for a in r.actions.iter().filter(|a| matches!(a.result, Outcome::Failed | Outcome::Errored)) {
            println!(
                "  FAIL {} / {} / {} / {}: {}",
                a.test,
                a.principal,
                a.resource,
                a.action,
                a.message.clone().unwrap_or_default()
            );
        }
        ok &= matches!(r.result, Outcome::Passed | Outcome::Skipped);
    }
    println!("{suites} test suite(s): {}", if ok { "all passed" } else { "FAILURES" });
    Ok(ok.then_some(bundle))
}

/// Runs every test suite among `sources` (with its `testdata/` fixtures) against `bundle`.
fn run_suites(sources: &[Source], bundle: &Bundle) -> Vec<authz::suite::SuiteResult> {
    sources
        .iter()
        .filter(|s| is_suite_path(s.path()))
        .map(|s| {
            let folder =
                s.path().rsplit_once('/').map(|(d, _)| format!("{d}/testdata/")).unwrap_or_else(|| "testdata/".into());
            let testdata: BTreeMap<String, String> = sources
                .iter()
                .filter_map(|f| f.path().strip_prefix(folder.as_str()).map(|n| (n.to_string(), f.text().to_string())))
                .collect();
            run_suite(bundle, s.path(), s.text(), &testdata)
        })
        .collect()
}

struct BakeArgs {
    policies: PathBuf,
    out: PathBuf,
    label: Option<String>,
    skip_tests: bool,
    component: Option<PathBuf>,
    sign: Option<PathBuf>,
    cerbos_config: Option<PathBuf>,
    http: bool,
}

/// Reads a signing key file.
fn signing_key(path: &Path) -> anyhow::Result<authz_wasmtime::seal::SigningKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading signing key {}", path.display()))?;
    authz_wasmtime::seal::SigningKey::parse(&text).with_context(|| format!("signing key {}", path.display()))
}

fn keygen(out: &Path) -> anyhow::Result<ExitCode> {
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut seed))
        .context("reading 32 random bytes from /dev/urandom")?;
    let key = authz_wasmtime::seal::SigningKey::from_seed(seed);
    let public = out.with_extension("pub");
    let create = |path: &Path, text: &str, private: bool| -> anyhow::Result<()> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let _ = private;
        let mut f = options.open(path).with_context(|| format!("creating {}", path.display()))?;
        f.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))
    };
    create(out, &key.to_text(), true)?;
    create(&public, &key.public().to_text(), false)?;
    println!("key {}: private {}, public {}", key.public().id(), out.display(), public.display());
    Ok(ExitCode::SUCCESS)
}

fn bake(a: BakeArgs) -> anyhow::Result<ExitCode> {
    let generic = match &a.component {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => GENERIC_COMPONENT.to_vec(),
    };
    let key = a.sign.as_deref().map(signing_key).transpose()?;
    let Some(bundle) = compile(&a.policies, a.skip_tests, a.label, a.cerbos_config.as_deref())? else {
        eprintln!("nothing baked: fix the errors above");
        return Ok(ExitCode::FAILURE);
    };
    let mut baked = authz_wasmtime::bake::bake_signed(&generic, &bundle.to_bytes(), key.as_ref())?;
    if a.http {
        baked = authz::compose::http_app(authz::compose::GATEWAY, &baked)?;
    }
    std::fs::write(&a.out, &baked).with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "baked {}{} ({} bytes, bundle {}, label {}, {})",
        a.out.display(),
        if a.http { " (wasi:http: gateway + PDP)" } else { "" },
        baked.len(),
        bundle.digest(),
        bundle.label().unwrap_or("-"),
        key.map(|k| format!("signed by key {}", k.public().id())).unwrap_or_else(|| "unsigned".into())
    );
    Ok(ExitCode::SUCCESS)
}

/// `--globals`: a JSON object, read as strictly as requests are (no key twice).
fn globals_arg(text: Option<&str>) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let Some(text) = text else { return Ok(serde_json::Map::new()) };
    match authz_api::json::value(text).context("--globals")? {
        serde_json::Value::Object(m) => Ok(m),
        _ => anyhow::bail!("--globals must be a JSON object"),
    }
}

/// `authz check`.
#[derive(clap::Args)]
struct CheckArgs {
    #[command(flatten)]
    pdp: PdpArgs,
    /// The API the request on stdin is for, answered as `authz serve` answers it:
    /// `/api/check/resources` (Cerbos CheckResources), `/api/plan/resources` (PlanResources, as
    /// `authz plan`), `/access/v1/evaluation`, `/access/v1/evaluations` or
    /// `/access/v1/search/action` (AuthZEN 1.0).
    #[arg(long, value_name = "PATH", default_value = "/api/check/resources")]
    endpoint: String,
}

/// The policies and evaluation options of `check` and `plan`.
#[derive(clap::Args)]
struct PdpArgs {
    /// Policy directory.
    #[arg(long)]
    policies: PathBuf,
    /// Globals as a JSON object.
    #[arg(long)]
    globals: Option<String>,
    /// Version used when a request names none.
    #[arg(long, default_value = "default")]
    default_policy_version: String,
    /// Search up from scopes that have no policy.
    #[arg(long)]
    lenient_scopes: bool,
    /// Schema enforcement: `none`, `warn` or `reject`.
    #[arg(long, default_value = "none")]
    schema_enforcement: SchemaEnforcement,
    /// The time conditions see as `now()` (default: the current time).
    #[arg(long)]
    now: Option<String>,
}

impl PdpArgs {
    /// The bundle (`None` after printing its build errors) and the options.
    fn load(self) -> anyhow::Result<Option<(Bundle, CheckOptions)>> {
        let (_, bundle) = load(&self.policies, None, None)?;
        let bundle = match bundle {
            Ok(b) => b,
            Err(errors) => {
                eprintln!("{errors}");
                return Ok(None);
            }
        };
        let globals = globals_arg(self.globals.as_deref())?;
        let now = match &self.now {
            Some(n) => {
                chrono::DateTime::parse_from_rfc3339(n).with_context(|| format!("--now `{n}` is not RFC 3339"))?
            }
            None => chrono::Utc::now().fixed_offset(),
        };
        let opts = CheckOptions {
            globals,
            default_policy_version: self.default_policy_version,
            lenient_scopes: self.lenient_scopes,
            schema_enforcement: self.schema_enforcement,
            now: Some(now),
            ..CheckOptions::default()
        };
        Ok(Some((bundle, opts)))
    }
}

fn check(a: CheckArgs) -> anyhow::Result<ExitCode> {
    let Some((bundle, opts)) = a.pdp.load()? else { return Ok(ExitCode::FAILURE) };
    if Endpoint::at(&a.endpoint).is_none_or(|e| e.method() != "POST") {
        anyhow::bail!(
            "--endpoint `{}`: one of /api/check/resources, /api/plan/resources, /access/v1/evaluation, \
             /access/v1/evaluations, /access/v1/search/action",
            a.endpoint
        );
    }
    answer(&bundle, opts, &a.endpoint)
}

/// `authz plan`: a Cerbos PlanResources request on stdin, its response on stdout; a refused
/// request's error (with its JSON path) on stderr, exit 2.
fn plan(a: PdpArgs) -> anyhow::Result<ExitCode> {
    let Some((bundle, opts)) = a.load()? else { return Ok(ExitCode::FAILURE) };
    answer(&bundle, opts, "/api/plan/resources")
}

/// The request on stdin answered as `authz serve` answers it at `path`: the response on stdout,
/// or the error body on stderr (exit 2).
fn answer(bundle: &Bundle, opts: CheckOptions, path: &str) -> anyhow::Result<ExitCode> {
    let mut body = Vec::new();
    std::io::stdin().read_to_end(&mut body).context("reading the request from stdin")?;
    // Requests may set their own options (`authzOptions`): the caller is the operator here.
    let handler = Handler::new(Limits::default(), true).with_defaults(opts);
    // What stdin holds is the request's JSON, as an HTTP client would declare it.
    let request = authz_api::http::Request {
        method: "POST",
        path,
        host: None,
        content_type: Some("application/json"),
        request_id: None,
        body: &body,
    };
    let (_, answer) = handler.handle(bundle, request);
    if answer.status != 200 {
        // The error body `authz serve` answers: `{code, message, path}` (AuthZEN's: the message).
        eprintln!("{}", answer.body);
        return Ok(ExitCode::from(2));
    }
    println!("{}", serde_json::to_string_pretty(&answer.body)?);
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compile { dir, skip_tests, cerbos_config } => {
            compile(&dir, skip_tests, None, cerbos_config.as_deref()).map(|b| {
                if b.is_some() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            })
        }
        Command::Bake { policies, out, label, skip_tests, component, sign, cerbos_config, http } => {
            bake(BakeArgs { policies, out, label, skip_tests, component, sign, cerbos_config, http })
        }
        Command::Keygen { out } => keygen(&out),
        Command::Check(args) => check(args),
        Command::Plan(args) => plan(args),
        Command::Serve(args) => serve::serve(*args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
