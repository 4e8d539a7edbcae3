#!/usr/bin/env bash
# Builds the wasi:http gateway component (spin-app/: authz's HTTP API, importing the PDP) for
# wasm32-wasip2 and prints its size and imports. Output: spin-app/authz-gateway.wasm, committed
# like the generic component: the authz binary embeds it (`authz bake --http` composes it with a
# baked PDP), and CI rebuilds it and requires the same bytes (scripts/test.sh).
set -euo pipefail
source "$(dirname "$0")/wasm-tools.sh"
set -euo pipefail
cd "$ROOT"
# A plain rustc: built by clippy-driver (test.sh's workspace wrapper) the same sources give
# other bytes, and the committed file is compared byte for byte (scripts/lint-checks.sh lints
# this crate for wasm32).
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
OUT="$ROOT/spin-app/authz-gateway.wasm"
# Panic locations name source files; the registry's lives under $CARGO_HOME, which differs by machine.
export CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS="--remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"
cargo build --profile wasm --target wasm32-wasip2 -p authz-spin-gateway --locked
BUILT="$CARGO_TARGET_DIR/wasm32-wasip2/wasm/authz_spin_gateway.wasm"
wasm-tools validate "$BUILT"
# Replaced only when it changed: the authz binary embeds it (`authz bake --http`), and a new
# modification time alone would make cargo rebuild it.
if ! cmp -s "$BUILT" "$OUT"; then
  cp "$BUILT" "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
fi
echo "gateway component: $OUT ($(stat -c %s "$OUT") bytes, gzip $(gzip -9c "$OUT" | wc -c))"
