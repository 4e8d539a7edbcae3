#!/usr/bin/env bash
# The JS package as an edge function: js/workerd/worker.js under the real workerd (npm, pinned,
# in the tool cache) on loopback, loading the example's core module as Workers require (a wasm
# module, no compilation of bytes at run time); js/workerd/test.mjs compares its answers with
# the native engine's.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
npm_tool npm-workerd workerd@1.20261117.1
WORKERD="$TOOLS/npm-workerd/node_modules/.bin/workerd"
AUTHZ="${AUTHZ_BIN:-$CARGO_TARGET_DIR/debug/authz}"
scratch
mkdir -p "$WORK/glue"
cp js/workerd/worker.js js/workerd/config.capnp js/index.js "$WORK/"
cp js/glue/authz.js "$WORK/glue/"
"$AUTHZ" bake --policies policies/example --skip-tests --out "$WORK/example.wasm" > /dev/null
node -e 'import(process.argv[1]).then((m) => { const fs = require("fs");
  fs.writeFileSync(process.argv[3], m.coreModuleBytes(fs.readFileSync(process.argv[2]))); })' \
  "$ROOT/js/index.js" "$WORK/example.wasm" "$WORK/pdp.wasm"
PORT="$(free_port)"
(cd "$WORK" && exec "$WORKERD" serve config.capnp --socket-addr "http=127.0.0.1:$PORT") > "$WORK/workerd.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do
  if curl -sf "127.0.0.1:$PORT/readyz" > /dev/null; then break; fi
  if ! kill -0 "$SERVER" 2>/dev/null; then cat "$WORK/workerd.log" >&2; echo "workerd exited" >&2; exit 1; fi
  sleep 0.1
done
echo "workerd $("$WORKERD" --version) on 127.0.0.1:$PORT: $(curl -s "127.0.0.1:$PORT/readyz")"
WORKERD_URL="http://127.0.0.1:$PORT" AUTHZ_BIN="$AUTHZ" node --test js/workerd/test.mjs
