//! authz's HTTP API as a `wasi:http` component: the gateway Spin, SpinKube and `wasmtime serve`
//! run. It exports `wasi:http/incoming-handler@0.2` and imports the PDP (`authz:pdp/authz`),
//! which `authz bake --http` composes in (or Spin supplies as a component dependency); it holds
//! no engine. Everything it answers is authz-api's: the routes, limits, error bodies and AuthZEN
//! batches of [`authz_api::http::Handler`], the decision records of [`authz_api::audit`]. What
//! is its own is `wasi:http` plumbing: reading the body within the limit, writing the answer,
//! one audit line per decision on stderr (Spin collects a component's output as its logs).
//!
//! Configuration comes from the environment (Spin: the component's `environment`; `wasmtime
//! serve`: `--env`), or, built with the feature `wasi-config` (the build wasmCloud 1.x runs,
//! whose hosts give components no environment), from the component's named configuration
//! (`wasi:config/store`), under the same names; read per request:
//! - `AUTHZ_ALLOW_REQUEST_OPTIONS=1`: requests may carry `authzOptions` (as `authz serve
//!   --allow-request-options`); otherwise such a request is refused;
//! - `AUTHZ_NO_HOST_CLOCK=1`: a request without `now` gets none (time conditions deny), as
//!   `authz serve --no-host-clock`; otherwise the host's wall clock is `now`;
//! - `AUTHZ_GLOBALS`: globals (`G`) as a JSON object, for every request;
//! - `AUTHZ_MAX_RESOURCES`, `AUTHZ_MAX_ACTIONS`, `AUTHZ_MAX_BODY_BYTES`: request limits (the
//!   defaults are `authz serve`'s);
//! - `AUTHZ_RUNTIME`: the runtime its decision records name (default `wasi-http`; the Spin
//!   manifests set `spin`, the wasmCloud manifests `wasmcloud`).

#[cfg(target_arch = "wasm32")]
mod gateway;
