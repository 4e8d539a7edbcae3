//! The seal of a baked component: a last custom section, `authz-seal`, binding the digest of
//! the bundle baked in to a sha256 of every byte of the component before the seal, optionally
//! signed with Ed25519. A pre-initialized component no longer holds its bundle's bytes (they
//! were decoded into its memory snapshot), so the digest it reports is checked here instead:
//! a host refuses a component whose bytes are not the ones sealed (any edit of the snapshot,
//! any flipped bit), and, given trusted keys, one that is unsigned or signed by another key.
//! A seal without a signature detects corruption, not an attacker who can recompute it: that
//! is what signatures are for.

use authz_component::bake::{write_section, write_u32};
use sha2::{Digest, Sha256};

/// Name of the custom section holding the seal.
pub const SECTION: &str = "authz-seal";
/// What a signature signs, before the component's hash and the bundle's digest.
const CONTEXT: &str = "authz-seal-v1";

/// Why a component's seal was refused, or a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The component carries no seal (baked by something else, or truncated).
    #[error("the component is not sealed: it has no `{SECTION}` section at its end (bake it with `authz bake`)")]
    Missing,
    /// The seal section is not one this host can read.
    #[error("the component's seal is malformed: {0}")]
    Malformed(String),
    /// The component's bytes are not the ones sealed.
    #[error(
        "the component's bytes do not match its seal (sealed {sealed}, found {found}): it was modified after baking"
    )]
    Tampered {
        /// The hash in the seal.
        sealed: String,
        /// The hash of the bytes.
        found: String,
    },
    /// The component answers with another bundle digest than the sealed one.
    #[error("the component reports bundle `{reported}` but was sealed with bundle `{sealed}`")]
    WrongBundle {
        /// In the seal.
        sealed: String,
        /// What the component said.
        reported: String,
    },
    /// Trusted keys are configured and the seal has no signature.
    #[error("the component is not signed, and this host accepts only components signed by a trusted key")]
    Unsigned,
    /// Signed with a key that is not trusted here.
    #[error("the component is signed by key `{0}`, which is not a trusted key here")]
    UntrustedKey(String),
    /// The signature does not verify.
    #[error("the component's signature by key `{0}` does not verify")]
    BadSignature(String),
    /// A key file's content is not a key.
    #[error("not an Ed25519 key: {0}")]
    Key(String),
}

/// Who signed a sealed component (authz-api's type: decision records carry it).
pub use authz_api::audit::Signature;

/// A verified seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    /// `sha256:<hex>` of the component's bytes before the seal.
    pub component: String,
    /// The bundle digest sealed.
    pub bundle: String,
    /// The signature, when signed.
    pub signature: Option<Signature>,
}

/// A private signing key (`authz keygen` writes one).
pub struct SigningKey(ed25519_dalek::SigningKey);

/// A public key a host trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey(ed25519_dalek::VerifyingKey);

impl SigningKey {
    /// A key from 32 random bytes.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Reads a key file's text: 64 hex digits.
    pub fn parse(text: &str) -> Result<Self, SealError> {
        Ok(SigningKey::from_seed(hex32(text)?))
    }

    /// The key file's text.
    pub fn to_text(&self) -> String {
        format!("{}\n", hex(&self.0.to_bytes()))
    }

    /// The public half, to give hosts.
    pub fn public(&self) -> TrustedKey {
        TrustedKey(self.0.verifying_key())
    }
}

impl TrustedKey {
    /// Reads a public key file's text: 64 hex digits.
    pub fn parse(text: &str) -> Result<Self, SealError> {
        ed25519_dalek::VerifyingKey::from_bytes(&hex32(text)?)
            .map(TrustedKey)
            .map_err(|e| SealError::Key(e.to_string()))
    }

    /// The public key file's text.
    pub fn to_text(&self) -> String {
        format!("{}\n", hex(self.0.as_bytes()))
    }

