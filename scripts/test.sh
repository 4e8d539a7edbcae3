#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and conformance tests, example policy suites.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
if [ ! -d "$AUTHZ_CERBOS_TESTDATA" ]; then
  echo "!!! Cerbos test data not found at $AUTHZ_CERBOS_TESTDATA: conformance cases will be reported as SKIPPED" >&2
fi
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test (engine, cli)"
cargo test --workspace --exclude authz-conformance --exclude authz-benches --locked
echo "== Cerbos conformance corpus (pass counts per corpus)"
cargo test -p authz-conformance --locked -- --nocapture --test-threads 1
echo "== benchmarks compile (timings are never asserted: run them with cargo bench)"
cargo bench -p authz-benches --locked --no-run
echo "== example policy suites"
cargo build -p authz --locked
for dir in policies/*/; do
  "$CARGO_TARGET_DIR/debug/authz" compile "$dir"
done
