//! `authz serve`: an HTTP policy decision point that decides with a baked authz component.
//!
//! Every decision runs in the component through [`authz_wasmtime`], and every PDP route is
//! [`authz_api::http`]'s: this crate is axum plumbing around them (bounded connections and
//! bodies), metrics, the audit log, and bundle hot swap. It never decides.

/// A line on standard error that never panics: `eprintln!` does when stderr is a closed pipe
/// (a supervisor gone), and the server must go on deciding without its log.
macro_rules! log {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod audit;
mod config;
mod http;
mod listen;
mod metrics;
mod serve;
mod state;

pub use audit::AuditLog;
pub use config::{BundleSource, ServeConfig};
pub use serve::{serve, ServeError};
