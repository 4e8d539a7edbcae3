# Sourced: builds the wasmCloud 2.x host (wasmcloud/host: wasmCloud's runtime library,
# wash-runtime, running a WorkloadDeployment) and exports AUTHZ_WASMCLOUD_HOST, the binary the
# conformance harness and the HTTP API tests run the PDP in (tests/src/runtime.rs: Wasmcloud).
# Its own lock file and target directory, outside the clone: wash-runtime brings its own
# wasmtime (31), which must neither be unified with the main build's nor rebuilt per CI run.
# The dev profile, with only what compiles each PDP the host loads optimized
# (wasmcloud/host/Cargo.toml): a test host, built once per machine.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
AUTHZ_WASMCLOUD_TARGET="${AUTHZ_WASMCLOUD_TARGET:-$HOME/.cache/authz-wasmcloud-target}"
# Under test.sh, its clippy-driver lints the host's own code in this build.
CARGO_TARGET_DIR="$AUTHZ_WASMCLOUD_TARGET" cargo build --locked \
  --manifest-path "$ROOT/wasmcloud/host/Cargo.toml" >&2
export AUTHZ_WASMCLOUD_HOST="$AUTHZ_WASMCLOUD_TARGET/debug/authz-wasmcloud-host"
