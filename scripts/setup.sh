#!/usr/bin/env bash
# Installs what the project needs on a fresh machine (idempotent): the authz binary (with the
# committed generic component built in) and the wasm tools the demo runs (wasmtime CLI), into
# caches outside the clone.
set -euo pipefail
source "$(dirname "$0")/env.sh"
if ! command -v cargo >/dev/null; then
  echo "error: cargo not found; install Rust with rustup first" >&2
  exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
source "$ROOT/scripts/wasm-tools.sh"
cargo build --release -p authz --locked 2>&1 | tail -n 2
