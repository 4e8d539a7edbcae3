#!/usr/bin/env bash
# Cerbos's own clients, unchanged, against `authz serve` and the real `cerbos server` on the
# same policies (policies/example), on loopback: the Python SDK (PyPI cerbos: its HTTP and gRPC
# clients) and the JavaScript HTTP client (npm @cerbos/http) send the same requests to both and
# must get the same answers. (The Rust SDK's test is tests/tests/grpc.rs.) Needs an authz built
# with the `grpc` feature: $AUTHZ_BIN, or this tree's debug build.
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$ROOT/scripts/cerbos.sh"
cd "$ROOT"
AUTHZ="${AUTHZ_BIN:-$CARGO_TARGET_DIR/debug/authz}"
SDK_VENV="$TOOLS/sdk-venv"
if ! "$SDK_VENV/bin/python" -c 'import cerbos, yaml' 2>/dev/null; then
  python3 -m venv "$SDK_VENV" >&2
  "$SDK_VENV/bin/pip" install --quiet --disable-pip-version-check cerbos==0.16.1 PyYAML==6.0.3 >&2
fi
npm_tool npm-cerbos-http @cerbos/http@0.26.0
scratch
"$SDK_VENV/bin/python" tests/sdk/suite_requests.py policies/example/tests/document_test.yaml > "$WORK/requests.json"

# cerbos server, as the differential test starts it.
http_port="$(free_port)"
grpc_port="$(free_port)"
"$CERBOS_BIN" server --log-level=error --debug-listen-addr=127.0.0.1:0 \
  --set=server.httpListenAddr=127.0.0.1:$http_port --set=server.grpcListenAddr=127.0.0.1:$grpc_port \
  --set=storage.driver=disk --set=storage.disk.directory="$ROOT/policies/example" \
  --set=storage.disk.watchForChanges=false > "$WORK/cerbos.log" 2>&1 &
CERBOS=$!
trap 'kill "$CERBOS" 2>/dev/null || true; _scratch_cleanup' EXIT
for _ in $(seq 1 300); do
  if curl -fsS "http://127.0.0.1:$http_port/_cerbos/health" > /dev/null 2>&1; then break; fi
  if ! kill -0 "$CERBOS" 2>/dev/null; then cat "$WORK/cerbos.log" >&2; echo "cerbos server exited" >&2; exit 1; fi
  sleep 0.2
done

# authz serve, HTTP and gRPC.
serve_authz "$AUTHZ" "$WORK/serve.log" --policies policies/example --addr 127.0.0.1:0 --grpc-addr 127.0.0.1:0
grpc="$(sed -n 's|.*listening on grpc://\([0-9.:]*\).*|\1|p' "$WORK/serve.log" | head -n 1)"
if [ -z "$grpc" ]; then
  cat "$WORK/serve.log" >&2
  echo "authz serve did not announce its gRPC address" >&2
  exit 1
fi
curl -fsS "http://127.0.0.1:$http_port/_cerbos/health" > /dev/null

"$SDK_VENV/bin/python" tests/sdk/python_sdk.py "$WORK/requests.json" \
  "http://127.0.0.1:$http_port" "127.0.0.1:$grpc_port" "http://$ADDR" "$grpc"
NODE_PATH="$TOOLS/npm-cerbos-http/node_modules" node tests/sdk/js_sdk.mjs "$WORK/requests.json" \
  "http://127.0.0.1:$http_port" "http://$ADDR"
