#!/usr/bin/env bash
# Installs the real Cerbos PDP (npm @cerbos/cerbos-linux-x64, the reference for every semantic
# question) into a cache outside the clone and exports CERBOS_BIN. Source it. Cerbos always runs
# with CERBOS_NO_TELEMETRY=1 (exported here) and on loopback only.
set -euo pipefail
CERBOS_VERSION="${CERBOS_VERSION:-0.55.0}"
CERBOS_DIR="${AUTHZ_TOOLS_DIR:-$HOME/.cache/authz-tools}/cerbos-$CERBOS_VERSION"
CERBOS_BIN="$CERBOS_DIR/node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64"
if [ ! -x "$CERBOS_BIN" ]; then
  mkdir -p "$CERBOS_DIR"
  npm install --silent --no-audit --no-fund --prefix "$CERBOS_DIR" "@cerbos/cerbos-linux-x64@$CERBOS_VERSION" >&2
fi
export CERBOS_BIN
export CERBOS_NO_TELEMETRY=1
