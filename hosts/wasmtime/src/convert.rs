//! The WIT records ↔ the `authz-api` model, for Rust hosts: authz-api's one mapping,
//! instantiated over this crate's generated bindings.

authz_api::wit_conversions!(crate::pdp::bindings::exports::authz::pdp::authz);

pub use wit_map::{
    details_from_wit, error_from_wit, options_to_wit, plan_request_to_wit, plan_response_from_wit, request_to_wit,
    response_from_wit,
};
