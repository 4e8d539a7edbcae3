//! authz-engine: a Cerbos-compatible policy decision engine.
//!
//! All semantics live here and nothing here does I/O: policies arrive as text,
//! requests carry their own time, globals and attributes.

mod activation;
mod bits;
mod bundle;
mod cel;
mod check;
mod compile;
mod error;
mod glob;
mod jwt;
mod plan;
mod policy;
mod schema;
mod source;
mod table;

pub use bundle::{Bundle, LoadError, AUX_DATA_CONFIG_PATH};
pub use error::{BuildError, BuildErrors, Location};
// The request/response model is authz-api's: re-exported so that engine users need one import.
pub use authz_api::{
    parse_time, ActionEffect, Attributes, AuxData, CheckInput, CheckOptions, CheckOutput, Effect, EvaluationError,
    OutputEntry, Principal, RequestError, Resource, SchemaEnforcement, Timestamp, ValidationError,
    DEFAULT_POLICY_VERSION,
};
pub use source::{is_policy_path, Source};

/// This engine's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Builds now what the engine otherwise builds on first use (the CEL environment and
/// function registry, and the shared empty values decisions read), so that a
/// pre-initialization snapshot (`authz bake`) already holds it and no decision allocates
/// anything that outlives it.
pub fn prepare() -> Result<(), PrepareError> {
    check::prepare_statics();
    table::prepare_statics();
    cel::prepare_runtime().map(|_| ()).map_err(PrepareError)
}

/// The CEL runtime could not be built (a bug in the engine's function declarations): nothing
/// can be decided, and every check denies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot build the CEL runtime: {0}")]
pub struct PrepareError(String);

#[cfg(test)]
mod cel_tests;
