//! authz-engine: a Cerbos-compatible policy decision engine.
//!
//! All semantics live here and nothing here does I/O: policies arrive as text,
//! requests carry their own time, globals and attributes.

mod cel;
pub mod policy;

#[cfg(test)]
mod cel_tests;
