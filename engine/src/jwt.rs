//! JWT auxiliary data as Cerbos takes it: `auxData.jwt: {token, keySetId}` (and several named
//! tokens in `auxData.jwts`), verified against the key sets of Cerbos's `auxData.jwt`
//! configuration, which a bundle carries (no I/O here: a configuration's key files are read
//! when the bundle is built, and the time comes with the request). The claims reach conditions
//! as Cerbos hands them over: `exp`, `iat` and `nbf` as RFC 3339 strings, `aud` as a list.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The verified part of a Cerbos configuration's `auxData.jwt`, as a bundle carries it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct JwtConfig {
    key_sets: Vec<KeySet>,
    disable_verification: bool,
    /// `acceptableTimeSkew`, in seconds.
    skew_seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct KeySet {
    id: String,
    keys: Vec<Key>,
    optional_alg: bool,
    optional_kid: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Key {
    kid: Option<String>,
    alg: Option<String>,
    material: Material,
}

/// A verification key's public part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Material {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// An uncompressed SEC1 point on P-256.
    P256(Vec<u8>),
    /// An uncompressed SEC1 point on P-384.
    P384(Vec<u8>),
    Ed25519(Vec<u8>),
    /// A symmetric (`oct`) key.
    Secret(Vec<u8>),
}

// ---- configuration (read when a bundle is built) ----------------------------------------

