#!/usr/bin/env bash
# The whole test suite: the component and the wasi:http gateway rebuilt (same bytes as
# committed), the component's world, formatting, lints (native, wasm32, authz-api's purity),
# unit and host tests, the conformance corpus through every runtime (native, component in
# wasmtime, authz serve over HTTP, the wasi:http app under wasmtime serve, the JS package in
# Node, Chromium and workerd, the wasmCloud 2.x workload, the wasmCloud 1.x application on a
# 1.x host with NATS), HTTP server tests, a short fuzzing
# run, the JS package's own tests, `cargo install` as a user does it, the Spin/SpinKube and
# wasmCloud manifests, example suites.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
# Each step is announced with the seconds since the start: where a CI run's time goes.
step() { echo "== [${SECONDS} s] $*"; }
if [ ! -d "$AUTHZ_CERBOS_TESTDATA" ]; then
  echo "!!! Cerbos test data not found at $AUTHZ_CERBOS_TESTDATA: conformance cases will be reported as SKIPPED" >&2
fi
# Background steps: each in a process group of its own (however this script ends, its cargo
# and rustc end with it), its output kept and printed if it fails.
declare -A BG_PID BG_LOG
background() {
  local name="$1"
  shift
  BG_LOG[$name]="$(mktemp)"
  setsid "$@" > "${BG_LOG[$name]}" 2>&1 &
  BG_PID[$name]=$!
}
# await NAME: waits for a background step; its failure fails the run.
await() {
  if ! wait "${BG_PID[$1]}"; then
    cat "${BG_LOG[$1]}" >&2
    echo "the background step \`$1\` failed (its log is above)" >&2
    exit 1
  fi
  unset "BG_PID[$1]"
  # The summary lines of the scripts it ran (with their times), and its last line (once, when
  # it is one of them).
  { grep -E '^(tools installed|generic component:|gateway component:|js/glue:|clippy checks passed|fuzz )' \
    "${BG_LOG[$1]}" || true; tail -n 1 "${BG_LOG[$1]}"; } | uniq | sed "s/^/   $1: /"
}
cleanup() {
  local pid
  for pid in "${BG_PID[@]}"; do kill -- -"$pid" 2>/dev/null || true; done
  rm -f "${BG_LOG[@]}"
}
trap cleanup EXIT
# clippy-driver compiles the workspace members (cargo's RUSTC_WORKSPACE_WRAPPER and CLIPPY_ARGS,
# exactly what `cargo clippy -- -D warnings` sets, but for a build rather than a check): the lints
# come with the one build the tests run, and the dependencies are compiled once, not also
# checked. Every cargo command below that builds the workspace selects the same packages and
# targets as this one, so that cargo unifies the same features and rebuilds nothing (a
# different selection, e.g. with the benchmarks' Cedar and regorus, or `-p authz` alone,
# recompiles wasmtime). The wasmCloud host's build is linted the same way. The wasm builds
# (their bytes are compared with the committed ones), fuzz.sh (its own instrumented build),
# lint-checks.sh (`cargo clippy`) and install-check.sh (a user's environment) unset it.
RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver)"
export RUSTC_WORKSPACE_WRAPPER
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
# With the gRPC API (authz's `grpc` feature, through the conformance crate's, whose gRPC test
# asks it with the Rust Cerbos SDK): the SDK's build script needs protoc.
TESTED=(--workspace --exclude authz-benches --features authz-conformance/grpc --locked)
install_protoc
step "in the background: the tools (scripts/tools.sh), then the wasm builds and the wasmCloud hosts"
# Downloads and single-threaded stretches (LTO, wasm-opt) beside the native build below.
background wasm bash -c 'bash scripts/tools.sh && bash scripts/build-component.sh \
  && bash scripts/build-gateway.sh && bash scripts/build-js.sh && source scripts/wasmcloud.sh \
  && source scripts/wasmcloud1.sh'
step "cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path wasmcloud/host/Cargo.toml -- --check
cargo fmt --manifest-path wasmcloud/host1/Cargo.toml -- --check
step "authz-api: pure (neither wasmtime nor CEL in its tree; it is linted for wasm32 by scripts/lint-checks.sh)"
if cargo tree -p authz-api -e normal --prefix none --locked | grep -E '^(wasmtime|cel|authz-engine) '; then
  echo "authz-api must not depend on wasmtime, the CEL interpreter or the engine" >&2
  exit 1
