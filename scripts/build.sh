#!/usr/bin/env bash
# Builds the native tools and tests (build/release), the WebAssembly module and tests (build/wasm) and the threaded
# WebAssembly module (build/wasm-mt).
# CORTEXLENS_DATA_DIR points at the published data (default ../shared/data/v4); without it the build still works.
set -euo pipefail
cd "$(dirname "$0")/.."
export NODE_PATH=/usr/share/nodejs   # Emscripten's JS optimizer needs Debian's acorn
jobs=$(nproc)
data_arg=()
[ -n "${CORTEXLENS_DATA_DIR:-}" ] && data_arg=(-DCORTEXLENS_DATA_DIR="$CORTEXLENS_DATA_DIR")

# `site`: only what the page needs (the CLI that packs the models, the two wasm modules), not the tests and
# benchmarks: what serve.sh builds, so a fresh clone reaches a served page sooner. The threaded module (~45 s more)
# runs only on cross-origin-isolated pages, so `site` builds it only with CORTEXLENS_ISOLATE=1 (serve.sh serves
# that way only then).
mode=${1:-all}
case "$mode" in
  all | native | wasm | site) ;;
  *) echo "usage: scripts/build.sh [all|native|wasm|site]" >&2; exit 2 ;;
esac
native_targets=() wasm_targets=()
[ "$mode" = site ] && native_targets=(--target cortexlens) &&
  wasm_targets=(--target cortexlens_wasm --target cortexlens_lab_wasm)

if [ "$mode" != wasm ]; then
  cmake --preset release "${data_arg[@]}" >/dev/null
  cmake --build --preset release -j "$jobs" "${native_targets[@]}"
fi
if [ "$mode" != native ]; then
  emcmake cmake --preset wasm "${data_arg[@]}" >/dev/null
  cmake --build --preset wasm -j "$jobs" "${wasm_targets[@]}"
  # The threaded module for cross-origin-isolated pages (the module target only).
  if [ "$mode" != site ] || [ "${CORTEXLENS_ISOLATE:-0}" = 1 ]; then
    emcmake cmake --preset wasm-mt >/dev/null
    cmake --build --preset wasm-mt -j "$jobs"
  fi
fi
