#!/usr/bin/env bash
# Sets up the machine, builds everything, and runs every test: native Catch2 (core + published models),
# the same core tests compiled to wasm under node, the wasm module's node tests, the TensorFlow.js
# independent check (float models, and the int8 packs the site build makes), and the browser tests in headless
# Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh

echo "== native tests (ctest) =="
ctest --preset release
echo "== core tests compiled to WebAssembly, under node (ctest) =="
ctest --preset wasm
echo "== the site: the page and the model packs (the int8 check below reads the packs) =="
bash scripts/build_site.sh
echo "== node tests: wasm module, Keras reader, TensorFlow.js reference (float and int8) =="
node --test tests/wasm/ tests/reference/
echo "== the page: end-to-end tests in headless Chromium =="
node --test --test-concurrency=1 tests/browser/
