//! The server's lifecycle: load the first bundle, bind, serve, and reload on SIGHUP or when
//! watched files change.

use crate::config::{BundleSource, ServeConfig};
use crate::metrics::Metrics;
use crate::state::{ReloadError, State};
use authz_wasmtime::{DecisionHook, Pdp};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The first bundle could not be loaded.
    #[error("cannot load the bundle from {source_name}: {error}")]
    Bundle {
        /// The source, as described.
        source_name: String,
        /// Why.
        #[source]
        error: ReloadError,
    },
    /// A gRPC address was given to a build without the gRPC API.
    #[error("this authz was built without the gRPC API (cargo feature `grpc`): serve HTTP only, or rebuild it")]
    NoGrpc,
    /// The address could not be bound or served.
    #[error("cannot serve on `{addr}`: {error}")]
    Io {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        error: std::io::Error,
    },
}

/// Runs the server until the process is stopped: loads the source's bundle (failing if it
/// cannot), binds (the gRPC address too, when there is one: `gRPC API listening on
/// grpc://ADDR`), prints `listening on http://ADDR` on stderr, and serves. SIGHUP, `--watch`
/// and `POST /admin/reload` reload the source; `PUT /admin/bundle` uploads a component.
pub async fn serve(mut config: ServeConfig, source: Box<dyn BundleSource>) -> Result<(), ServeError> {
    #[cfg(not(feature = "grpc"))]
    if config.grpc_addr.is_some() {
        return Err(ServeError::NoGrpc);
    }
    let metrics = Arc::new(Metrics::new());
    let hook_metrics = metrics.clone();
    let audit = config.audit.clone();
    config.pdp.on_decision = Some(DecisionHook::new(move |record| {
        hook_metrics.decision(record.allowed, &record.policy);
        if let Some(a) = &audit {
            if a.write(record).is_err() {
                hook_metrics.audit_failure();
            }
        }
    }));
    // The component's host fills them into requests that carry none, serialized once.
    if !config.globals.is_empty() {
        config.pdp.globals = Some(std::mem::take(&mut config.globals));
    }
    let name = source.describe();
    let bundle_err = |error: ReloadError| ServeError::Bundle { source_name: name.clone(), error };
    // The watch's baseline is what the files were *before* loading: a change made while the
    // first bundle loads (or before the watch task first runs) is then still seen as a change.
    let watched = config.watch.map(|every| {
        let paths = source.watch_paths();
        let baseline = fingerprint(&paths);
        (every, paths, baseline)
    });
    let bytes = source.load().map_err(|e| bundle_err(e.into()))?;
    let first = Pdp::from_bytes(&bytes, config.pdp.clone()).map_err(|e| bundle_err(e.into()))?;
    let info = first.bundle_info().clone();
    let addr = config.addr;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|error| ServeError::Io { addr, error })?;
    let local = listener.local_addr().map_err(|error| ServeError::Io { addr, error })?;
    #[cfg(feature = "grpc")]
    let grpc = match config.grpc_addr {
        None => None,
        Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.map_err(|error| ServeError::Io { addr, error })?),
    };
    let state = Arc::new(State::new(first, config, metrics, source));
    tracing::info!(
        digest = %info.digest,
        label = info.label.as_deref().unwrap_or_default(),
        source = %state.source.describe(),
        "bundle {} ({}) from {}",
        info.digest,
        info.label.as_deref().unwrap_or("no label"),
        state.source.describe()
    );
    #[cfg(feature = "grpc")]
    if let Some(listener) = grpc {
        let addr = listener.local_addr().map_err(|error| ServeError::Io { addr: local, error })?;
        tracing::info!(addr = %addr, "gRPC API listening on grpc://{addr}");
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::grpc::serve(listener, state).await {
                tracing::error!(error = %e, "the gRPC API stopped: {e}");
            }
        });
    }
    spawn_sighup(state.clone());
    if let Some((every, paths, baseline)) = watched {
        spawn_watch(state.clone(), every, paths, baseline);
    }
    // Last: whoever waits for this line finds every API listening and SIGHUP handled (its
    // default action would end the process).
    tracing::info!(addr = %local, "listening on http://{local}");
    let bounds = crate::listen::Bounds {
        max_connections: state.config.max_connections,
        header_timeout: state.config.header_timeout,
    };
    let metrics = state.metrics.clone();
    crate::listen::serve(listener, crate::http::router(state), bounds, metrics).await;
    Ok(())
}

#[cfg(unix)]
fn spawn_sighup(state: Arc<State>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reload with --watch or /admin/reload");
        return;
    };
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading");
            let _ = state.reload().await;
        }
    });
}

#[cfg(not(unix))]
fn spawn_sighup(_state: Arc<State>) {}

/// Every file under the watched paths with its modification time and size.
type Fingerprint = Vec<(PathBuf, Option<SystemTime>, u64)>;

/// The watched paths' [`Fingerprint`].
fn fingerprint(paths: &[PathBuf]) -> Fingerprint {
    fn walk(p: &std::path::Path, out: &mut Fingerprint) {
        let Ok(meta) = std::fs::metadata(p) else {
            out.push((p.to_path_buf(), None, 0));
            return;
        };
        if meta.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(p).into_iter().flatten().flatten().map(|e| e.path()).collect();
            entries.sort();
            for e in entries {
                walk(&e, out);
            }
        } else {
            out.push((p.to_path_buf(), meta.modified().ok(), meta.len()));
        }
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out);
    }
    out
}

/// Polls `paths` every `every` and reloads when their fingerprint differs from the last one
/// seen (`last` starts as the fingerprint taken before the serving bundle was loaded).
fn spawn_watch(state: Arc<State>, every: std::time::Duration, paths: Vec<PathBuf>, mut last: Fingerprint) {
    if paths.is_empty() {
        tracing::warn!("--watch: this bundle source has no files to watch");
        return;
    }
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let now = fingerprint(&paths);
            if now != last {
                last = now;
                tracing::info!("bundle source changed: reloading");
                let _ = state.reload().await;
            }
        }
    });
}
