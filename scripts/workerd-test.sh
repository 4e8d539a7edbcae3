#!/usr/bin/env bash
# The JS package as an edge function: js/workerd/worker.js under the real workerd (npm, pinned,
# in the tool cache) on loopback, loading the example's core module as Workers require (a wasm
# module, no compilation of bytes at run time); js/workerd/test.mjs compares its answers with
# the native engine's.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
source scripts/workerd.sh
set -euo pipefail
AUTHZ="${AUTHZ_BIN:-$CARGO_TARGET_DIR/debug/authz}"
scratch
"$AUTHZ" bake --policies policies/example --skip-tests --out "$WORK/example.wasm" > /dev/null
# The clock pinned, as the native answers' is.
node js/workerd/prepare.mjs "$WORK/worker" "$WORK/example.wasm" NOW=2026-12-01T12:00:00Z
PORT="$(free_port)"
(cd "$WORK/worker" && exec "$AUTHZ_WORKERD" serve config.capnp --socket-addr "http=127.0.0.1:$PORT") > "$WORK/workerd.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do
  if curl -sf "127.0.0.1:$PORT/readyz" > /dev/null; then break; fi
  if ! kill -0 "$SERVER" 2>/dev/null; then cat "$WORK/workerd.log" >&2; echo "workerd exited" >&2; exit 1; fi
  sleep 0.1
done
echo "workerd $("$AUTHZ_WORKERD" --version) on 127.0.0.1:$PORT: $(curl -s "127.0.0.1:$PORT/readyz")"
WORKERD_URL="http://127.0.0.1:$PORT" AUTHZ_BIN="$AUTHZ" node --test js/workerd/test.mjs
