//! `authz-wasmcloud-host`: runs a wasmCloud 2.x `WorkloadDeployment` on wasmCloud's runtime
//! library (crate `wash-runtime`), as one wasmCloud host does: the workload's components are
//! linked in process by their import and export names, and `wasi:http/incoming-handler` is
//! served on `--addr`. Images are not pulled (there is no registry here): each image reference
//! maps to a local file.
//!
//! ```text
//! authz-wasmcloud-host --manifest wasmcloud/workloaddeployment.yaml \
//!   --image ghcr.io/example/authz-gateway:0.1.0=spin-app/authz-gateway.wasm \
//!   --image ghcr.io/example/authz-pdp-example:0.1.0=pdp.wasm \
//!   [--env gateway:AUTHZ_NO_HOST_CLOCK=1]... [--addr 127.0.0.1:8000]
//! ```
//!
//! Prints `listening on http://ADDR` once the workload runs; stops on Ctrl-C, or, with
//! `--exit-on-stdin-close`, when its stdin closes (a supervising process went away), exiting at
//! most 15 s later. The components' stdout and stderr are this process's.

mod manifest;
#[path = "../../shared/runner.rs"]
mod runner;

use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wash_runtime::host::{HostApi, HostBuilder};

struct Args {
    manifest: PathBuf,
    images: HashMap<String, PathBuf>,
    env: HashMap<String, BTreeMap<String, String>>,
    addr: SocketAddr,
    exit_on_stdin_close: bool,
}

const USAGE: &str = "usage: authz-wasmcloud-host --manifest FILE --image REF=FILE... [--env COMPONENT:NAME=VALUE]... [--addr HOST:PORT] [--exit-on-stdin-close]";

fn args() -> Result<Args> {
    let mut manifest = None;
    let mut images = HashMap::new();
    let mut env: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    let mut addr: SocketAddr = "127.0.0.1:8000".parse()?;
    let mut exit_on_stdin_close = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--manifest" => manifest = Some(PathBuf::from(value()?)),
            "--image" => {
                let v = value()?;
                let (image, file) = runner::image_mapping(&v)?;
                images.insert(image.to_string(), PathBuf::from(file));
            }
            "--env" => {
                let v = value()?;
                let (component, name, val) = runner::owned_setting("--env", "COMPONENT:NAME=VALUE", &v)?;
                env.entry(component.to_string()).or_default().insert(name.to_string(), val.to_string());
            }
            "--addr" => {
                let v = value()?;
                addr = v.parse().with_context(|| format!("--addr {v}: expected HOST:PORT"))?;
            }
            "--exit-on-stdin-close" => exit_on_stdin_close = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    let manifest = manifest.with_context(|| format!("--manifest is required\n{USAGE}"))?;
    Ok(Args { manifest, images, env, addr, exit_on_stdin_close })
}

/// `addr`, with port 0 replaced by a port free now (wash-runtime's HTTP server does not report
/// the port it bound).
fn concrete(addr: SocketAddr) -> Result<SocketAddr> {
    if addr.port() != 0 {
        return Ok(addr);
    }
    Ok(std::net::TcpListener::bind(addr)?.local_addr()?)
}

async fn run(args: Args) -> Result<()> {
    let text =
        std::fs::read_to_string(&args.manifest).with_context(|| format!("reading {}", args.manifest.display()))?;
    let deployment = manifest::parse(&text).with_context(|| format!("{}", args.manifest.display()))?;
    let workload = manifest::workload(&deployment, &args.images, &args.env)?;
    let addr = concrete(args.addr)?;
    let engine = wash_runtime::engine::Engine::builder().build()?;
    let host = HostBuilder::new()
        .with_engine(engine)
        .with_plugin(Arc::new(wash_runtime::plugin::wasi_http::HttpServer::new(addr)))?
        .build()?
        .start()
        .await
        .context("starting the host")?;
    let started = host.workload_start(wash_runtime::types::WorkloadStartRequest { workload }).await.context(
        "starting the workload (are its components' imports all exported by another component or the host?)",
    )?;
    eprintln!(
        "authz-wasmcloud-host: workload {} ({}) {:?}: listening on http://{addr}",
        deployment.metadata.name, started.workload_status.workload_id, started.workload_status.workload_state
    );
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        () = runner::stdin_closed(), if args.exit_on_stdin_close => {}
    }
    runner::exit_if_still_running_after("authz-wasmcloud-host", Duration::from_secs(15));
    host.stop().await
}

fn main() {
    runner::main("authz-wasmcloud-host", args, run);
}
