#!/usr/bin/env bash
# Generates the JS package's bindings (js/glue/) from the generic component with jco (npm
# @bytecodealliance/jco, pinned, in the tool cache). Every baked component has the generic
# component's structure, so these bindings serve any of them (js/index.js instantiates the
# baked component's own core module with them). js/glue/ is committed; CI regenerates it and
# requires the same files.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
install_jco
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
"$JCO" transpile component/authz-pdp-generic.wasm -o "$OUT" --name authz --instantiation async \
  --no-nodejs-compat --quiet
rm -f "$OUT"/*.wasm
rm -rf js/glue
mkdir -p js/glue
cp -r "$OUT"/. js/glue/
echo "js/glue: $(find js/glue -type f | wc -l) files from component/authz-pdp-generic.wasm (jco 1.35.0)"
