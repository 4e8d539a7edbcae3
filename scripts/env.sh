# Shared settings for the project's scripts: a build cache outside the clone, two jobs.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/authz-target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export AUTHZ_CERBOS_TESTDATA="${AUTHZ_CERBOS_TESTDATA:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/../shared/cerbos-testdata}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
# The tool cache (npm and PyPI tools the scripts install once).
TOOLS="${AUTHZ_TOOLS_DIR:-$HOME/.cache/authz-tools}"

# npm_tool DIR PACKAGE@VERSION: installs an npm package into $TOOLS/DIR unless it is there.
npm_tool() {
  local name="${2%@*}"
  if [ ! -f "$TOOLS/$1/node_modules/$name/package.json" ]; then
    mkdir -p "$TOOLS/$1"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS/$1" "$2" >&2
  fi
}

# free_port: a loopback port nothing listens on now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# scratch: a temporary directory in $WORK, removed when the script exits, together with the
# background process whose pid the script puts in $SERVER (a server it started there).
scratch() {
  WORK="$(mktemp -d)"
  SERVER=""
  trap _scratch_cleanup EXIT
}
_scratch_cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
