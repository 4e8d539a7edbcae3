//! What `authz serve` runs and how it is bounded.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Why a [`BundleSource`] produced no component: what failed, and its cause when there is one.
#[derive(Debug, thiserror::Error)]
#[error("{what}{}", source.as_ref().map(|s| format!(": {s}")).unwrap_or_default())]
pub struct SourceError {
    what: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl SourceError {
    /// A failure described by `what` alone.
    pub fn new(what: impl Into<String>) -> Self {
        SourceError { what: what.into(), source: None }
    }

    /// `what` failed because of `source`.
    pub fn caused(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        SourceError { what: what.into(), source: Some(source.into()) }
    }
}

/// Where baked components come from, at start and on every reload.
pub trait BundleSource: Send + Sync + 'static {
    /// For logs: `component pdp.wasm`, `policies ./policies`, ...
    fn describe(&self) -> String;
    /// The baked component's bytes (compiling and baking first if the source is policies).
    fn load(&self) -> Result<Vec<u8>, SourceError>;
    /// Files or directories whose change means a new bundle (for `--watch`).
    fn watch_paths(&self) -> Vec<PathBuf>;
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    pub addr: SocketAddr,
    /// Address of Cerbos's gRPC API (`cerbos.svc.v1.CerbosService` and gRPC health checking),
    /// when it is served (port 0 picks a free port). Needs a build with the `grpc` feature.
    pub grpc_addr: Option<SocketAddr>,
    /// How the component runs: limits, pool, compiled-artifact cache.
    pub pdp: authz_wasmtime::Config,
    /// Globals (`G`) for every request.
    pub globals: serde_json::Map<String, serde_json::Value>,
    /// The operator's evaluation options for every request that does not set its own: default
    /// policy version, lenient scope search, schema enforcement, default scope, strictness
    /// (`globals` and `now` here are unused: the globals above and the server's clock are
    /// the component host's to supply).
    pub options: authz_api::CheckOptions,
    /// Whether a request's `authzOptions` (its own `now`, globals, default version or scope,
    /// scope search, schema enforcement, strict evaluation) is honoured. Off, such a request is a
    /// 400: the operator's configuration decides, as in Cerbos, whose API has no such options.
    pub request_options: bool,
    /// Largest request body, in bytes; a larger declared `Content-Length` is refused before
    /// any of the body is read.
    pub max_body_bytes: usize,
    /// Longest a client may take to send a request's headers (and longest a keep-alive
    /// connection may stay idle) before it is closed.
    pub header_timeout: Duration,
    /// Longest a client may take to send a request's body (HTTP 408 after it).
    pub body_timeout: Duration,
    /// Connections open at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Resources per CheckResources request, and evaluations per AuthZEN batch.
    pub max_resources: usize,
    /// Actions per resource.
    pub max_actions: usize,
    /// Bearer token that enables `/admin/*`; `None` disables the admin endpoints.
    pub admin_token: Option<String>,
    /// Poll the source's files at this interval and reload when they change.
    pub watch: Option<Duration>,
    /// Where decision records go, one JSON line each.
    pub audit: Option<crate::AuditLog>,
    /// A decision whose record cannot be written fails (503) instead of being answered.
    pub audit_required: bool,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 3592)),
            grpc_addr: None,
            pdp: authz_wasmtime::Config::default(),
            globals: serde_json::Map::new(),
            options: authz_api::CheckOptions::default(),
            request_options: false,
            max_body_bytes: 4 << 20,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_resources: 50,
            max_actions: 50,
            admin_token: None,
            watch: None,
            audit: None,
            audit_required: false,
        }
    }
}
