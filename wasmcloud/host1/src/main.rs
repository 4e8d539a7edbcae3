//! `authz-wasmcloud1-host`: runs a wasmCloud 1.x wadm application on a real wasmCloud 1.x host
//! (crate `wasmcloud-host`, the library the `wasmcloud` 1.9 binary is built on) with NATS, and
//! does what wadm would do with the manifest: put its named configuration, start its
//! components and capability providers through the host's control interface, and put its
//! links. Components linked this way call each other over wRPC on NATS, as across a lattice.
//! Images are not pulled (there is no registry here): each image reference maps to a local
//! file, or to one of the host's built-in providers (`wasmcloud+builtin://http-server`, the
//! same HTTP server provider built into the host).
//!
//! ```text
//! authz-wasmcloud1-host --manifest wasmcloud/wadm.yaml \
//!   --image ghcr.io/example/authz-gateway-wasmcloud1:0.1.0=wasmcloud/authz-gateway-wasmcloud1.wasm \
//!   --image ghcr.io/example/authz-pdp-example:0.1.0=pdp.wasm \
//!   --image ghcr.io/wasmcloud/http-server:0.27.0=wasmcloud+builtin://http-server \
//!   [--config NAME:KEY=VALUE]... [--nats nats://HOST:PORT | --nats-server BIN]
//! ```
//!
//! `--config` sets a property of a named configuration of the manifest (an `address` of
//! `HOST:0` becomes a free port). `--nats-server` starts that NATS server (with JetStream, on
//! loopback) for the host and stops it when the host exits, however it exits. Prints
//! `listening on http://ADDR` for each HTTP address once the application runs; stops on Ctrl-C
//! or SIGTERM, or, with `--exit-on-stdin-close`, when its stdin closes (and exits at most 15 s
//! later).

mod manifest;
#[path = "../../shared/runner.rs"]
mod runner;

use anyhow::{anyhow, bail, Context, Result};
use manifest::{Application, Kind, NamedConfig};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmcloud_control_interface::{Client, ClientBuilder, Link};
use wasmcloud_host::wasmbus::{Features, Host, HostConfig};

const USAGE: &str = "usage: authz-wasmcloud1-host --manifest FILE --image REF=FILE|wasmcloud+builtin://NAME... [--config NAME:KEY=VALUE]... [--nats URL | --nats-server BIN] [--exit-on-stdin-close]";

/// How long the application may take to start.
const START: Duration = Duration::from_secs(120);

struct Args {
    manifest: PathBuf,
    images: HashMap<String, String>,
    config: BTreeMap<String, BTreeMap<String, String>>,
    nats: Nats,
    exit_on_stdin_close: bool,
}

enum Nats {
    Url(String),
    Server(PathBuf),
}

fn args() -> Result<Args> {
    let mut manifest = None;
    let mut images = HashMap::new();
    let mut config: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut nats = Nats::Url("nats://127.0.0.1:4222".into());
    let mut exit_on_stdin_close = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--manifest" => manifest = Some(PathBuf::from(value()?)),
            "--image" => {
                let v = value()?;
                let (image, to) = runner::image_mapping(&v)?;
                let to = if to.starts_with("wasmcloud+builtin://") {
                    to.to_string()
                } else {
                    let file = std::fs::canonicalize(to).with_context(|| format!("--image {v}"))?;
                    format!("file://{}", file.display())
                };
                images.insert(image.to_string(), to);
            }
            "--config" => {
                let v = value()?;
                let (name, key, val) = runner::owned_setting("--config", "NAME:KEY=VALUE", &v)?;
                config.entry(name.to_string()).or_default().insert(key.to_string(), val.to_string());
            }
            "--nats" => nats = Nats::Url(value()?),
            "--nats-server" => nats = Nats::Server(PathBuf::from(value()?)),
            "--exit-on-stdin-close" => exit_on_stdin_close = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    let manifest = manifest.with_context(|| format!("--manifest is required\n{USAGE}"))?;
    Ok(Args { manifest, images, config, nats, exit_on_stdin_close })
}

