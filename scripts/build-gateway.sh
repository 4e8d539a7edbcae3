#!/usr/bin/env bash
# Builds the wasi:http gateway component (spin-app/: authz's HTTP API, importing the PDP) for
# wasm32-wasip2 and prints its size. Output: spin-app/authz-gateway.wasm, committed like the
# generic component: the authz binary embeds it (`authz bake --http` composes it with a baked
# PDP), and CI rebuilds it and requires the same bytes (scripts/test.sh). Also its build for
# wasmCloud 1.x, whose settings come from wasi:config/store (feature `wasi-config`):
# wasmcloud/authz-gateway-wasmcloud1.wasm, committed and compared the same way.
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
# build FEATURES OUT: one build of the gateway, into OUT.
build() {
  cargo build --profile wasm --target wasm32-wasip2 -p authz-spin-gateway --locked $1
  local built="$CARGO_TARGET_DIR/wasm32-wasip2/wasm/authz_spin_gateway.wasm"
  wasm-tools validate "$built"
  # Replaced only when it changed: the authz binary embeds it (`authz bake --http`), and a new
  # modification time alone would make cargo rebuild it.
  if ! cmp -s "$built" "$2"; then
    cp "$built" "$2.tmp" && mv "$2.tmp" "$2"
  fi
  echo "gateway component: $2 ($(stat -c %s "$2") bytes, gzip $(gzip -9c "$2" | wc -c))"
}
build "--features wasi-config" "$ROOT/wasmcloud/authz-gateway-wasmcloud1.wasm"
build "" "$OUT"