fi
step "the native build (linted by clippy-driver): every crate but the benchmarks, as the tests build them"
cargo test "${TESTED[@]}" --no-run
# The component benchmarks (hosts/wasmtime/benches): run once each as tests, below.
cargo test "${TESTED[@]}" --bench component --no-run
# The component's engine (`prepared`: only prepare() builds the CEL runtime): the test that runs
# it (the whole corpus runs through it too, inside the component, in every runtime but native).
# Selected as above, with the feature added: `-p authz-engine` alone unifies other features and
# compiled its dependencies a second time.
PREPARED=("${TESTED[@]}" --features authz-engine/prepared --test prepared)
cargo test "${PREPARED[@]}" --no-run
step "in the background from now on, at the lowest CPU priority: clippy on the other configurations (scripts/lint-checks.sh), then fuzzing"
# Each fuzz target for a short, bounded time (a campaign: bash scripts/fuzz.sh --runs N). Their
# own target directories. Nothing waits for them but the end of the run, so they take only the
# CPU the wasm lane's end (its last crates compile one at a time) and the tests leave idle: at
# normal priority from here, on a fresh machine, they held the wasm lane back from 1,271 s to
# 1,561 s, and with it every conformance test.
# The priority is the session's: a background step is a session of its own, and where the kernel
# groups each session's processes for scheduling (autogroup, on by default in most
# distributions' kernels) a group gets its share whatever its processes' nice values are, so
# `nice` alone left this step a third of the CPU; its group's nice is set too
# (/proc/self/autogroup, where that file exists).
background checks bash -c "{ echo 19 > /proc/self/autogroup; } 2> /dev/null; exec nice -n 19 bash -c \
  'bash scripts/lint-checks.sh && bash scripts/fuzz.sh ${AUTHZ_FUZZ_SECONDS:-10}'"
# The tests, in two runs of `cargo test` over the same selection (so that nothing is rebuilt),
# each test target in exactly one (scripts/test-targets.py splits them by package): the
# conformance crate's run the corpus through every runtime, so they wait for the wasm lane's
# builds, tools and hosts; the others (unit tests, the engine's, authz-api's, the CLI's, the
# wasmtime host's) need none of it and run now, while that lane finishes: on a fresh machine
# its wasmCloud 1.x host outlasts the native build by minutes. One test at a time: the
# conformance servers are shared per test binary. Each test binary's start is stamped with the
# run's seconds, as the steps are.
run_tests() {
  cargo test "${TESTED[@]}" "$@" -- --nocapture --test-threads 1 2>&1 | while IFS= read -r line; do
    case "$line" in
      *"     Running "*) echo "== [${SECONDS} s] ${line#"${line%%Running*}"}" ;;
      *) printf '%s\n' "$line" ;;
    esac
  done
}
# (Assigned first, so that a failure of the script fails the run; an empty list would make
# `cargo test` run every target instead.)
early="$(python3 scripts/test-targets.py --except authz-conformance)"
conformance="$(python3 scripts/test-targets.py --only authz-conformance)"
if [ -z "$early" ] || [ -z "$conformance" ]; then
  echo "scripts/test-targets.py found no test targets to split" >&2
  exit 1
fi
mapfile -t EARLY_TESTS <<< "$early"
mapfile -t CONFORMANCE_TESTS <<< "$conformance"
step "cargo test while the wasm lane finishes: unit tests; the engine's, authz-api's, the CLI's and the wasmtime host's tests"
run_tests --lib --bins "${EARLY_TESTS[@]}"
step "the background steps: the tools, the wasm builds, the wasmCloud hosts"
await wasm
step "the generic component (rebuilt above) is the committed one"
if ! git ls-files --error-unmatch component/authz-pdp-generic.wasm > /dev/null 2>&1 \
  || ! git diff --quiet -- component/authz-pdp-generic.wasm; then
  echo "component/authz-pdp-generic.wasm is not committed, or differs from the committed one: the component's sources changed" >&2
  echo "without it being rebuilt, or the build is not reproducible here; rebuilt with this tree, commit it" >&2
  echo "(git add component/authz-pdp-generic.wasm) if the change is meant" >&2
  exit 1
