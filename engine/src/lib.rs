//! authz-engine: a Cerbos-compatible policy decision engine.
//!
//! All semantics live here and nothing here does I/O: policies arrive as text,
//! requests carry their own time, globals and attributes.

mod activation;
pub mod authzen;
mod bits;
mod bundle;
mod cel;
mod check;
mod compile;
mod decide;
mod error;
mod glob;
pub mod json;
pub mod policy;
mod request;
mod schema;
mod source;
mod table;
pub mod wire;

pub use bundle::{Bundle, LoadError};
pub use decide::Decide;
pub use error::{BuildError, BuildErrors, Location, RequestError};
pub use request::{parse_time, Timestamp, DEFAULT_POLICY_VERSION};
pub use request::{
    ActionEffect, Attributes, AuxData, CheckInput, CheckOptions, CheckOutput, EvaluationError, OutputEntry, Principal,
    Resource, SchemaEnforcement, ValidationError,
};
pub use source::{is_policy_path, Source};

/// Builds now what the engine otherwise builds on first use (the CEL environment and
/// function registry, and the shared empty values decisions read), so that a
/// pre-initialization snapshot (`authz bake`) already holds it and no decision allocates
/// anything that outlives it.
pub fn prepare() -> Result<(), String> {
    check::prepare_statics();
    table::prepare_statics();
    cel::prepare_runtime().map(|_| ())
}

#[cfg(test)]
mod cel_tests;
