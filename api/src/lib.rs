//! authz-api: what every host shares, once.
//!
//! - [`model`]: the request/response model the engine decides over (principal, resource,
//!   options, decisions);
//! - [`cerbos`] and [`authzen`]: the Cerbos CheckResources JSON and OpenID AuthZEN 1.0 wire
//!   formats, mapped to and from the model, with JSON paths in errors and size limits;
//! - [`plan`]: query planning (Cerbos PlanResources): its model and wire format;
//! - [`Decider`]: the seam to "something that decides" (the engine, the component run by
//!   wasmtime, the component's imported interface inside a wasm gateway);
//! - [`audit`]: the decision record every host writes, and its audit-log line;
//! - [`http`]: one transport-neutral request handler (routes, limits, error bodies, the AuthZEN
//!   batch loop) that every HTTP host (axum, a `wasi:http` gateway) wraps;
//! - [`wit_conversions!`]: the WIT records ↔ model mapping, instantiated by each side of the
//!   component boundary over its own generated bindings.
//!
//! Neither wasmtime nor the CEL engine is in this crate's dependency tree: it builds for native
//! hosts and for `wasm32-wasip2` guests alike.

pub mod audit;
pub mod authzen;
pub mod cerbos;
mod decide;
mod error;
pub mod http;
pub mod json;
pub mod model;
pub mod plan;
mod wit;

pub use decide::{decide_each, DecideError, Decider, Decision, Failure, PlanDecision};
pub use error::RequestError;
pub use model::{
    parse_time, ActionEffect, Attributes, AuxData, BundleDetails, CheckInput, CheckOptions, CheckOutput, Effect,
    EvaluationError, OutputEntry, Principal, Resource, SchemaEnforcement, Timestamp, ValidationError,
    DEFAULT_POLICY_VERSION,
};

#[doc(hidden)]
pub mod __wit {
    //! What [`wit_conversions!`](crate::wit_conversions) expands to call; not an API.
    pub use crate::wit::*;
}
