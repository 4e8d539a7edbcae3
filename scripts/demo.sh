#!/usr/bin/env bash
# Sets up, builds the example bundle, runs its test suites and answers the example request.
set -euo pipefail
source "$(dirname "$0")/env.sh"
bash "$ROOT/scripts/setup.sh"
AUTHZ="$CARGO_TARGET_DIR/release/authz"
echo "== authz compile policies/example"
"$AUTHZ" compile "$ROOT/policies/example"
echo "== authz check --policies policies/example < policies/example-request.json"
"$AUTHZ" check --policies "$ROOT/policies/example" < "$ROOT/policies/example-request.json"
