#!/usr/bin/env bash
# Fuzzes what the PDP reads from outside (fuzz/: policy files, CEL conditions, Cerbos and
# AuthZEN requests, serialized bundles) with cargo-fuzz (libFuzzer) on the nightly toolchain.
#   bash scripts/fuzz.sh 15            each target for 15 seconds (what CI runs)
#   bash scripts/fuzz.sh --runs 10000000   each target for that many executions (a campaign)
# FUZZ_TARGETS="cel_eval bundle_decode" picks targets (default: all four). FUZZ_SANITIZER picks
# the sanitizer (default none: the code is free of `unsafe`, and AddressSanitizer's allocation
# bookkeeping was the largest cost in a profile of the CEL target; `address` to turn it on).
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
TOOLS="${AUTHZ_TOOLS_DIR:-$HOME/.cache/authz-tools}"
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzzing needs the nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
fi
if [ ! -x "$TOOLS/bin/cargo-fuzz" ]; then
  cargo +stable install cargo-fuzz --locked --root "$TOOLS" >&2
fi
export PATH="$TOOLS/bin:$PATH"
# The fuzz crate builds with nightly: not through the stable clippy-driver test.sh lints with.
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
cargo +nightly fuzz build -O -s "$sanitizer" --fuzz-dir fuzz 2>&1 | tail -n 2
# Each run logs to its own directory: a CI run and a campaign may share the corpora.
LOGS="$(mktemp -d "${TMPDIR:-/tmp}/authz-fuzz-logs.XXXXXX")"
echo "fuzz logs: $LOGS"
for target in ${FUZZ_TARGETS:-policy_load cel_eval request_decode bundle_decode}; do
  log="$LOGS/$target.log"
  if ! cargo +nightly fuzz run -O -s "$sanitizer" --fuzz-dir fuzz "$target" "$CORPUS/$target" -- \
      "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz target $target FAILED (input in fuzz/artifacts/$target/)" >&2
    exit 1
  fi
  runs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  secs=$(grep -ao 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo '?')
  echo "fuzz $target: $runs executions, 0 crashes (${secs}s, corpus $(ls "$CORPUS/$target" | wc -l) inputs)"
done
