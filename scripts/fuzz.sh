#!/usr/bin/env bash
# Fuzzes what the PDP reads from outside (fuzz/: policy files, CEL conditions, Cerbos and
# AuthZEN requests, serialized bundles) with libFuzzer (crate libfuzzer-sys).
#   bash scripts/fuzz.sh 15            each target for 15 seconds (what CI runs)
#   bash scripts/fuzz.sh --runs 10000000   each target for that many executions (a campaign)
# FUZZ_TARGETS="cel_eval bundle_decode" picks targets (default: all four). FUZZ_SANITIZER picks
# the sanitizer (default none: the code is free of `unsafe`, and AddressSanitizer's allocation
# bookkeeping was the largest cost in a profile of the CEL target; `address` to turn it on,
# which needs the nightly toolchain).
# fuzz/ is a cargo-fuzz project (`cargo fuzz run cel_eval` works there), but this script needs
# no cargo-fuzz: it builds the targets with the instrumentation cargo-fuzz 0.13 passes (SanCov
# 8-bit counters, PC table, compare tracing, stack depth, `--cfg fuzzing`) on the default
# toolchain and runs the binaries itself. Installing cargo-fuzz cost a fresh machine's CI 2.5
# minutes. One difference: cargo-fuzz builds with one codegen unit (faster fuzzing, slower
# builds); a campaign can set FUZZ_CODEGEN_UNITS=1 to do the same.
# The CEL seeds name no time zone: a bundle carrying zone tables builds ~30x slower (3.5 ms),
# which would make the fuzzer spend its time there.
# A campaign (--runs) keeps its corpora in ~/.cache/authz-fuzz/corpus/<target> between runs,
# seeded from the repo; a timed run (CI) starts from the repo's seeds in a directory of its own:
# libFuzzer first replays a whole corpus, which grew past 10,000 inputs per target and then
# took a timed run's whole time. A crash, a hang (an input over 10 s) or running out of memory
# (2 GB) fails the run, and libFuzzer writes the input to fuzz/artifacts/<target>/ to become a
# regression test.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
limit=(-max_total_time="${1:-15}")
if [ "${1:-}" = "--runs" ]; then
  limit=(-runs="${2:?--runs needs a count}")
fi
# The fuzz build has its own flags: not the stable clippy-driver test.sh lints with.
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
export CARGO_TARGET_DIR="$HOME/.cache/authz-fuzz/target"
CORPUS="$HOME/.cache/authz-fuzz/corpus"
if [ "${1:-}" != "--runs" ]; then
  CORPUS="$(mktemp -d "${TMPDIR:-/tmp}/authz-fuzz-corpus.XXXXXX")"
  trap 'rm -rf "$CORPUS"' EXIT
fi
mkdir -p "$CORPUS"/{policy_load,cel_eval,request_decode,bundle_decode}
cp policies/*/*.yaml "$CORPUS/policy_load/" 2>/dev/null || true
cp policies/*.json "$CORPUS/request_decode/"
i=0
while IFS= read -r line; do
  printf '%s' "$line" > "$CORPUS/cel_eval/seed-$i"
  i=$((i + 1))
done < fuzz/seeds/cel_eval/exprs.txt
sanitizer="${FUZZ_SANITIZER:-none}"
toolchain=()
flags=(-Cpasses=sancov-module
  -Cllvm-args=-sanitizer-coverage-level=4
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
  -Cllvm-args=-sanitizer-coverage-pc-table
  -Cllvm-args=-sanitizer-coverage-trace-compares
  -Cllvm-args=-sanitizer-coverage-stack-depth
  -Cllvm-args=-simplifycfg-branch-fold-threshold=0
  --cfg fuzzing)
if [ "$sanitizer" != none ]; then
  toolchain=(+nightly)
  if ! rustup toolchain list | grep -q '^nightly'; then
    echo "FUZZ_SANITIZER=$sanitizer needs the nightly toolchain (rustup toolchain install nightly)" >&2
    exit 1
  fi
  flags+=("-Zsanitizer=$sanitizer")
fi
# A timed run (CI's few seconds per target: do the targets build, replay their seeds and run
# without a crash) is built unoptimized: its build is most of its time, and it is the last
# thing a fresh machine's CI waits for (at opt-level 1 the build took ~150 CPU seconds).
# A campaign (--runs) keeps the release profile's opt-level 3, the speed cargo-fuzz builds
# for. FUZZ_OPT_LEVEL picks either way.
opt_level="${FUZZ_OPT_LEVEL:-$([ "${1:-}" = "--runs" ] && echo 3 || echo 0)}"
if [ -n "${FUZZ_CODEGEN_UNITS:-}" ]; then
  flags+=("-Ccodegen-units=$FUZZ_CODEGEN_UNITS")
fi
# --target: the flags then apply to the fuzzed code, not to build scripts and proc macros.
triple="$(rustc "${toolchain[@]}" -vV | sed -n 's/^host: //p')"
RUSTFLAGS="${flags[*]}" cargo "${toolchain[@]}" build --manifest-path fuzz/Cargo.toml --locked \
  --target "$triple" --release --config 'profile.release.debug="line-tables-only"' \
  --config "profile.release.opt-level=$opt_level" --bins 2>&1 | tail -n 2
BIN="$CARGO_TARGET_DIR/$triple/release"
# Each run logs to its own directory: a CI run and a campaign may share the corpora. A timed
# run removes it when every target passed; a failed run or a campaign keeps it.
LOGS="$(mktemp -d "${TMPDIR:-/tmp}/authz-fuzz-logs.XXXXXX")"
# The targets run side by side, as many at a time as there are cores (FUZZ_JOBS): each is one
# process on one core, and in CI nothing else is left to run by then.
targets=(${FUZZ_TARGETS:-policy_load cel_eval request_decode bundle_decode})
jobs_max="${FUZZ_JOBS:-$(nproc)}"
fuzz_target() {
  local target="$1"
  mkdir -p "fuzz/artifacts/$target"
  local status=0
  "$BIN/$target" -artifact_prefix="fuzz/artifacts/$target/" "$CORPUS/$target" \
    "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$LOGS/$target.log" 2>&1 || status=$?
  echo "$status" > "$LOGS/$target.status"
}
for target in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  fuzz_target "$target" &
done
wait
failed=0
for target in "${targets[@]}"; do
  log="$LOGS/$target.log"
  if [ "$(cat "$LOGS/$target.status" 2>/dev/null)" != 0 ]; then
    tail -n 40 "$log" >&2
    echo "fuzz target $target FAILED (input in fuzz/artifacts/$target/; logs in $LOGS)" >&2
    failed=1
    continue
  fi
  runs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  secs=$(grep -ao 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo '?')
  echo "fuzz $target (opt-level $opt_level): $runs executions, 0 crashes (${secs}s, corpus $(ls "$CORPUS/$target" | wc -l) inputs)"
done
[ "$failed" = 0 ] || exit 1
if [ "${1:-}" = "--runs" ]; then
  echo "fuzz logs: $LOGS"
else
  rm -rf "$LOGS"
fi
