#!/usr/bin/env bash
# The JS package's tests in Node (node --test), on the example bundle baked by this tree's authz.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
AUTHZ="${AUTHZ_BIN:-$CARGO_TARGET_DIR/debug/authz}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$AUTHZ" bake --policies policies/example --skip-tests --out "$WORK/example.wasm" > /dev/null
AUTHZ_BIN="$AUTHZ" AUTHZ_JS_COMPONENT="$WORK/example.wasm" node --test js/test/pdp.test.js
# The declared types (index.d.ts, and jco's for the bindings) describe how the package is used.
install_typescript
"$TSC" --noEmit --strict --target es2022 --module nodenext \
  --moduleResolution nodenext --lib es2022,dom js/test/types.ts
# The README's runnable Node example: it runs, and answers as the tests above say the engine does.
out="$(node js/examples/node.mjs "$WORK/example.wasm")"
echo "$out"
grep -qx 'alice may view doc-1: true' <<< "$out"
grep -qx 'alice may edit doc-1: false' <<< "$out"
grep -qx 'AuthZEN: carol may view doc-2: true' <<< "$out"
[ "$(grep -c '^decision: ' <<< "$out")" = 5 ]
