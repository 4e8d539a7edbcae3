//! The `authz` command line as a library, so tests and other tools reuse it:
//! reading policy directories and running Cerbos test suites, and Cerbos server configurations.

pub mod cerbos_config;
pub mod compose;
pub mod store;
pub mod suite;