/// A free loopback port now.
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The NATS server this process started, under `sh`, which stops it and removes its store when
/// the pipe to its stdin closes: when this is dropped, or when this process ends in any other
/// way (an exit, a kill).
struct NatsServer {
    child: std::process::Child,
    _store: tempdir::Dir,
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// A scratch directory removed when dropped (JetStream's store).
mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> std::io::Result<Dir> {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            let path = std::env::temp_dir().join(format!("authz-nats-{}-{}", std::process::id(), nanos.as_nanos()));
            std::fs::create_dir_all(&path)?;
            Ok(Dir(path))
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Starts `bin` with JetStream on a free loopback port; its URL once it accepts connections.
async fn start_nats(bin: &std::path::Path) -> Result<(NatsServer, String)> {
    let port = free_port()?;
    let store = tempdir::Dir::new()?;
    let child = std::process::Command::new("sh")
        .args([
            "-c",
            r#""$@" </dev/null & p=$!; cat >/dev/null; kill "$p" 2>/dev/null; wait "$p"; rm -rf "$STORE""#,
            "sh",
        ])
        .arg(bin)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(&store.0)
        .env("STORE", &store.0)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let server = NatsServer { child, _store: store };
    let url = format!("nats://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if Instant::now() > deadline {
            bail!("{} did not listen on {url} within 20 s", bin.display());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((server, url))
}

/// A control interface answer's error (the client's errors are boxed).
fn ctl<T>(
    what: &str,
    r: Result<wasmcloud_control_interface::CtlResponse<T>, Box<dyn std::error::Error + Send + Sync>>,
) -> Result<Option<T>> {
    let r = r.map_err(|e| anyhow!("{what}: {e}"))?;
    if !r.succeeded() {
        bail!("{what}: {}", r.message());
    }
    Ok(r.into_data())
}

/// The manifest's named configurations with `--config` over them, and ports 0 made concrete.
fn configs(
    app: &Application,
    overrides: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let mut all: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut add = |c: &NamedConfig| all.entry(c.name.clone()).or_default().extend(c.properties.clone());
    for c in &app.spec.components {
        c.properties.config.iter().for_each(&mut add);
        for l in c.links() {
            l.target.config.iter().for_each(&mut add);
            l.source.iter().flat_map(|s| &s.config).for_each(&mut add);
        }
    }
    for (name, props) in overrides {
        let Some(config) = all.get_mut(name) else {
            bail!("--config {name}:...: the manifest has no configuration named `{name}`");
        };
        config.extend(props.clone());
    }
    for props in all.values_mut() {
        if let Some(addr) = props.get_mut("address") {
            if let Some(host) = addr.strip_suffix(":0") {
                *addr = format!("{host}:{}", free_port()?);
            }
        }
    }
    Ok(all)
}

/// Does what wadm does with the application on one host: configuration, components and
/// providers, then links once every component and provider runs.
async fn deploy(
    client: &Client,
    host_id: &str,
    app: &Application,
    images: &HashMap<String, String>,
    configs: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<()> {
    for (name, props) in configs {
        let props: HashMap<String, String> = props.clone().into_iter().collect();
        ctl(&format!("putting config {name}"), client.put_config(name, props).await)?;
    }
    let names = |list: &[NamedConfig]| list.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    for c in &app.spec.components {
        let image = c.properties.image.as_deref().unwrap_or_default();
        let Some(reference) = images.get(image) else {
            bail!("spec.components[{}]: no --image for {image} (no registry is reachable from here)", c.name);
        };
        let id = app.id(&c.name);
        let config = names(&c.properties.config);
        match c.kind {
            Kind::Component => {
                let r = client.scale_component(host_id, reference, &id, c.instances(), None, config, false).await;
                ctl(&format!("starting component {id}"), r)?;
            }
            Kind::Capability => {
                ctl(
                    &format!("starting provider {id}"),
                    client.start_provider(host_id, reference, &id, None, config).await,
                )?;
            }
        }
    }
    let deadline = Instant::now() + START;
    loop {
        let inventory =
            ctl("host inventory", client.get_host_inventory(host_id).await)?.context("host inventory: empty")?;
        let running = |id: &str| {
            inventory.components().iter().any(|c| c.id() == id) || inventory.providers().iter().any(|p| p.id() == id)
        };
        if app.spec.components.iter().all(|c| running(&app.id(&c.name))) {
            break;
        }
        if Instant::now() > deadline {
            bail!("the application's components did not all start within {} s", START.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for c in &app.spec.components {
        for l in c.links() {
            let source_config = l.source.as_ref().map(|s| names(&s.config)).unwrap_or_default();
            let link = Link::builder()
                .source_id(&app.id(&c.name))
                .target(&app.id(&l.target.name))
                .name(l.name.as_deref().unwrap_or("default"))
                .wit_namespace(&l.namespace)
                .wit_package(&l.package)
                .interfaces(l.interfaces.clone())
                .source_config(source_config)
                .target_config(names(&l.target.config))
                .build()
                .map_err(|e| anyhow!("link from {}: {e}", c.name))?;
            ctl(&format!("linking {} to {}", c.name, l.target.name), client.put_link(link).await)?;
        }
    }
    Ok(())
}

async fn run(args: Args) -> Result<()> {
    let text =
        std::fs::read_to_string(&args.manifest).with_context(|| format!("reading {}", args.manifest.display()))?;
    let app = manifest::parse(&text).with_context(|| format!("{}", args.manifest.display()))?;
    // NATS first: the free ports given to `HOST:0` addresses below are then not ones it could
    // take (a port found free is only released, not held, until the app listens on it).
    let (_nats_server, url) = match &args.nats {
        Nats::Url(url) => (None, url.clone()),
        Nats::Server(bin) => {
            let (server, url) = start_nats(bin).await?;
            (Some(server), url)
        }
    };
    let configs = configs(&app, &args.config)?;
    let nats_url = wasmcloud_host::url::Url::parse(&url).with_context(|| format!("NATS URL {url}"))?;
    let host_key = Arc::new(nkeys::KeyPair::new_server());
    let host_id = host_key.public_key();
    let (host, shutdown) = Box::pin(Host::new(HostConfig {
        ctl_nats_url: nats_url.clone(),
        rpc_nats_url: nats_url,
        host_key: Some(host_key),
        allow_file_load: true,
        experimental_features: Features::new().enable_builtin_http_server(),
        ..HostConfig::default()
    }))
    .await
    .context("starting the wasmCloud host")?;
    let nats = async_nats::connect(&url).await.with_context(|| format!("connecting to NATS at {url}"))?;
    let client = ClientBuilder::new(nats).lattice("default").timeout(Duration::from_secs(30)).build();
    deploy(&client, &host_id, &app, &args.images, &configs).await?;
    let addresses: Vec<&String> = configs.values().filter_map(|p| p.get("address")).collect();
    let deadline = Instant::now() + START;
    for addr in &addresses {
        while tokio::net::TcpStream::connect(addr.as_str()).await.is_err() {
            if Instant::now() > deadline {
                bail!("nothing listens on {addr} within {} s of the links", START.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for addr in &addresses {
        eprintln!(
            "authz-wasmcloud1-host: application {} on host {host_id}: listening on http://{addr}",
            app.metadata.name
        );
    }
    // Stopped by a signal too, so that the NATS server it started stops with it.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = terminate.recv() => {}
        () = runner::stdin_closed(), if args.exit_on_stdin_close => {}
        stopped = host.stopped() => { stopped?; }
    }
    // Bounded twice: the host's own shutdown, and the process (a task of the host kept its
    // tokio worker busy once and the timeout below never fired: the process ran on, at a
    // core's full use). NATS, if it started one, stops when this process ends, however.
    runner::exit_if_still_running_after("authz-wasmcloud1-host", Duration::from_secs(15));
    drop(host);
    tokio::time::timeout(Duration::from_secs(10), shutdown).await.context("host shutdown timed out")??;
    Ok(())
}

fn main() {
    runner::main("authz-wasmcloud1-host", args, run);
}
