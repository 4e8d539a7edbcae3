#!/usr/bin/env bash
# Installs authz the way a user would — `cargo install --path cli --locked` into a fresh root,
# with no AUTHZ_* variables and none of the project's build settings — then checks that the
# installed binary bakes the example bundle and serves `--policies policies/example` over HTTP.
#
#   bash scripts/install-check.sh           # what CI runs: the dev profile (`--debug`) with the
#                                           # gRPC API (`--features grpc`), on the dependencies
#                                           # the tests already compiled
#   bash scripts/install-check.sh --fresh   # the release profile and default features (no
#                                           # protoc needed) in a brand-new CARGO_TARGET_DIR
#                                           # (what a user's first install does; ~10 min here)
#
# What the check is for, a binary that is complete without the project's environment (the
# generic component and the gateway embedded, nothing read from the tree at run time), does not
# depend on the profile; a second release build of wasmtime did: it was 10 of a fresh machine's
# CI minutes. The shared cache cannot hide a missing file: CI builds a fresh clone, whose files
# are all newer than anything cached, so every workspace crate is compiled from them again.
set -euo pipefail
# The project's settings are read only for the helpers: the install itself runs without them.
source "$(dirname "$0")/env.sh"
scratch
if [ "${1:-}" = "--fresh" ]; then
  TARGET="$WORK/target"
  PROFILE=()
else
  TARGET="$CARGO_TARGET_DIR"
  # With the gRPC API, as the tests built it (its protoc is the one thing of ours a user's
  # environment keeps: PROTOC, where a user's protoc would be named).
  install_protoc
  PROFILE=(--debug --features grpc)
  # Reusing the tests' dependencies needs the same features in both graphs.
  python3 "$ROOT/scripts/feature-check.py"
fi
# A user's environment: none of ours (AUTHZ_*, the project's target dir or flags).
unset_args=()
for v in $(env | sed -n 's/^\(AUTHZ_[A-Za-z0-9_]*\)=.*/\1/p') RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_TARGET_DIR \
  RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS; do
  unset_args+=(-u "$v")
done
start=$(date +%s)
env "${unset_args[@]}" CARGO_TARGET_DIR="$TARGET" \
  cargo install --path "$ROOT/cli" --locked "${PROFILE[@]}" --root "$WORK/root" --jobs "${CARGO_BUILD_JOBS:-2}" --quiet
echo "cargo install --path cli --locked ${PROFILE[*]}: $(( $(date +%s) - start )) s (target dir $TARGET)"
AUTHZ="$WORK/root/bin/authz"
cd "$WORK"

echo "== authz bake --policies policies/example"
"$AUTHZ" bake --policies "$ROOT/policies/example" --out "$WORK/example.wasm"
test -s "$WORK/example.wasm"

echo "== authz serve --policies policies/example"
serve_authz "$AUTHZ" "$WORK/serve.log" --policies "$ROOT/policies/example" --addr 127.0.0.1:0
response="$(python3 - "$ADDR" "$ROOT/policies/example-request.json" <<'PY'
import json, sys, urllib.request
addr, path = sys.argv[1], sys.argv[2]
with open(path, "rb") as f:
    body = f.read()
req = urllib.request.Request(f"http://{addr}/api/check/resources", data=body, method="POST")
with urllib.request.urlopen(req, timeout=30) as r:
    out = json.load(r)
actions = out["results"][0]["actions"]
assert out["bundleDigest"].startswith("sha256:"), out
assert set(actions.values()) <= {"EFFECT_ALLOW", "EFFECT_DENY"} and "EFFECT_ALLOW" in actions.values(), out
print(json.dumps(actions, sort_keys=True))
PY
)"
echo "decided: $response"
echo "install check passed"
