#!/usr/bin/env bash
# Builds the generic authz component (no bundle baked in) and prints its sizes:
#   cargo (wasm32-unknown-unknown core module) -> wasm-opt -Oz -> wasm-tools component new (no adapter).
# The result imports nothing. Output: component/authz-pdp-generic.wasm, which is committed: the
# authz binary embeds it (so `cargo install --path cli` needs no wasm toolchain), and CI rebuilds it
# and requires the same bytes (scripts/test.sh). The build is reproducible: pinned tools
# (scripts/wasm-tools.sh), and no machine path in it (registry paths are remapped; the
# workspace's are relative).
set -euo pipefail
source "$(dirname "$0")/wasm-tools.sh"
set -euo pipefail
cd "$ROOT"
# A plain rustc: built by clippy-driver (test.sh's workspace wrapper) the same sources give
# other bytes, and the committed file is compared byte for byte (scripts/lint-checks.sh lints
# this crate for wasm32).
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
OUT="$ROOT/component/authz-pdp-generic.wasm"
WORK="$CARGO_TARGET_DIR/authz-wasm"
mkdir -p "$WORK"
# Panic locations name source files; the registry's lives under $CARGO_HOME, which differs by machine.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="--remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"
# The guest never reads chrono-tz's database (bundles carry their zones: engine/src/cel/tz.rs);
# the cel crate's own zone lookup still links it unless filtered out, and it was ~870 KB.
export CHRONO_TZ_TIMEZONE_FILTER='^UTC$'
cargo build --profile wasm --target wasm32-unknown-unknown -p authz-component --locked
CORE="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm/authz_component.wasm"
OPT="$WORK/authz_component.opt.wasm"
# Rust 1.95's wasm32 output uses these features; --all-features would emit instructions hosts reject.
WASM_OPT_ARGS=(-Oz --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int
  --enable-mutable-globals --enable-multivalue --enable-reference-types)
# wasm-opt takes ~40 s here and its output depends only on its input, its version and its
# arguments: kept in a cache under that key, so a core module cargo rebuilt to the same bytes
# (a fresh clone, a change elsewhere) is not optimized again.
OPT_CACHE="$WORK/wasm-opt-cache"
key="$( { sha256sum < "$CORE"; wasm-opt --version; echo "${WASM_OPT_ARGS[*]}"; } | sha256sum | cut -c1-64)"
if [ -f "$OPT_CACHE/$key.wasm" ]; then
  cp "$OPT_CACHE/$key.wasm" "$OPT"
  echo "wasm-opt: output cached for this core module ($OPT_CACHE/$key.wasm)"
else
  wasm-opt "${WASM_OPT_ARGS[@]}" "$CORE" -o "$OPT"
  mkdir -p "$OPT_CACHE"
  # The eight most recent outputs are kept.
  cp "$OPT" "$OPT_CACHE/$key.tmp" && mv "$OPT_CACHE/$key.tmp" "$OPT_CACHE/$key.wasm"
  ls -t "$OPT_CACHE"/*.wasm | tail -n +9 | xargs -r rm -f
fi
wasm-tools component new "$OPT" -o "$WORK/generic.tmp.wasm"
wasm-tools validate "$WORK/generic.tmp.wasm"
# Replaced only when it changed: the authz binary embeds it, and a new modification time alone
# would make cargo rebuild it (test.sh builds this beside the native build).
if cmp -s "$WORK/generic.tmp.wasm" "$OUT"; then
  rm "$WORK/generic.tmp.wasm"
else
  mv "$WORK/generic.tmp.wasm" "$OUT"
fi
echo "generic component: $OUT"
printf '  core module %9d bytes\n  wasm-opt -Oz %9d bytes\n  component    %9d bytes (gzip %d)\n' \
  "$(stat -c %s "$CORE")" "$(stat -c %s "$OPT")" "$(stat -c %s "$OUT")" "$(gzip -9c "$OUT" | wc -c)"
