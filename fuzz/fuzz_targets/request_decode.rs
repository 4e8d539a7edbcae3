//! Any bytes as a Cerbos CheckResources request or an AuthZEN evaluation (batch): decoded or
//! refused with a path, never a panic.
#![no_main]

use authz_api::authzen::{decode_evaluation, decode_evaluations};
use authz_api::cerbos::{decode_request, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let limits = Limits::default();
    let _ = decode_request(text, &limits);
    let _ = decode_evaluation(text, &limits);
    let _ = decode_evaluations(text, &limits);
    let _ = authz_api::json::value(text);
});
