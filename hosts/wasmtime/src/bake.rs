//! Baking with pre-initialization. The bundle goes into the generic component's data
//! ([`authz_component::bake`]); then the baked core module's `authz_preinitialize` export runs
//! once (decoding the bundle, building the CEL runtime) and the instance's memory is snapshotted
//! into the module's data (wasmtime's wizer), which also drops that export. A fresh instance of
//! the result starts with the decoded bundle in memory: instantiation decodes and builds nothing.
//! The code only the initializer reached is then dropped (the private `prune` module).
//! The component's world is untouched: the initializer was never a component export.

use crate::seal::SigningKey;
use authz_component::bake::BakeError;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use wasmtime::{Engine, Linker, Store};

/// The core module's initializer (see `component/src/guest.rs`).
const INITIALIZER: &str = "authz_preinitialize";

/// Bakes `bundle` (serialized, [`authz_engine::Bundle::to_bytes`]) into the `generic`
/// component, pre-initializes the result and seals it ([`crate::seal`]).
pub fn bake(generic: &[u8], bundle: &[u8]) -> Result<Vec<u8>, BakeError> {
    bake_signed(generic, bundle, None)
}

/// [`bake`], with the seal signed by `key` when one is given.
pub fn bake_signed(generic: &[u8], bundle: &[u8], key: Option<&SigningKey>) -> Result<Vec<u8>, BakeError> {
    let baked = authz_component::bake::bake_with(generic, bundle, preinitialize)?;
    // Bytes that are no bundle bake to a component that says so on every call; its seal
    // then names no bundle.
    let digest = authz_engine::Bundle::from_bytes(bundle).map(|b| b.digest().to_string()).unwrap_or_default();
    Ok(crate::seal::seal(&baked, &digest, key))
}

/// Runs a baked core module's initializer once and returns the snapshot: the same module with
/// its initialized memory as data and without the initializer export.
fn preinitialize(module: Vec<u8>) -> Result<Vec<u8>, String> {
    let err = |e: wasmtime::Error| format!("pre-initializing: {e:#}");
    // The initializer runs once, so code quality does not matter here: unoptimized code
    // compiles in less time, and the snapshot (memory and globals) is the same.
    let mut config = wasmtime::Config::new();
    config.cranelift_opt_level(wasmtime::OptLevel::None);
    let engine = Engine::new(&config).map_err(err)?;
    let mut store = Store::new(&engine, ());
    let mut wizer = wasmtime_wizer::Wizer::new();
    wizer.init_func(INITIALIZER);
    let run = wizer.run(&mut store, &module, async |store, module| {
        Linker::new(store.engine()).instantiate_async(store, module).await
    });
    let snapshot = block_on(run).map_err(err)?;
    crate::prune::prune(&snapshot).map(|(module, _)| module)
}

/// Drives a future that never waits on anything outside it (wasmtime's async calls into a
/// module with no imports) to completion on this thread.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::yield_now();
    }
}
