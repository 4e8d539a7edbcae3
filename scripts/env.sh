# Shared settings for the project's scripts: a build cache outside the clone, two jobs.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/authz-target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export AUTHZ_CERBOS_TESTDATA="${AUTHZ_CERBOS_TESTDATA:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/../shared/cerbos-testdata}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