/// Cerbos's `auxData` configuration section.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AuxDataSection {
    #[serde(default)]
    jwt: Option<JwtSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JwtSection {
    #[serde(default)]
    key_sets: Vec<KeySetSection>,
    #[serde(default)]
    acceptable_time_skew: Option<String>,
    #[serde(default)]
    disable_verification: bool,
    /// Deprecated in Cerbos and ignored there too.
    #[serde(default)]
    #[allow(dead_code)]
    cache_size: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeySetSection {
    id: String,
    #[serde(default)]
    local: Option<LocalSection>,
    #[serde(default)]
    remote: Option<serde_yaml::Value>,
    #[serde(default)]
    insecure: InsecureSection,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LocalSection {
    /// Base64 of the key data (`authz` puts a `file`'s contents here when it reads the
    /// configuration; a file path is not read here).
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    pem: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InsecureSection {
    #[serde(default)]
    optional_alg: bool,
    #[serde(default)]
    optional_kid: bool,
}

impl JwtConfig {
    /// The configuration of Cerbos's `auxData` section (YAML or JSON text), checked as Cerbos
    /// checks it when it starts: every key set has usable keys.
    pub(crate) fn from_section(text: &str) -> Result<JwtConfig, String> {
        let section: AuxDataSection = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        let Some(jwt) = section.jwt else { return Ok(JwtConfig::default()) };
        let skew_seconds = match &jwt.acceptable_time_skew {
            None => 0,
            Some(d) => go_duration_seconds(d).ok_or_else(|| format!("acceptableTimeSkew: `{d}` is not a duration"))?,
        };
        if skew_seconds < 0 {
            return Err("acceptableTimeSkew must be positive".into());
        }
        let mut key_sets: Vec<KeySet> = Vec::new();
        for ks in jwt.key_sets {
            let id = ks.id.clone();
            if key_sets.iter().any(|k| k.id == id) {
                return Err(format!("duplicate keyset id '{id}'"));
            }
            if ks.remote.is_some() {
                return Err(format!(
                    "keyset '{id}': remote key sets are not supported (a bundle carries its keys): download the \
                     JWKS and configure it as `local`"
                ));
            }
            let Some(local) = ks.local else {
                return Err(format!("keyset '{id}': should have one of `local` or `remote` defined"));
            };
            let data = match (&local.data, &local.file) {
                (Some(d), None) => base64::engine::general_purpose::STANDARD
                    .decode(d.trim())
                    .map_err(|e| format!("keyset '{id}': failed to decode base64 encoded keyset data: {e}"))?,
                (None, Some(f)) => return Err(format!("keyset '{id}': local.file `{f}` was not read into the bundle")),
                (Some(_), Some(_)) => {
                    return Err(format!("keyset '{id}': only one of 'local.data' or 'local.file' must be defined"))
                }
                (None, None) => {
                    return Err(format!("keyset '{id}': at least one of 'local.data' or 'local.file' must be defined"))
                }
            };
            let text = String::from_utf8(data).map_err(|_| format!("keyset '{id}': the key data is not UTF-8 text"))?;
            let keys =
                if local.pem { pem_keys(&text) } else { jwk_keys(&text) }.map_err(|e| format!("keyset '{id}': {e}"))?;
            // As Cerbos: PEM keys carry no kid or alg; JWKs must, unless both are made optional.
            let relaxed = ks.insecure.optional_alg && ks.insecure.optional_kid;
            let validated = !(local.pem || relaxed);
            if validated {
                for (i, k) in keys.iter().enumerate() {
                    if !ks.insecure.optional_alg && k.alg.as_deref().unwrap_or_default().is_empty() {
                        let what = if k.alg.is_none() { "missing" } else { "empty" };
                        return Err(format!(
                            "keyset '{id}': failed to validate key at idx {i}: {what} algorithm (alg)"
                        ));
                    }
                    if !ks.insecure.optional_kid && k.kid.as_deref().unwrap_or_default().is_empty() {
                        let what = if k.kid.is_none() { "missing" } else { "empty" };
                        return Err(format!("keyset '{id}': failed to validate key at idx {i}: {what} key ID (kid)"));
                    }
                }
            }
            key_sets.push(KeySet {
                id,
                keys,
                optional_alg: ks.insecure.optional_alg,
                optional_kid: ks.insecure.optional_kid,
            });
        }
        Ok(JwtConfig { key_sets, disable_verification: jwt.disable_verification, skew_seconds })
    }

    /// Whether verifying needs the time (every configuration that verifies anything does).
    pub(crate) fn is_configured(&self) -> bool {
        self.disable_verification || !self.key_sets.is_empty()
    }
}

/// A Go duration (`2s`, `1m30s`, `500ms`) in whole seconds, rounded down.
fn go_duration_seconds(d: &str) -> Option<i64> {
    let mut rest = d.trim();
    if rest == "0" {
        return Some(0);
    }
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        let number: f64 = number.parse().ok()?;
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        nanos += number * scale;
        rest = tail;
    }
    Some((nanos / 1e9).floor() as i64)
}

fn b64url(s: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| format!("bad base64url: {e}"))
}

/// The keys of a JWK or a JWK set.
fn jwk_keys(text: &str) -> Result<Vec<Key>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("failed to parse key data: {e}"))?;
    let jwks: Vec<&Value> = match v.get("keys").and_then(Value::as_array) {
        Some(keys) => keys.iter().collect(),
        None => vec![&v],
    };
    jwks.into_iter().enumerate().map(|(i, k)| jwk(k).map_err(|e| format!("key at idx {i}: {e}"))).collect()
}

fn jwk(k: &Value) -> Result<Key, String> {
    let field = |name: &str| k.get(name).and_then(Value::as_str);
    let bytes = |name: &str| field(name).ok_or_else(|| format!("missing `{name}`")).and_then(b64url);
    let alg = field("alg").map(str::to_string);
    // As Cerbos's JWK parser: an `alg` that is present must name an algorithm (`""` does not).
    if alg.as_deref().is_some_and(|a| !SUPPORTED.contains(&a)) {
        return Err("invalid algorithm (alg)".into());
    }
    let material = match field("kty") {
        Some("RSA") => Material::Rsa { n: bytes("n")?, e: bytes("e")? },
        Some("EC") => {
            let (x, y) = (bytes("x")?, bytes("y")?);
            let point = [vec![4u8], x, y].concat();
            match field("crv") {
                Some("P-256") => Material::P256(point),
                Some("P-384") => Material::P384(point),
                other => return Err(format!("unsupported EC curve {other:?}")),
            }
        }
        Some("OKP") if field("crv") == Some("Ed25519") => Material::Ed25519(bytes("x")?),
        Some("oct") => Material::Secret(bytes("k")?),
        other => return Err(format!("unsupported key type (kty) {other:?}")),
    };
    let key = Key { kid: field("kid").map(str::to_string), alg, material };
    key.check()?;
    Ok(key)
}

