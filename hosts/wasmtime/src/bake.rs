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
use wasmtime::{Engine, Instance, Linker, Module, Store, Val};
use wasmtime_wizer::{InstanceState, SnapshotVal, ValType};

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
///
/// Wizer's two halves (instrument, snapshot) around our own synchronous instantiation: its
/// `run` needs its `wasmtime` feature, which turns on wasmtime's cache, GC, threads and async
/// support for the whole build (and zstd's C library with the cache), none of which a baked
/// component uses.
fn preinitialize(module: Vec<u8>) -> Result<Vec<u8>, String> {
    let err = |e: wasmtime::Error| format!("pre-initializing: {e:#}");
    let mut wizer = wasmtime_wizer::Wizer::new();
    wizer.init_func(INITIALIZER);
    let (context, instrumented) = wizer.instrument(&module).map_err(err)?;
    // The initializer runs once, so code quality does not matter here: wasmtime's baseline
    // compiler (Winch) compiles the module in a fifth of the CPU time Cranelift takes even
    // unoptimized (0.3 s against 1.6 s for the generic component), and the snapshot (memory
    // and globals) is the same whichever compiled the code that wrote it.
    let mut config = wasmtime::Config::new();
    config.strategy(wasmtime::Strategy::Winch);
    let engine = Engine::new(&config).map_err(err)?;
    let mut store = Store::new(&engine, ());
    let module = Module::new(&engine, &instrumented).map_err(err)?;
    let instance = Linker::new(&engine).instantiate(&mut store, &module).map_err(err)?;
    // A reactor's own initialization first, as wizer's `run` does (the generic component's
    // module, built for wasm32-unknown-unknown, has none).
    if instance.get_export(&mut store, "_initialize").is_some() {
        let initialize = instance.get_typed_func::<(), ()>(&mut store, "_initialize").map_err(err)?;
        initialize.call(&mut store, ()).map_err(err)?;
    }
    let initializer = instance.get_typed_func::<(), ()>(&mut store, INITIALIZER).map_err(err)?;
    initializer.call(&mut store, ()).map_err(|e| format!("pre-initializing: `{INITIALIZER}` trapped: {e:#}"))?;
    let mut state = Snapshotted { store: &mut store, instance, missing: None };
    let snapshot = block_on(wizer.snapshot(&context, &mut state)).map_err(err)?;
    if let Some(missing) = state.missing {
        return Err(format!("pre-initializing: the instrumented module has no {missing}"));
    }
    crate::prune::prune(&snapshot).map(|(module, _)| module)
}

/// The initialized instance, as wizer's snapshot reads it: the globals and memories its
/// instrumentation exported.
struct Snapshotted<'a> {
    store: &'a mut Store<()>,
    instance: Instance,
    /// The first export wizer asked for that was not there (it asks only for those it added,
    /// so this stays `None`; the snapshot is refused if not).
    missing: Option<String>,
}

impl InstanceState for Snapshotted<'_> {
    async fn global_get(&mut self, name: &str, _: ValType) -> SnapshotVal {
        let value = self.instance.get_global(&mut *self.store, name).map(|g| g.get(&mut *self.store));
        match value {
            Some(Val::I32(x)) => SnapshotVal::I32(x),
            Some(Val::I64(x)) => SnapshotVal::I64(x),
            Some(Val::F32(x)) => SnapshotVal::F32(x),
            Some(Val::F64(x)) => SnapshotVal::F64(x),
            Some(Val::V128(x)) => SnapshotVal::V128(x.as_u128()),
            _ => {
                self.missing.get_or_insert_with(|| format!("number global `{name}`"));
                SnapshotVal::I32(0)
            }
        }
    }

    async fn memory_contents(&mut self, name: &str, contents: impl FnOnce(&[u8]) + Send) {
        match self.instance.get_memory(&mut *self.store, name) {
            Some(memory) => contents(memory.data(&*self.store)),
            None => {
                self.missing.get_or_insert_with(|| format!("memory `{name}`"));
                contents(&[]);
            }
        }
    }
}

/// Drives a future that never waits on anything outside it (wizer's snapshot, over an instance
/// it reads synchronously) to completion on this thread.
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
