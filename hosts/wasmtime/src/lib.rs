//! `authz-wasmtime`: runs a baked authz component in a Rust host.
//!
//! The component is compiled once (optionally cached on disk), linked and type-checked once
//! (`instantiate_pre`), and each decision runs in an instance from a small warm pool backed by
//! wasmtime's pooling allocator. Every call is bounded (time, memory, request size; fuel on
//! request); an overrun
//! or a trap is a typed [`HostError`] the caller must treat as DENY, and the instance that
//! failed is dropped so the next decision gets a clean one. The host only translates: every
//! decision is the component's.

pub mod bake;
mod cache;
mod config;
pub mod convert;
mod error;
mod pdp;
mod prune;
mod record;
pub mod seal;

pub use cache::KEEP as CACHE_KEEP;
pub use config::{Config, TIMEOUT_TICK};
pub use error::HostError;
pub use pdp::{BundleInfo, Pdp};
pub use record::{DecisionHook, DecisionRecord};

/// The WIT `authz:pdp` types (`check-request`, `check-response`, ...), generated from `wit/`.
pub mod types {
    pub use crate::pdp::bindings::exports::authz::pdp::authz::{
        ActionResult, BundleDetails, CheckOptions, CheckRequest, CheckResponse, Effect, EvaluationError, FilterKind,
        OutputEntry, PlanRequest, PlanResource, PlanResponse, Principal, RequestError, Resource, ResourceEntry,
        ResourceResult, SchemaEnforcement, ValidationError,
    };
}
