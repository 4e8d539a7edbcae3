#!/usr/bin/env bash
# Instructions per single check, counted by callgrind (repeatable where wall time on this
# machine is not): the native engine, and the typed and JSON calls through the example baked
# into the component in wasmtime. Per call = (count of 1010 calls - count of 10 calls) / 1000,
# so loading, baking and compiling cancel out. Needs valgrind (Debian: apt-get install valgrind).
# Arguments: the modes to count (default: native typed json). `WIDE=1` adds 40 nested
# attributes to the principal and the resource.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
cargo build --release -p authz-wasmtime --example profile_single --locked
bin="$CARGO_TARGET_DIR/release/examples/profile_single"
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
[ $# -gt 0 ] || set -- native typed json
# Bakes once, outside valgrind (the example keeps the baked component).
"$bin" 0 typed >/dev/null
for mode in "$@"; do
  # Under valgrind the CPU looks different to wasmtime, so its compile cache is warmed there.
  [ "$mode" = native ] || count 1 "$mode" >/dev/null
  lo=$(count 10 "$mode")
  hi=$(count 1010 "$mode")
  echo "$mode: $(( (hi - lo) / 1000 )) instructions per check"
done
