#!/usr/bin/env bash
# Installs every tool the test suite uses, at once (idempotent; registries only): the wasm
# toolchain (scripts/wasm-tools.sh), the real Cerbos, workerd, Chromium and playwright-core,
# jco, TypeScript, kubectl and helm, and the manifest checks' Python modules. The installers are
# the scripts that use them; this runs them side by side, in the background of test.sh while
# the first build compiles: on a fresh machine they are minutes of downloading and unpacking
# that would otherwise stop the compiler at each step that needs one.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
start=$SECONDS
pids=()
names=()
# installer NAME COMMAND...: runs one installer in the background, its output kept for a failure.
installer() {
  local name="$1"
  shift
  ( "$@" ) > "$LOGS/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
}
LOGS="$(mktemp -d)"
trap 'rm -rf "$LOGS"' EXIT
# wasm-tools.sh's venv also gets the manifest checks' modules: one pip at a time in one venv.
installer wasm-tools bash -c 'source scripts/wasm-tools.sh && install_manifest_python'
installer cerbos bash -c 'source scripts/cerbos.sh'
installer workerd bash -c 'source scripts/workerd.sh'
installer chromium bash -c 'source scripts/chromium.sh'
installer jco bash -c 'source scripts/env.sh && install_jco'
installer typescript bash -c 'source scripts/env.sh && install_typescript'
installer helm bash -c 'source scripts/env.sh && install_helm'
failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "installing ${names[$i]} failed:" >&2
    cat "$LOGS/${names[$i]}.log" >&2
    failed=1
  fi
done
[ "$failed" = 0 ] || exit 1
echo "tools installed or present: ${names[*]} ($((SECONDS - start)) s)"
