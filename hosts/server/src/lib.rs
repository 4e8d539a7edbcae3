//! `authz serve`: an HTTP policy decision point that decides with a baked authz component.
//!
//! Every decision runs in the component through [`authz_wasmtime`]; this crate only translates
//! HTTP (Cerbos CheckResources JSON, OpenID AuthZEN 1.0) to and from the engine's wire types,
//! counts, logs, and swaps bundles. It never decides.

mod audit;
mod config;
mod http;
mod listen;
mod metrics;
mod state;

pub use audit::AuditLog;
pub use config::{BundleSource, ServeConfig};
pub use state::{serve, ServeError};
