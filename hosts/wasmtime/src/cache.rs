//! The on-disk cache of precompiled components ([`Config::cache_dir`](crate::Config::cache_dir)):
//! one artifact per component and engine, the least recently used evicted past [`KEEP`], so a
//! server that swaps bundles for months does not fill its disk.

use crate::HostError;
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::time::SystemTime;
use wasmtime::component::Component;
use wasmtime::Engine;

/// A [`Hasher`] whose output depends on the bytes hashed only: sha256, truncated.
struct StableHasher(Sha256);

impl Hasher for StableHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest.get(..8).and_then(|b| b.try_into().ok()).unwrap_or_default())
    }
}

/// Artifacts kept in a cache directory (each ~12 MB for the example bundle; a conformance run
/// uses about 20).
pub const KEEP: usize = 32;

/// Compiles the component, or loads the artifact cached for these exact bytes and this engine.
pub(crate) fn compile(engine: &Engine, bytes: &[u8], cache_dir: Option<&Path>) -> Result<Component, HostError> {
    let load_err = |e: wasmtime::Error| HostError::load("compiling", e);
    let Some(dir) = cache_dir else { return Component::new(engine, bytes).map_err(load_err) };
    // `DefaultHasher` may change between Rust releases (and so every key with it): sha256 does not.
    let mut compat = StableHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut compat);
    let key = format!("{:x}-{:016x}.cwasm", Sha256::digest(bytes), compat.finish());
    let path = dir.join(key);
    if path.is_file() {
        // SAFETY: the file was written by `Component::serialize` below, for these exact bytes
        // and a compatible engine (both are in its name), in a directory the operator chose.
        #[expect(unsafe_code, reason = "deserializing our own precompiled artifact is wasmtime's unsafe API")]
        let cached = unsafe { Component::deserialize_file(engine, &path) };
        if let Ok(component) = cached {
            // Used now: the eviction below keeps the most recently used artifacts.
            let _ = std::fs::File::options().append(true).open(&path).and_then(|f| f.set_modified(SystemTime::now()));
            return Ok(component);
        }
    }
    let component = Component::new(engine, bytes).map_err(load_err)?;
    if let Ok(serialized) = component.serialize() {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let written = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&tmp, serialized));
        if written.and_then(|()| std::fs::rename(&tmp, &path)).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        evict(dir, KEEP);
    }
    Ok(component)
}

/// Whether `name` is one of our artifacts: `<sha256 hex>-<16 hex>.cwasm`.
fn is_artifact(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".cwasm") else { return false };
    let Some((sum, compat)) = stem.split_once('-') else { return false };
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    hex(sum, 64) && hex(compat, 16)
}

/// Removes all but the `keep` most recently used artifacts in `dir`; other files are not ours
/// and stay. Best effort: a file that cannot be read or removed is left.
fn evict(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut artifacts: Vec<(SystemTime, std::path::PathBuf)> = entries
        .flatten()
        .filter(|e| is_artifact(&e.file_name().to_string_lossy()))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    artifacts.sort_by_key(|(used, _)| std::cmp::Reverse(*used));
    for (_, path) in artifacts.iter().skip(keep) {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_artifact_names_are_evicted() {
        assert!(is_artifact(&format!("{}-{}.cwasm", "a".repeat(64), "0123456789abcdef")));
        assert!(!is_artifact(&format!("{}-{}.cwasm", "a".repeat(63), "0123456789abcdef")));
        assert!(!is_artifact(&format!("{}-{}.cwasm", "g".repeat(64), "0123456789abcdef")));
        assert!(!is_artifact(&format!("{}-{}.cwasm.tmp1", "a".repeat(64), "0123456789abcdef")));
        assert!(!is_artifact("notes.cwasm"));
        assert!(!is_artifact("operator-file.txt"));
    }

    #[test]
    fn the_key_hash_is_sha256_so_it_never_changes_with_rust() {
        let mut h = StableHasher(Sha256::new());
        h.write(b"abc");
        // SHA-256("abc") starts ba 78 16 bf 8f 01 cf ea (FIPS 180-2, appendix B.1).
        assert_eq!(h.finish(), u64::from_le_bytes([0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea]));
    }
}
