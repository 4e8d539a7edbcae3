#!/usr/bin/env bash
# Installs what the project needs on a fresh machine (idempotent): the wasm toolchain into a
# cache outside the clone, the generic component, and the authz binary with it built in.
set -euo pipefail
source "$(dirname "$0")/env.sh"
if ! command -v cargo >/dev/null; then
  echo "error: cargo not found; install Rust with rustup first" >&2
  exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
bash "$ROOT/scripts/build-component.sh" | tail -n 4
cargo build --release -p authz --locked 2>&1 | tail -n 2
