//! Any text as a policy file (YAML, or JSON by its name): built or refused, never a panic or
//! a hang.
#![no_main]

use authz_engine::{Bundle, Source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let name = if text.starts_with('{') { "p.json" } else { "p.yaml" };
    let _ = Bundle::build(vec![Source::new(name, text)], None);
});
