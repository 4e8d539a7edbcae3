//! One deployable `wasi:http` component: the gateway (`spin-app/`, which imports
//! `authz:pdp/authz`) composed with a baked PDP (which exports it), in process with
//! `wac-graph`. The result exports `wasi:http/incoming-handler` and imports only the WASI
//! interfaces the gateway imports: what `wasmtime serve`, Spin and SpinKube run.

use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};

/// The gateway component (committed; `scripts/build-gateway.sh` rebuilds it and CI requires
/// the same bytes).
pub const GATEWAY: &[u8] = include_bytes!("../../spin-app/authz-gateway.wasm");

/// The interface the gateway imports and the PDP exports.
const PDP_INTERFACE: &str = "authz:pdp/authz@0.1.0";

/// The interface the composed component exports.
const HTTP_HANDLER: &str = "wasi:http/incoming-handler@0.2.4";

/// Why composing failed (a component that is no baked PDP, or one of another WIT version).
#[derive(Debug, thiserror::Error)]
#[error("composing the HTTP gateway with the PDP: {0}")]
pub struct ComposeError(String);

/// `gateway` with its `authz:pdp/authz` import satisfied by the PDP `baked`.
pub fn http_app(gateway: &[u8], baked: &[u8]) -> Result<Vec<u8>, ComposeError> {
    let err = |what: &str, e: &dyn std::fmt::Display| ComposeError(format!("{what}: {e}"));
    let mut graph = CompositionGraph::new();
    let pdp = Package::from_bytes("authz:pdp", None, baked.to_vec(), graph.types_mut())
        .map_err(|e| err("reading the PDP", &e))?;
    let pdp = graph.register_package(pdp).map_err(|e| err("registering the PDP", &e))?;
    let gw = Package::from_bytes("authz:gateway", None, gateway.to_vec(), graph.types_mut())
        .map_err(|e| err("reading the gateway", &e))?;
    let gw = graph.register_package(gw).map_err(|e| err("registering the gateway", &e))?;
    let pdp = graph.instantiate(pdp);
    let authz = graph.alias_instance_export(pdp, PDP_INTERFACE).map_err(|e| err("the PDP's export", &e))?;
    let gw = graph.instantiate(gw);
    graph.set_instantiation_argument(gw, PDP_INTERFACE, authz).map_err(|e| err("plugging the PDP in", &e))?;
    let handler = graph.alias_instance_export(gw, HTTP_HANDLER).map_err(|e| err("the gateway's export", &e))?;
    graph.export(handler, HTTP_HANDLER).map_err(|e| err("exporting the handler", &e))?;
    graph.encode(EncodeOptions::default()).map_err(|e| err("encoding", &e))
}