/// The keys of PEM data (public keys, or private keys whose public part verifies).
fn pem_keys(text: &str) -> Result<Vec<Key>, String> {
    let blocks: Vec<String> =
        text.split("-----BEGIN ").skip(1).map(|b| format!("-----BEGIN {}", b.trim_end())).collect();
    if blocks.is_empty() {
        return Err("failed to parse key data: no PEM block".into());
    }
    blocks.iter().map(|b| pem_key(b)).collect()
}

fn pem_key(block: &str) -> Result<Key, String> {
    use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};
    use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
    use rsa::traits::PublicKeyParts;
    let rsa_public = rsa::RsaPrivateKey::from_pkcs8_pem(block)
        .map(|k| k.to_public_key())
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(block).map(|k| k.to_public_key()))
        .or_else(|_| rsa::RsaPublicKey::from_public_key_pem(block))
        .or_else(|_| rsa::RsaPublicKey::from_pkcs1_pem(block));
    let material = if let Ok(k) = rsa_public {
        Material::Rsa { n: k.n().to_bytes_be(), e: k.e().to_bytes_be() }
    } else if let Ok(k) = p256::SecretKey::from_pkcs8_pem(block)
        .or_else(|_| p256::SecretKey::from_sec1_pem(block))
        .map(|k| k.public_key())
        .or_else(|_| p256::PublicKey::from_public_key_pem(block))
    {
        Material::P256(k.to_sec1_bytes().to_vec())
    } else if let Ok(k) = p384::SecretKey::from_pkcs8_pem(block)
        .or_else(|_| p384::SecretKey::from_sec1_pem(block))
        .map(|k| k.public_key())
        .or_else(|_| p384::PublicKey::from_public_key_pem(block))
    {
        Material::P384(k.to_sec1_bytes().to_vec())
    } else {
        return Err("failed to parse key data: not an RSA, P-256 or P-384 key in PEM".into());
    };
    let key = Key { kid: None, alg: None, material };
    key.check()?;
    Ok(key)
}

/// An RSA signature check with the digest `$d` (`pkcs1v15` or `pss`).
macro_rules! rsa_verify {
    ($scheme:ident, $d:ty, $k:expr, $message:expr, $sig:expr) => {{
        use rsa::signature::Verifier;
        match rsa::$scheme::Signature::try_from($sig) {
            Ok(s) => rsa::$scheme::VerifyingKey::<$d>::new($k).verify($message, &s).is_ok(),
            Err(_) => false,
        }
    }};
}

/// An ECDSA signature check on the curve of the crate `$curve` (`p256` or `p384`).
macro_rules! ecdsa_verify {
    ($curve:ident, $point:expr, $message:expr, $sig:expr) => {{
        use rsa::signature::Verifier;
        match ($curve::ecdsa::VerifyingKey::from_sec1_bytes($point), $curve::ecdsa::Signature::from_slice($sig)) {
            (Ok(k), Ok(s)) => k.verify($message, &s).is_ok(),
            _ => false,
        }
    }};
}

/// Every algorithm a key may name.
const SUPPORTED: [&str; 12] =
    ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "HS256", "HS384", "HS512"];

impl Key {
    /// The key is usable: its material parses, and its `alg` (if any) suits its type.
    fn check(&self) -> Result<(), String> {
        match &self.material {
            Material::Rsa { n, e } => {
                rsa_key(n, e)?;
            }
            Material::P256(p) => {
                p256::ecdsa::VerifyingKey::from_sec1_bytes(p).map_err(|_| "invalid P-256 point")?;
            }
            Material::P384(p) => {
                p384::ecdsa::VerifyingKey::from_sec1_bytes(p).map_err(|_| "invalid P-384 point")?;
            }
            Material::Ed25519(x) => {
                ed25519_key(x)?;
            }
            Material::Secret(_) => {}
        }
        match &self.alg {
            Some(a) if !a.is_empty() && !self.suits(a) => Err(format!("algorithm {a} does not suit this key")),
            _ => Ok(()),
        }
    }

