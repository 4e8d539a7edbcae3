//! Any bytes as a serialized bundle (what the component decodes): loaded or refused, never a
//! panic. Half the inputs get a valid header (magic and checksum), so the decoder behind the
//! checksum is reached.
#![no_main]

use authz_engine::Bundle;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// The format's magic, taken from a bundle the engine writes.
fn magic() -> &'static [u8] {
    static MAGIC: OnceLock<Vec<u8>> = OnceLock::new();
    MAGIC.get_or_init(|| {
        let built = Bundle::build(Vec::new(), None).map(|b| b.to_bytes()).unwrap_or_default();
        built.get(..8).unwrap_or_default().to_vec()
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = Bundle::from_bytes(data);
    if let Some((first, payload)) = data.split_first() {
        if first % 2 == 0 {
            let mut framed = magic().to_vec();
            framed.extend_from_slice(&Sha256::digest(payload));
            framed.extend_from_slice(payload);
            let _ = Bundle::from_bytes(&framed);
        }
    }
});
