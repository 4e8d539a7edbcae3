#!/usr/bin/env bash
# A differential campaign against the real Cerbos: N generated requests (default 100,000) on
# Cerbos's test store (and N/4 on policies/example) from seed SEED (default 1), every answer
# compared with `cerbos server` 0.55; each kind of mismatch is reported with the smallest request
# found that still shows it. CI runs the same test with 2,000 requests (scripts/test.sh).
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$ROOT/scripts/cerbos.sh"
set -euo pipefail
cd "$ROOT"
cargo build -p authz --locked
AUTHZ_DIFF_REQUESTS="${1:-100000}" AUTHZ_DIFF_SEED="${2:-1}" \
  cargo test -p authz-conformance --locked --test differential -- --nocapture