    fn suits(&self, alg: &str) -> bool {
        match &self.material {
            Material::Rsa { .. } => alg.starts_with("RS") || alg.starts_with("PS"),
            Material::P256(_) => alg == "ES256",
            Material::P384(_) => alg == "ES384",
            Material::Ed25519(_) => alg == "EdDSA",
            Material::Secret(_) => alg.starts_with("HS"),
        }
    }

    fn verify(&self, alg: &str, message: &[u8], sig: &[u8]) -> bool {
        match (&self.material, alg) {
            (Material::Rsa { n, e }, _) => {
                let Ok(k) = rsa_key(n, e) else { return false };
                match alg {
                    "RS256" => rsa_verify!(pkcs1v15, sha2::Sha256, k, message, sig),
                    "RS384" => rsa_verify!(pkcs1v15, sha2::Sha384, k, message, sig),
                    "RS512" => rsa_verify!(pkcs1v15, sha2::Sha512, k, message, sig),
                    "PS256" => rsa_verify!(pss, sha2::Sha256, k, message, sig),
                    "PS384" => rsa_verify!(pss, sha2::Sha384, k, message, sig),
                    "PS512" => rsa_verify!(pss, sha2::Sha512, k, message, sig),
                    _ => false,
                }
            }
            (Material::P256(p), "ES256") => ecdsa_verify!(p256, p, message, sig),
            (Material::P384(p), "ES384") => ecdsa_verify!(p384, p, message, sig),
            (Material::Ed25519(x), "EdDSA") => {
                let (Ok(k), Ok(s)) = (ed25519_key(x), ed25519_dalek::Signature::from_slice(sig)) else { return false };
                k.verify_strict(message, &s).is_ok()
            }
            (Material::Secret(secret), _) => hmac_ok(alg, secret, message, sig),
            _ => false,
        }
    }
}

fn rsa_key(n: &[u8], e: &[u8]) -> Result<rsa::RsaPublicKey, String> {
    rsa::RsaPublicKey::new(rsa::BigUint::from_bytes_be(n), rsa::BigUint::from_bytes_be(e))
        .map_err(|e| format!("invalid RSA key: {e}"))
}

fn ed25519_key(x: &[u8]) -> Result<ed25519_dalek::VerifyingKey, String> {
    let bytes: [u8; 32] = x.try_into().map_err(|_| "an Ed25519 key has 32 bytes".to_string())?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|e| format!("invalid Ed25519 key: {e}"))
}

fn hmac_ok(alg: &str, secret: &[u8], message: &[u8], sig: &[u8]) -> bool {
    use hmac::Mac;
    macro_rules! check {
        ($d:ty) => {
            match hmac::Hmac::<$d>::new_from_slice(secret) {
                Ok(mut mac) => {
                    mac.update(message);
                    mac.verify_slice(sig).is_ok()
                }
                Err(_) => false,
            }
        };
    }
    match alg {
        "HS256" => check!(sha2::Sha256),
        "HS384" => check!(sha2::Sha384),
        "HS512" => check!(sha2::Sha512),
        _ => false,
    }
}

// ---- verification (per request) ----------------------------------------------------------

/// A token as a request carries it.
pub(crate) struct TokenRef<'a> {
    pub(crate) token: &'a str,
    pub(crate) key_set_id: &'a str,
}