fi
step "the wasi:http gateway (spin-app/) and its wasmCloud 1.x build (rebuilt above) are the committed ones"
# Tracked, too: an ignored or untracked file would pass the diff and be missing from a clone.
for gateway in spin-app/authz-gateway.wasm wasmcloud/authz-gateway-wasmcloud1.wasm; do
  if ! git ls-files --error-unmatch "$gateway" > /dev/null 2>&1 || ! git diff --quiet -- "$gateway"; then
    echo "$gateway is not committed, or differs from the committed one: the gateway's sources changed without it" >&2
    echo "being rebuilt (bash scripts/build-gateway.sh), or the build is not reproducible here" >&2
    exit 1
  fi
done
step "the JS package's bindings (js/glue: jco on the generic component; regenerated above) are the committed ones"
if ! git diff --quiet -- js/glue || [ -n "$(git status --porcelain -- js/glue)" ]; then
  echo "js/glue differs from the committed bindings: the component's world changed without" >&2
  echo "bash scripts/build-js.sh being run, or jco's output is not reproducible here" >&2
  exit 1
fi
source scripts/wasm-tools.sh
set -euo pipefail
step "the component's world (imports nothing) matches component/tests/world.golden.wit"
if ! diff -u component/tests/world.golden.wit <(wasm-tools component wit component/authz-pdp-generic.wasm); then
  echo "the component's WIT world changed: review, then update component/tests/world.golden.wit" >&2
  exit 1
fi
step "the real Cerbos (npm @cerbos/cerbos-linux-x64): it compiles and tests every shipped policy directory"
source scripts/cerbos.sh
set -euo pipefail
for dir in policies/*/; do
  "$CERBOS_BIN" compile "$dir"
done
# The conformance runtimes include the JS package under workerd and in Chromium and the
# wasmCloud workload, and the HTTP API tests serve through workerd and wasmCloud too. The HTTP
# runtimes run this build's `authz` (target/debug/authz, built above for the CLI's tests).
source scripts/workerd.sh
source scripts/chromium.sh
set -euo pipefail
# The wasmCloud 2.x host (wasmcloud/host: wash-runtime, its own wasmtime, cached outside the
# clone), built above: this sets AUTHZ_WASMCLOUD_HOST.
source scripts/wasmcloud.sh
set -euo pipefail
# The wasmCloud 1.x host (wasmcloud/host1: wasmcloud-host, cached outside the clone) and NATS,
# built and installed above: this sets AUTHZ_WASMCLOUD1_HOST and AUTHZ_NATS_SERVER.
source scripts/wasmcloud1.sh
set -euo pipefail
step "cargo test: the Cerbos corpus and example suites through native = component in wasmtime ="
echo "   authz serve = the wasi:http app under wasmtime serve (Spin) = the JS package in Node, in"
echo "   Chromium and under workerd = the wasmCloud 2.x workload = the wasmCloud 1.x application"
echo "   (a 1.x host, NATS, the PDP linked over wRPC); HTTP tests; the differential corpus against"
echo "   cerbos server; then the doc tests"
run_tests "${CONFORMANCE_TESTS[@]}"
cargo test "${TESTED[@]}" --doc
cargo test "${PREPARED[@]}"
cargo test "${TESTED[@]}" --bench component
step "the JS package in Node (node --test): the example's answers equal the native engine's"
bash scripts/js-test.sh
step "the JS package as an edge function under workerd: answers equal the native engine's"
bash scripts/workerd-test.sh
step "the JS package in headless Chromium: a page's answers equal the native engine's"
bash scripts/browser-test.sh
step "cargo install --path cli: a user's build bakes and serves --policies"
bash scripts/install-check.sh
step "Cerbos's own clients against authz serve and cerbos server: the Python SDK (HTTP, gRPC), @cerbos/http"
bash scripts/sdk-check.sh
step "Spin, SpinKube and wasmCloud manifests: spin.toml, helm lint/template, SpinApps and the WorkloadDeployment against their CRDs, wadm against its schema"
bash scripts/deploy-check.sh
step "example policy suites, and baking each example"
for dir in policies/*/; do
  "$CARGO_TARGET_DIR/debug/authz" compile "$dir"
  out="$CARGO_TARGET_DIR/authz-wasm/$(basename "$dir").wasm"
  "$CARGO_TARGET_DIR/debug/authz" bake --policies "$dir" --out "$out" --skip-tests
  wasmtime run --invoke 'bundle-info()' "$out"
done
step "the background steps: clippy on the other configurations, fuzzing"
await checks
step "all passed"
