#!/usr/bin/env bash
# Sets up, builds the example bundle, runs its test suites, answers the example request natively
# and through the baked component, then serves it over HTTP on 127.0.0.1:3592 (`authz serve`).
set -euo pipefail
source "$(dirname "$0")/env.sh"
bash "$ROOT/scripts/setup.sh"
AUTHZ="$CARGO_TARGET_DIR/release/authz"
echo "== authz compile policies/example"
"$AUTHZ" compile "$ROOT/policies/example"
echo "== authz check --policies policies/example < policies/example-request.json"
"$AUTHZ" check --policies "$ROOT/policies/example" < "$ROOT/policies/example-request.json"
echo "== authz bake --policies policies/example --out \$CARGO_TARGET_DIR/authz-wasm/example.wasm --label demo"
OUT="$CARGO_TARGET_DIR/authz-wasm/example.wasm"
"$AUTHZ" bake --policies "$ROOT/policies/example" --out "$OUT" --label demo --skip-tests
source "$ROOT/scripts/wasm-tools.sh"
echo "== wasmtime run --invoke 'bundle-info()' example.wasm"
wasmtime run --invoke 'bundle-info()' "$OUT"
echo "== wasmtime run --invoke 'check-json(...)' example.wasm"
REQUEST="$(python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))' < "$ROOT/policies/example-request.json")"
# The second argument is the host's default options (WAVE: option fields may be left out; `%none`
# is the enum case, `none` the absent option).
wasmtime run --invoke "check-json($REQUEST, {lenient-scopes: false, schema-enforcement: %none, strict-evaluation: false})" "$OUT"
echo
echo "== authz serve: the example bundle built into authz, as an HTTP PDP on 127.0.0.1:3592 (Ctrl-C stops it)"
echo "   in another terminal:"
echo "   curl -s localhost:3592/api/check/resources -d @policies/example-request.json"
echo "   curl -s localhost:3592/access/v1/evaluation -H 'Content-Type: application/json' -d '{\"subject\":{\"type\":\"user\",\"id\":\"alice\",\"properties\":{\"cerbos.roles\":[\"user\"],\"department\":\"finance\"}},\"resource\":{\"type\":\"document\",\"id\":\"d1\",\"properties\":{\"owner\":\"bob\",\"department\":\"finance\"}},\"action\":{\"name\":\"view\"}}'"
if [ "${AUTHZ_DEMO_NO_SERVE:-}" = 1 ]; then
  exit 0
fi
exec "$AUTHZ" serve --audit-log stdout
