//! The baked component as the benchmark and the profiling examples load it (included with
//! `#[path]` by each: benches and examples share no module otherwise).

use authz_engine::Bundle;

/// The bundle baked into the generic component.
pub fn baked(bundle: &Bundle) -> Result<Vec<u8>, String> {
    let path = authz_conformance::runtime::generic_component_path();
    let generic = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    authz_wasmtime::bake::bake(&generic, &bundle.to_bytes()).map_err(|e| e.to_string())
}

/// [`baked`], kept in the build cache under the SHA-256 of both inputs, so runs
/// under a profiler (where baking is slow) bake once.
#[allow(dead_code)] // the criterion benchmark bakes in-process
pub fn baked_cached(bundle: &Bundle) -> Result<Vec<u8>, String> {
    use sha2::{Digest, Sha256};
    let path = authz_conformance::runtime::generic_component_path();
    let mut key = Sha256::new();
    key.update(std::fs::read(&path).unwrap_or_default());
    key.update(bundle.to_bytes());
    let dir = authz_conformance::runtime::wasm_dir();
    let _ = std::fs::create_dir_all(&dir);
    let cached = dir.join(format!("baked-{:x}.wasm", key.finalize()));
    if let Ok(bytes) = std::fs::read(&cached) {
        return Ok(bytes);
    }
    let bytes = baked(bundle)?;
    // Bakes of earlier builds are stale: keep only this one.
    if let Some(dir) = cached.parent() {
        for old in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = old.file_name();
            if name.to_string_lossy().starts_with("baked-") && old.path() != cached {
                let _ = std::fs::remove_file(old.path());
            }
        }
    }
    std::fs::write(&cached, &bytes).map_err(|e| format!("{}: {e}", cached.display()))?;
    Ok(bytes)
}

/// The host's defaults, with `warm_instances` and the on-disk compile cache beside the
/// generic component (so a run measures calls, not Cranelift).
pub fn config(warm_instances: usize) -> authz_wasmtime::Config {
    let cache_dir = authz_conformance::runtime::compile_cache_dir();
    authz_wasmtime::Config { warm_instances, cache_dir: Some(cache_dir), ..Default::default() }
}