/// The claims of `t`, verified and validated as Cerbos does; `now` in Unix seconds.
/// Errors read as Cerbos's (`token has expired (exp)`, `keyset not found: x`, ...).
pub(crate) fn claims(config: &JwtConfig, t: &TokenRef<'_>, now: Option<i64>) -> Result<Map<String, Value>, String> {
    let mut parts = t.token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err("failed to parse JWT: not a compact JWS (three dot-separated parts)".into());
    };
    let header: Value = serde_json::from_slice(&b64url(h)?).map_err(|e| format!("failed to parse JWT: header: {e}"))?;
    let payload: Value =
        serde_json::from_slice(&b64url(p)?).map_err(|e| format!("failed to parse JWT: payload: {e}"))?;
    let Value::Object(payload) = payload else {
        return Err("failed to parse JWT: the payload is not an object".into());
    };
    if !config.disable_verification {
        verify_signature(config, t.key_set_id, &header, &format!("{h}.{p}"), &b64url(s)?)?;
    }
    validate_times(&payload, now, config.skew_seconds)?;
    Ok(payload
        .into_iter()
        .map(|(k, v)| {
            let v = cerbos_claim(&k, v);
            (k, v)
        })
        .collect())
}

fn verify_signature(
    config: &JwtConfig,
    key_set_id: &str,
    header: &Value,
    message: &str,
    sig: &[u8],
) -> Result<(), String> {
    let set = if key_set_id.is_empty() {
        match config.key_sets.as_slice() {
            [only] => only,
            _ => return Err("no keyset ID provided and there is not exactly one keyset to verify with".into()),
        }
    } else {
        config.key_sets.iter().find(|k| k.id == key_set_id).ok_or_else(|| format!("keyset not found: {key_set_id}"))?
    };
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or_default();
    if !SUPPORTED.contains(&alg) {
        return Err(format!("failed to parse JWT: unsupported algorithm `{alg}`"));
    }
    let kid = header.get("kid").and_then(Value::as_str);
    if kid.is_none() && !set.optional_kid {
        return Err("failed to parse JWT: the token has no key ID (kid)".into());
    }
    let candidates = set.keys.iter().filter(|k| match (kid, &k.kid) {
        (Some(want), Some(have)) => want == have,
        _ => set.optional_kid,
    });
    for k in candidates {
        let alg_ok = match k.alg.as_deref() {
            Some(a) if !a.is_empty() => a == alg,
            _ => set.optional_alg && k.suits(alg),
        };
        if alg_ok && k.verify(alg, message.as_bytes(), sig) {
            return Ok(());
        }
    }
    Err("failed to parse JWT: could not verify the signature with any key of the key set".into())
}

/// `exp`, `nbf` and `iat` against `now`, with the configured skew.
fn validate_times(payload: &Map<String, Value>, now: Option<i64>, skew: i64) -> Result<(), String> {
    let time = |name: &str| -> Result<Option<i64>, String> {
        match payload.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(|f| Some(f.floor() as i64))
                .ok_or_else(|| format!("failed to parse JWT: `{name}` is not a number")),
        }
    };
    let (exp, nbf, iat) = (time("exp")?, time("nbf")?, time("iat")?);
    if exp.is_none() && nbf.is_none() && iat.is_none() {
        return Ok(());
    }
    let Some(now) = now else {
        return Err("the token has time claims and the request has no time to check them against".into());
    };
    if exp.is_some_and(|exp| now - skew >= exp) {
        return Err("token has expired (exp)".into());
    }
    if nbf.is_some_and(|nbf| now + skew < nbf) {
        return Err("token is not valid yet ('nbf')".into());
    }
    if iat.is_some_and(|iat| now + skew < iat) {
        return Err("issued at time is in the future (iat)".into());
    }
    Ok(())
}

/// A claim as Cerbos exposes it: times as RFC 3339 (UTC) strings, the audience as a list.
fn cerbos_claim(name: &str, v: Value) -> Value {
    match (name, &v) {
        ("exp" | "nbf" | "iat", Value::Number(n)) => n
            .as_f64()
            .and_then(|f| chrono::DateTime::from_timestamp(f.floor() as i64, 0))
            .map(|t| Value::String(t.format("%Y-%m-%dT%H:%M:%SZ").to_string()))
            .unwrap_or(v),
        ("aud", Value::String(_)) => Value::Array(vec![v]),
        _ => v,
    }
}
