#!/usr/bin/env bash
# The long fuzzing campaign: every libFuzzer target (tests/fuzz/) for FUZZ_CAMPAIGN_SECONDS (default 1800) at once,
# under `nice -n 19` so it only takes CPU nobody else wants, then the JS property tests of the browser's readers in
# their long mode. Each target's growing corpus, log and any crashing input stay under build/fuzz-campaign/; the
# summary gives per target the executions, the coverage (cov: edges, ft: features) and the findings.
# Usage: scripts/fuzz_campaign.sh [BUILD_DIR]   (default build/fuzz: `cmake --preset fuzz && cmake --build
#   --preset fuzz`; build/sanitize holds the same targets)
# FUZZ_CAMPAIGN_SECONDS per C++ target; FUZZ_JS_SECONDS per JS reader (default 600; 0 skips them); FUZZ_TARGETS: a
# space-separated subset of the C++ targets (e.g. to run one again after a fix; "none": the JS ones only). The
# corpora grow across runs.
# fuzz_keras_archive runs in libFuzzer's fork mode and goes on after a crash: its crashes so far were inside
# Debian's libhdf5, which `cortexlens` contains (it reads weights in a child process with bounded memory,
# native/child_process.cpp). Every crashing or out-of-memory input is then triaged: `cortexlens info`
# (CORTEXLENS_CLI, default build/release/native/cortexlens) must answer it with a message and exit 1, and the
# input's stack says whose code crashed (libhdf5's or ours, to fix).
set -euo pipefail
cd "$(dirname "$0")/.."
# Leaks inside Debian's libhdf5 are its own (tests/fuzz/lsan.supp); ours still fail the run.
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# A hostile .weights.h5 can make libhdf5 ask malloc for 2^54 bytes: glibc then returns NULL and HDF5 reports a
# corrupt file (`cortexlens info` says "its groups cannot be listed"), but ASan aborts by default. Returning NULL as
# glibc does tests what users run; a huge allocation of our own still fails the run (std::bad_alloc, no exceptions).
export ASAN_OPTIONS="allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
build=${1:-build/fuzz}
seconds=${FUZZ_CAMPAIGN_SECONDS:-1800}
js_seconds=${FUZZ_JS_SECONDS:-600}
source scripts/fuzz_targets.sh
[ -n "${FUZZ_TARGETS:-}" ] && read -ra fuzz_targets <<<"$FUZZ_TARGETS"
[ "${FUZZ_TARGETS:-}" = none ] && fuzz_targets=()
readers=(keras-reader lessons)
[ "$js_seconds" = 0 ] && readers=()
out=build/fuzz-campaign
mkdir -p "$out"
pids=()
mkdir -p "$out/bin" "$out/artifacts"
for target in "${fuzz_targets[@]+"${fuzz_targets[@]}"}"; do
  # A copy of each binary runs, so rebuilding the tree meanwhile does not pull it from under the run.
  cp "$build/tests/$target" "$out/bin/"
  mkdir -p "$out/corpus/$target"
  # The run stops at its first crash (its input is then in artifacts/); elapsed_seconds says how long it ran.
  # libFuzzer's timeout is wall-clock time, and a niced run on a busy machine can wait many seconds for a core: a
  # loose timeout keeps that from being reported as a hang (a real one still is).
  (
    started=$SECONDS
    keep_going=()
    [ "$target" = fuzz_keras_archive ] && keep_going=(-fork=1 -ignore_crashes=1)
    # shellcheck disable=SC2046
    nice -n 19 "$out/bin/$target" -max_total_time="$seconds" -timeout=300 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$out/artifacts/$target-" $(fuzz_options "$target") \
      "${keep_going[@]+"${keep_going[@]}"}" \
      "$out/corpus/$target" $(fuzz_seeds "$target") || echo "exit status $?"
    echo "elapsed_seconds: $((SECONDS - started))"
  ) >"$out/$target.log" 2>&1 &
  pids+=($!)
