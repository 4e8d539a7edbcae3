#!/usr/bin/env bash
# The JS package's numbers beside the other runtimes', in one run (BENCHMARKS.md): one request's
# warm check latency natively, through the component in wasmtime and in Node
# (tests/examples/runtimes.rs, which runs js/bench.mjs), then workerd's start, instantiation and
# warm request times (js/workerd/bench.mjs). Timings are printed, never asserted.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
source scripts/workerd.sh
set -euo pipefail
cargo build --release -p authz --locked
cargo run --release -p authz-conformance --example runtimes --locked
scratch
"$CARGO_TARGET_DIR/release/authz" bake --policies policies/example --skip-tests --out "$WORK/example.wasm" > /dev/null
node js/workerd/prepare.mjs "$WORK/worker" "$WORK/example.wasm" NOW=2026-12-01T12:00:00Z
cat > "$WORK/request.json" <<'JSON'
{"requestId":"bench","principal":{"id":"alice","roles":["user"],"attr":{"department":"finance"}},"resources":[{"actions":["view"],"resource":{"kind":"document","id":"doc-0","attr":{"owner":"alice","department":"finance","status":"DRAFT"}}}]}
JSON
PORT="$(free_port)"
STARTED="$(date +%s%3N)"
"$AUTHZ_WORKERD" serve "$WORK/worker/config.capnp" --socket-addr "http=127.0.0.1:$PORT" > "$WORK/workerd.log" 2>&1 &
SERVER=$!
node js/workerd/bench.mjs "127.0.0.1:$PORT" "$STARTED" "$WORK/request.json"
