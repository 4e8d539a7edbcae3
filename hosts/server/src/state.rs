//! The serving bundle and how it is replaced.

use crate::config::{BundleSource, ServeConfig};
use crate::metrics::Metrics;
use authz_wasmtime::Pdp;
use std::sync::{Arc, RwLock};

/// Why a new bundle was not swapped in (the old one keeps serving).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The source produced no component.
    #[error(transparent)]
    Source(#[from] crate::SourceError),
    /// The component did not load.
    #[error(transparent)]
    Load(#[from] authz_wasmtime::HostError),
    /// The loading task stopped (panicked or was cancelled).
    #[error("the loader stopped: {0}")]
    Stopped(#[from] tokio::task::JoinError),
}

/// What every handler shares.
pub(crate) struct State {
    current: RwLock<Arc<Pdp>>,
    pub(crate) config: ServeConfig,
    pub(crate) metrics: Arc<Metrics>,
    /// The PDP API, configured once.
    pub(crate) handler: authz_api::http::Handler,
    pub(crate) source: Box<dyn BundleSource>,
    /// Serializes reloads, so two never race to swap.
    reloading: tokio::sync::Mutex<()>,
}

impl State {
    /// The state serving `first`.
    pub(crate) fn new(first: Pdp, config: ServeConfig, metrics: Arc<Metrics>, source: Box<dyn BundleSource>) -> Self {
        State {
            current: RwLock::new(Arc::new(first)),
            handler: crate::http::handler(&config),
            config,
            metrics,
            source,
            reloading: tokio::sync::Mutex::new(()),
        }
    }
}

impl State {
    /// The bundle that answers the next request; a request keeps the one it started with.
    pub(crate) fn pdp(&self) -> Arc<Pdp> {
        match self.current.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Loads and verifies `bytes` (compile, link, read its bundle) off the async threads, then
    /// swaps it in atomically. On failure the old bundle keeps serving.
    pub(crate) async fn replace(
        &self,
        bytes: Result<Vec<u8>, ReloadError>,
    ) -> Result<authz_wasmtime::BundleInfo, ReloadError> {
        let _one_at_a_time = self.reloading.lock().await;
        let config = self.config.pdp.clone();
        let loaded = match bytes {
            Ok(bytes) => match tokio::task::spawn_blocking(move || Pdp::from_bytes(&bytes, config)).await {
                Ok(loaded) => loaded.map_err(ReloadError::Load),
                Err(stopped) => Err(ReloadError::Stopped(stopped)),
            },
            Err(e) => Err(e),
        };
        self.metrics.reload(loaded.is_ok());
        match loaded {
            Ok(pdp) => {
                let info = pdp.bundle_info().clone();
                let pdp = Arc::new(pdp);
                match self.current.write() {
                    Ok(mut c) => *c = pdp,
                    Err(poisoned) => *poisoned.into_inner() = pdp,
                }
                tracing::info!(
                    digest = %info.digest,
                    label = info.label.as_deref().unwrap_or_default(),
                    "now serving bundle {} ({})",
                    info.digest,
                    info.label.as_deref().unwrap_or("no label")
                );
                Ok(info)
            }
            Err(e) => {
                let serving = self.pdp().bundle_info().digest.clone();
                tracing::warn!(serving = %serving, error = %e, "reload failed, still serving {serving}: {e}");
                Err(e)
            }
        }
    }

    /// Reloads from the configured source.
    pub(crate) async fn reload(self: &Arc<Self>) -> Result<authz_wasmtime::BundleInfo, ReloadError> {
        let me = self.clone();
        let bytes = match tokio::task::spawn_blocking(move || me.source.load()).await {
            Ok(loaded) => loaded.map_err(ReloadError::Source),
            Err(stopped) => Err(ReloadError::Stopped(stopped)),
        };
        self.replace(bytes).await
    }
}
