#!/usr/bin/env bash
# Sets up the machine, builds everything, and runs every test: formatting and lint, native Catch2 (core + published
# models), the same core tests compiled to wasm under node, the wasm module's node tests, the TensorFlow.js
# independent check (float models, and the int8 packs the site build makes), and the browser tests in headless
# Chromium; then, when the published data is present, the page built without it and its browser tests. Prints each
# stage's time.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/stage_timer.sh

stage "setup (Debian packages, npm ci)"
bash scripts/setup.sh
stage "formatting and lint (clang-format, Biome)"
bash scripts/lint.sh
stage "build: native, wasm, threaded wasm"
bash scripts/build.sh
# The test programs are independent processes (each writes its own folder): as many at once as there are cores.
stage "native tests (ctest)"
ctest --preset release -j "$(nproc)"
# The Python package as a user installs it: `pip install .` into a fresh virtual environment that sees Debian's numpy,
# dask and pytest (offline: the build backend is Debian's setuptools), then its tests (they compare with the CLI
# built above).
stage "Python package: pip install . into a fresh venv"
rm -rf build/py-venv
/usr/bin/python3 -m venv --system-site-packages build/py-venv
build/py-venv/bin/pip install --no-build-isolation --no-index --quiet .
stage "Python package: pytest (tests/python)"
build/py-venv/bin/python -m pytest -q -p no:cacheprovider tests/python
stage "core tests compiled to WebAssembly, under node (ctest), and again with SAFE_HEAP + ASSERTIONS=2"
ctest --preset wasm
# The same objects linked with Emscripten's run-time checks (every load and store checked: ~1 minute).
NODE_PATH=/usr/share/nodejs cmake --build --preset wasm-checked  # Emscripten's JS optimizer needs Debian's acorn
ctest --preset wasm-checked
# The whole native suite again under address + undefined-behaviour sanitizers (clang, -O1), the published models'
# suite included (its gradient check on a smaller sample there: CORTEXLENS_SANITIZED), then each libFuzzer target for
# a few seconds on its committed seeds (the same build holds them).
stage "native tests under ASan + UBSan (ctest --preset sanitize), fuzz targets' smoke"
cmake --preset sanitize >/dev/null
cmake --build --preset sanitize -j "$(nproc)"
ctest --preset sanitize -j "$(nproc)"
bash scripts/fuzz_smoke.sh build/sanitize
stage "the site: the page and the model packs (the int8 check below reads the packs)"
bash scripts/build_site.sh
# Two files at a time: the TensorFlow.js checks over every model (float, int8: ~1.5 minutes each on one core) run
# side by side. The browser tests below stay one file at a time: their pages use every core.
stage "node tests: wasm module, Keras reader, TensorFlow.js reference (float and int8)"
node --test --test-concurrency=2 tests/wasm/ tests/reference/
stage "the page: end-to-end tests in headless Chromium"
node --test --test-concurrency=1 tests/browser/
# The page as a new user builds it, without the published data (the demo model and dropped files only; what the
# "demo" CI job runs): its own site folder, and the browser tests that apply to it (they read the site's manifest).
# Skipped when the pass above already had no data.
data=${CORTEXLENS_DATA_DIR:-../shared/data/v4}
if [ -d "$data/compact_models" ]; then
  stage "without the published data: the site and its browser tests"
  nodata=(env CORTEXLENS_DATA_DIR=/nonexistent CORTEXLENS_SITE_DIR=build/site-nodata)
  "${nodata[@]}" bash scripts/build_site.sh
  "${nodata[@]}" CORTEXLENS_SCREENSHOT_DIR=build/site-test-screenshots/nodata \
    node --test --test-concurrency=1 tests/browser/
else
  echo "(no second pass without the published data: the passes above had none)"
fi
stage ""
