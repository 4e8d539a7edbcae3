//! `authz serve`: an HTTP (and, with the `grpc` feature, gRPC) policy decision point that
//! decides with a baked authz component.
//!
//! Every decision runs in the component through [`authz_wasmtime`], and every PDP route is
//! [`authz_api::http`]'s: this crate is axum plumbing around them (bounded connections and
//! bodies), metrics, the audit log, and bundle hot swap. It never decides.
//!
//! Operational logs go through `tracing` (the binary installs a subscriber: text or JSON lines on
//! stderr); decision records go to the separate audit log.

mod audit;
mod config;
#[cfg(feature = "grpc")]
mod grpc;
mod http;
mod listen;
mod metrics;
mod serve;
mod state;

pub use audit::AuditLog;
pub use config::{BundleSource, ServeConfig, SourceError};
pub use serve::{serve, ServeError};