    /// The key's id, as seals and audit records name it.
    pub fn id(&self) -> String {
        hex(Sha256::digest(self.0.as_bytes()).get(..8).unwrap_or_default())
    }
}

/// `component` with a seal over it and `bundle_digest` appended, signed when a key is given.
/// `component` must not be sealed already.
pub fn seal(component: &[u8], bundle_digest: &str, key: Option<&SigningKey>) -> Vec<u8> {
    let hash = sha256(component);
    let mut body = serde_json::Map::new();
    body.insert("v".into(), 1.into());
    body.insert("component".into(), hash.clone().into());
    body.insert("bundle".into(), bundle_digest.into());
    if let Some(key) = key {
        use ed25519_dalek::Signer;
        let signature = key.0.sign(message(&hash, bundle_digest).as_bytes());
        body.insert("keyId".into(), key.public().id().into());
        body.insert("signature".into(), hex(&signature.to_bytes()).into());
    }
    let body = serde_json::Value::Object(body);
    let mut out = component.to_vec();
    custom_section(&mut out, SECTION, body.to_string().as_bytes());
    out
}

/// Reads and checks the seal of `component` against its bytes, and its signature against
/// `trusted` (when any key is trusted, a signature by one of them is required).
pub fn verify(component: &[u8], trusted: &[TrustedKey]) -> Result<Seal, SealError> {
    let (start, payload) = last_section(component)?;
    let body: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| SealError::Malformed(format!("not JSON: {e}")))?;
    let field = |name: &str| body.get(name).and_then(|v| v.as_str()).map(str::to_string);
    if body.get("v").and_then(serde_json::Value::as_u64) != Some(1) {
        return Err(SealError::Malformed("unknown version".into()));
    }
    let (Some(sealed), Some(bundle)) = (field("component"), field("bundle")) else {
        return Err(SealError::Malformed("`component` or `bundle` is missing".into()));
    };
    let found = sha256(component.get(..start).unwrap_or_default());
    if found != sealed {
        return Err(SealError::Tampered { sealed, found });
    }
    let signature = match (field("keyId"), field("signature")) {
        (Some(key_id), Some(value)) => Some(Signature { key_id, value }),
        (None, None) => None,
        _ => return Err(SealError::Malformed("a signature needs both `keyId` and `signature`".into())),
    };
    if !trusted.is_empty() {
        let Some(sig) = &signature else { return Err(SealError::Unsigned) };
        let key =
            trusted.iter().find(|k| k.id() == sig.key_id).ok_or_else(|| SealError::UntrustedKey(sig.key_id.clone()))?;
        let bytes = unhex(&sig.value)
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .ok_or_else(|| SealError::BadSignature(sig.key_id.clone()))?;
        key.0
            .verify_strict(message(&sealed, &bundle).as_bytes(), &ed25519_dalek::Signature::from_bytes(&bytes))
            .map_err(|_| SealError::BadSignature(sig.key_id.clone()))?;
    }
    Ok(Seal { component: sealed, bundle, signature })
}

fn message(component_hash: &str, bundle_digest: &str) -> String {
    format!("{CONTEXT}\n{component_hash}\n{bundle_digest}")
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| text.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

fn hex32(text: &str) -> Result<[u8; 32], SealError> {
    unhex(text)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| SealError::Key("expected 64 hex digits".into()))
}

fn custom_section(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    let mut content = Vec::with_capacity(name.len() + data.len() + 5);
    write_u32(&mut content, u32::try_from(name.len()).unwrap_or(u32::MAX));
    content.extend_from_slice(name.as_bytes());
    content.extend_from_slice(data);
    write_section(out, 0, &content);
}

