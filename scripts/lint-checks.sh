#!/usr/bin/env bash
# The lints no test build covers, as `cargo clippy` checks: the benchmarks (their Cedar,
# regorus and criterion are never built for the tests: unified with the tests' graph they
# would change features the tests depend on, e.g. serde_json's float parsing) and the crates
# built for wasm32 (authz-api, the component, the wasi:http gateway: their builds use a plain
# rustc, as built by clippy-driver they differ from the committed bytes).
#
# In a target directory of their own (AUTHZ_CHECK_TARGET, default ~/.cache/authz-check-target):
# a check shares no artifact with a build, so this directory costs nothing twice, and a
# `cargo test` running meanwhile in the main one does not block it. test.sh runs this in the
# background while the tests run, which leave a core idle most of the time.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
export CARGO_TARGET_DIR="${AUTHZ_CHECK_TARGET:-$HOME/.cache/authz-check-target}"
# `cargo clippy` sets its own wrapper.
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
start=$SECONDS
# authz-api and the gateway in one run (the gateway enables no feature of authz-api): each run
# resolves the build-time crates' features anew, and separate runs compiled syn, the
# wit-bindgen macros and their parsers again.
cargo clippy -p authz-api -p authz-spin-gateway --target wasm32-wasip2 --locked -- -D warnings
CHRONO_TZ_TIMEZONE_FILTER='^UTC$' cargo clippy -p authz-component --target wasm32-unknown-unknown --locked -- -D warnings
# Its wasmCloud 1.x build (settings from wasi:config/store).
cargo clippy -p authz-spin-gateway --target wasm32-wasip2 --features wasi-config --locked -- -D warnings
# authz as `cargo install --path cli` builds it by default: without the gRPC API (the tests
# build it with), and the benchmarks (timings are never asserted: run them with `cargo bench`,
# BENCHMARKS.md), in one run: the benchmarks enable no feature of a workspace crate, and two
# runs checked the engine and its dependencies twice.
cargo clippy -p authz -p authz-benches --all-targets --locked -- -D warnings
echo "clippy checks passed: authz without gRPC, the benchmarks, authz-api, the component and the gateway for wasm32 ($((SECONDS - start)) s)"