done
# The JS readers' properties (fast-check: tests/wasm/fuzz-*.test.mjs) alongside, each reader for its own budget.
for reader in "${readers[@]}"; do
  CORTEXLENS_FUZZ_SECONDS=$js_seconds CORTEXLENS_FUZZ_HANG_SECONDS=300 \
    nice -n 19 node --test "tests/wasm/fuzz-$reader.test.mjs" >"$out/js-$reader.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]+"${pids[@]}"}"; do wait "$pid" || status=1; done

# A crashing input of fuzz_keras_archive through `cortexlens info`, the way a user opens it: a message and exit 1
# is contained; a signal is not. Its in-process stack (the fuzz target on that one input) names the crashing code.
cli=${CORTEXLENS_CLI:-build/release/native/cortexlens}
triage() {
  local input=$1 dir opened status where
  dir=$(mktemp -d)
  if [ "$(head -c 4 "$input" | od -An -c | tr -d ' ')" = "211HDF" ]; then
    cp "$input" "$dir/model.weights.h5"
    unzip -p models/demo/demo_dot_detector.keras config.json >"$dir/config.json"
    opened=$dir/model.weights.h5
  else
    cp "$input" "$dir/model.keras"
    opened=$dir/model.keras
  fi
  status=0
  "$cli" info "$opened" >/dev/null 2>"$dir/message" || status=$?
  where=$("$out/bin/fuzz_keras_archive" -rss_limit_mb=2048 "$input" 2>&1 |
    grep -m1 -E '^ +#[0-9]+ .* in (cortexlens::|H5)|out-of-memory' | grep -oE 'in [^ (]+|out-of-memory' |
    head -1 || true)
  if [ "$status" = 1 ] && [ -s "$dir/message" ]; then
    echo "  $(basename "$input"): in process ${where:-?}; cortexlens: $(cut -c1-150 "$dir/message")"
  else
    echo "  $(basename "$input"): in process ${where:-?}; cortexlens exit $status: NOT CONTAINED"
    contained=false
  fi
  rm -rf "$dir"
}

contained=true
for target in "${fuzz_targets[@]+"${fuzz_targets[@]}"}"; do
  log=$out/$target.log
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  # Fork mode prints no final stats: its last status line has the executions and the rate.
  [ -z "$execs" ] && execs=$(sed -nE 's/^#([0-9]+): cov.*/\1/p' "$log" | tail -1)
  [ -z "$rate" ] && rate=$(sed -nE 's/^#[0-9]+: cov.* exec\/s ([0-9]+) .*/\1/p' "$log" | tail -1)
  crashes=$(find "$out/artifacts" -name "$target-*" ! -name "$target-slow-unit-*" | wc -l)
  minutes=$(($(sed -n 's/^elapsed_seconds: *//p' "$log") / 60))
  echo "$target: $minutes min, ${execs:-?} executions (${rate:-?}/s)," \
    "$(grep -oE 'cov: [0-9]+ ft: [0-9]+' <<<"$last"), corpus $(find "$out/corpus/$target" -type f | wc -l) files," \
    "$crashes crashing inputs"
  if [ "$target" = fuzz_keras_archive ] && [ "$crashes" -gt 0 ]; then
    if [ -x "$cli" ]; then
      while read -r input; do triage "$input"; done < <(find "$out/artifacts" -name "$target-crash-*" -o \
        -name "$target-oom-*")
    else
      echo "  (no $cli to triage them with)"
    fi
  fi
done
[ "$contained" = true ] || status=1
for reader in "${readers[@]}"; do
  echo "JS $reader: $(grep -E '^# [0-9]+ inputs' "$out/js-$reader.log" | tr -d '#' | tr '\n' ';')" \
    "$(grep -E '^# (pass|fail) ' "$out/js-$reader.log" | tr -d '#' | tr '\n' ' ')"
done
exit $status