fn read_leb128(bytes: &[u8], pos: &mut usize) -> Option<usize> {
    let mut n: usize = 0;
    for shift in (0..35).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        n |= usize::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

/// Where the component's last section starts, and the seal's payload when that section is
/// the seal. Every section is walked, so a truncated or garbled binary is refused here.
fn last_section(bytes: &[u8]) -> Result<(usize, &[u8]), SealError> {
    let malformed = |m: &str| SealError::Malformed(m.to_string());
    if bytes.get(..4) != Some(b"\0asm".as_slice()) || bytes.len() < 8 {
        return Err(malformed("not a WebAssembly binary"));
    }
    let mut pos = 8;
    let mut last = None;
    while pos < bytes.len() {
        let start = pos;
        let id = bytes.get(pos).copied().ok_or_else(|| malformed("truncated section"))?;
        pos += 1;
        let size = read_leb128(bytes, &mut pos).ok_or_else(|| malformed("bad section size"))?;
        let end = pos.checked_add(size).filter(|e| *e <= bytes.len()).ok_or_else(|| malformed("truncated section"))?;
        last = Some((start, id, pos, end));
        pos = end;
    }
    let Some((start, 0, content, end)) = last else { return Err(SealError::Missing) };
    let mut p = content;
    let name_len = read_leb128(bytes, &mut p).ok_or_else(|| malformed("bad section name"))?;
    let name_end = p.checked_add(name_len).filter(|e| *e <= end).ok_or_else(|| malformed("bad section name"))?;
    if bytes.get(p..name_end) != Some(SECTION.as_bytes()) {
        return Err(SealError::Missing);
    }
    Ok((start, bytes.get(name_end..end).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: the header and one custom section.
    fn component() -> Vec<u8> {
        let mut c = b"\0asm\x0d\x00\x01\x00".to_vec();
        custom_section(&mut c, "other", b"data data data");
        c
    }

    #[test]
    fn a_sealed_component_verifies_and_every_flipped_bit_is_caught() {
        let sealed = seal(&component(), "sha256:abc", None);
        let s = verify(&sealed, &[]).unwrap();
        assert_eq!(s.bundle, "sha256:abc");
        assert_eq!(s.signature, None);
        for bit in 0..sealed.len() * 8 {
            let mut flipped = sealed.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            // Refused, or (a flip inside the sealed digest) naming another bundle than the one
            // the component reports, which the host then refuses.
            if let Ok(s) = verify(&flipped, &[]) {
                assert_ne!(s.bundle, "sha256:abc", "bit {bit} flipped and accepted");
            }
        }
        assert_eq!(verify(&component(), &[]), Err(SealError::Missing));
    }

    #[test]
    fn signatures_are_checked_against_trusted_keys() {
        let key = SigningKey::from_seed([7; 32]);
        let other = SigningKey::from_seed([8; 32]);
        let signed = seal(&component(), "sha256:abc", Some(&key));
        let s = verify(&signed, &[key.public()]).unwrap();
        assert_eq!(s.signature.map(|s| s.key_id), Some(key.public().id()));
        assert_eq!(verify(&signed, &[other.public()]), Err(SealError::UntrustedKey(key.public().id())));
        assert_eq!(verify(&seal(&component(), "sha256:abc", None), &[key.public()]), Err(SealError::Unsigned));
        // Edited and resealed by someone without the key: the signature no longer matches.
        let sig = verify(&signed, &[key.public()]).unwrap().signature.unwrap();
        let mut edited = component();
        edited[12] ^= 1;
        let body = serde_json::json!({"v": 1, "component": sha256(&edited), "bundle": "sha256:abc",
                                      "keyId": sig.key_id, "signature": sig.value});
        let mut forged = edited;
        custom_section(&mut forged, SECTION, body.to_string().as_bytes());
        assert_eq!(verify(&forged, &[key.public()]), Err(SealError::BadSignature(key.public().id())));
        // Keys round-trip through their files.
        let text = key.to_text();
        assert_eq!(SigningKey::parse(&text).unwrap().public(), key.public());
        assert_eq!(TrustedKey::parse(&key.public().to_text()).unwrap(), key.public());
        assert!(TrustedKey::parse("xyz").is_err());
    }
}
