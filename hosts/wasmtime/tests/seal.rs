//! The digest a host reports is the digest of the bytes it loaded: a baked component is
//! sealed, a modified one is refused, and with trusted keys only a signed one loads.
#![allow(clippy::unwrap_used, clippy::panic, reason = "a broken fixture must stop the test loudly")]

mod common;

use authz_wasmtime::seal::SigningKey;
use authz_wasmtime::{Config, HostError, Pdp};

fn load(bytes: &[u8], config: Config) -> Result<Pdp, HostError> {
    Pdp::from_bytes(bytes, config)
}

fn load_error(bytes: &[u8], config: Config) -> String {
    match load(bytes, config) {
        Ok(p) => panic!("loaded, reporting {:?}", p.bundle_info()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_edited_snapshot_is_refused() {
    let (_, baked) = common::example_component(None);
    assert!(load(&baked, common::config()).is_ok());
    // The role `admin` renamed in the snapshot's data: the policies it decides with change,
    // the digest it reports does not. Refused for what it is.
    let at = baked.windows(5).position(|w| w == b"admin").unwrap();
    let mut edited = baked.clone();
    edited[at..at + 5].copy_from_slice(b"guest");
    let err = load_error(&edited, common::config());
    assert!(err.contains("do not match its seal"), "{err}");
    // Without its seal, not loaded at all.
    let unsealed = &baked[..baked.len() - 200];
    assert!(load(unsealed, common::config()).is_err());
}

#[test]
fn random_bit_flips_are_all_refused() {
    let (_, baked) = common::example_component(None);
    // A fixed, spread set of positions (no randomness in tests): 40 flips across the file.
    for i in 0..40 {
        let bit = (i * 7_919_993 + 12_345) % (baked.len() * 8);
        let mut flipped = baked.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        assert!(load(&flipped, common::config()).is_err(), "bit {bit} flipped and loaded");
    }
}

#[test]
fn trusted_keys_require_a_signature_by_one_of_them() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies/example");
    let bundle = authz_engine::Bundle::build(authz::store::load_dir(&dir).unwrap(), None).unwrap();
    let key = SigningKey::from_seed([42; 32]);
    let other = SigningKey::from_seed([43; 32]);
    let generic = common::generic_component();
    let signed = authz_wasmtime::bake::bake_signed(&generic, &bundle.to_bytes(), Some(&key)).unwrap();
    let trusting = |k: &SigningKey| Config { trusted_keys: vec![k.public()], ..common::config() };
    let pdp = load(&signed, trusting(&key)).unwrap();
    let signature = pdp.bundle_info().signature.clone().unwrap();
    assert_eq!(signature.key_id, key.public().id());
    assert_eq!(signature.value.len(), 128);
    assert_eq!(pdp.bundle_info().digest, bundle.digest());
    // Signed, but by a key not trusted here.
    assert!(load_error(&signed, trusting(&other)).contains("not a trusted key"));
    // Unsigned, where signatures are required; accepted where none are.
    let (_, unsigned) = common::example_component(None);
    assert!(load_error(&unsigned, trusting(&key)).contains("not signed"));
    assert_eq!(load(&unsigned, common::config()).unwrap().bundle_info().signature, None);
}
