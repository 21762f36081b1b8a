#!/usr/bin/env bash
# Installs everything Cortex Lens needs on a fresh Debian 12 machine, from Debian's packages and npm only.
# Safe to run again: apt and npm skip what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake ninja-build g++ pkg-config       # native build
  clang-format                           # C++ formatting (scripts/lint.sh)
  clang libclang-rt-dev                  # sanitizer build and libFuzzer targets (ASan, UBSan, libFuzzer runtimes)
  libstb-dev nlohmann-json3-dev catch2   # header-only libraries, native and wasm
  libeigen3-dev                          # least squares and ridge regression (pruning, fit)
  libzip-dev libhdf5-dev                 # .keras containers, native only (the page uses fflate + jsfive)
  libarchive-dev                         # tar archives of images for `cortexlens screen`, native only
  zlib1g-dev                             # gzip sizes printed by `cortexlens pack`
  emscripten node-acorn                  # WebAssembly (Emscripten 3.1.6 with the system clang)
  chromium                               # headless browser tests (driven by playwright-core)
  python3                                # static file server for the page (http.server, in scripts/serve.sh)
  python3-dev pybind11-dev python3-numpy # the Python package cortexlens (python/, `pip install .`)
  python3-setuptools python3-wheel python3-pip python3-venv  # its offline build backend and the test venv
  python3-pytest python3-dask python3-distributed           # its tests, and screening on a Dask cluster
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js: wasm tests under node, bundling, the TF.js reference, Playwright. Machines that already have node and
# npm (e.g. from NodeSource, whose nodejs bundles npm) keep them: Debian's npm package conflicts with that nodejs.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  # onnxruntime-node (bench only) ships its Linux x64 CPU library in the package; its postinstall would fetch CUDA
  # libraries from NuGet, which this network cannot reach: skip it (package.json's allowScripts denies it too, for
  # npm 11; the variable covers older npm).
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
fi
