//! The `authz:pdp` component: exports the `authz` interface over `authz-engine`.
//! It decides nothing itself and imports nothing (no WASI): time arrives in requests.
//! The policy bundle lives in the [`slot`], which [`bake::bake`] fills in a built generic
//! component, so baking needs no compiler and instantiation parses nothing.

pub mod arena;
pub mod bake;
pub mod slot;

#[cfg(target_arch = "wasm32")]
#[expect(unsafe_code, reason = "wit-bindgen generates the canonical-ABI export glue with unsafe code")]
mod guest;
