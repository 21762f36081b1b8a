#!/usr/bin/env bash
# CI smoke of the libFuzzer targets: each runs for a few seconds on its committed seeds (tests/fuzz/corpus, the
# committed bad inputs and models, the keras dictionary), so a target that no longer builds, no longer accepts its
# seeds or crashes on a near neighbour of them fails the run. Long runs: scripts/fuzz_campaign.sh.
# Usage: scripts/fuzz_smoke.sh [BUILD_DIR] (default build/sanitize: the sanitize preset builds the targets too)
# FUZZ_SMOKE_SECONDS: seconds per target (default 12; four targets, two at a time on two cores: half a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
# Leaks inside Debian's libhdf5 are its own (tests/fuzz/lsan.supp); ours still fail the run.
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# A hostile .weights.h5 can make libhdf5 ask malloc for 2^54 bytes: glibc then returns NULL and HDF5 reports a
# corrupt file (`cortexlens info` says "its groups cannot be listed"), but ASan aborts by default. Returning NULL as
# glibc does tests what users run; a huge allocation of our own still fails the run (std::bad_alloc, no exceptions).
export ASAN_OPTIONS="allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
build=${1:-build/sanitize}
seconds=${FUZZ_SMOKE_SECONDS:-12}
source scripts/fuzz_targets.sh
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
artifacts=build/fuzz-artifacts
mkdir -p "$artifacts"
smoke() {
  local target=$1
  mkdir -p "$scratch/$target"
  # libFuzzer writes what it finds into the first folder: a scratch one, never the repository's seeds. A fixed seed:
  # every run tries the same mutations in the same order, so a run fails only where the previous one would have.
  # shellcheck disable=SC2046
  "$build/tests/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -seed=1 \
    -artifact_prefix="$artifacts/$target-" $(fuzz_options "$target") "$scratch/$target" $(fuzz_seeds "$target") \
    2>"$scratch/$target.log" || {
    tail -40 "$scratch/$target.log" >&2
    echo "fuzz_smoke: $target failed; the input is in $artifacts/ (reproduce: $build/tests/$target FILE)" >&2
    return 1
  }
  echo "$target: $(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$target.log") inputs," \
    "$(grep -E '^#[0-9]+' "$scratch/$target.log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')"
}
# Each target is one process on one core: as many at once as there are cores (half the wall time on two).
jobs=$(nproc)
failed=0
running=0
for target in "${fuzz_targets[@]}"; do
  if ((running >= jobs)); then
    wait -n || failed=1
    running=$((running - 1))
  fi
  smoke "$target" &
  running=$((running + 1))
done
while ((running > 0)); do
  wait -n || failed=1
  running=$((running - 1))
done
exit "$failed"
