//! Validation of request attributes against the JSON schemas a resource policy names.

use crate::request::{CheckInput, SchemaEnforcement, ValidationError};
use crate::table::Table;

/// The violations, and whether they reject the request; `None` when not checked.
pub(crate) fn validate(
    _table: &Table,
    _policy_key: &str,
    _input: &CheckInput,
    enforcement: SchemaEnforcement,
) -> Option<(Vec<ValidationError>, bool)> {
    match enforcement {
        SchemaEnforcement::None => None,
        SchemaEnforcement::Warn | SchemaEnforcement::Reject => None,
    }
}
