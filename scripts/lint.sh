#!/usr/bin/env bash
# Fails on unformatted or lint-failing code: clang-format (C++), Biome (JS, JSON, CSS: formatter and linter), and the
# 120-column limit for what neither formats (shell, CMake, Python). `bash scripts/lint.sh --fix` formats in place.
set -euo pipefail
cd "$(dirname "$0")/.."
fix=false
[ "${1:-}" = --fix ] && fix=true

mapfile -t cpp < <(git ls-files '*.cpp' '*.hpp' '*.h')
if $fix; then
  clang-format -i --style=file "${cpp[@]}"
  node_modules/.bin/biome check --write .
else
  clang-format --dry-run --Werror --style=file "${cpp[@]}"
  node_modules/.bin/biome ci .
fi

long=$(git ls-files '*.sh' '*CMakeLists.txt' '*.cmake' '*.py' .ci/run '.github/**' |
  xargs awk 'length > 120 { printf "%s:%d: %d characters\n", FILENAME, FNR, length }')
if [ -n "$long" ]; then
  echo "lint: lines over 120 characters:" >&2
  echo "$long" >&2
  exit 1
fi
echo "lint: clean (clang-format ${#cpp[@]} C++ files, Biome, line lengths)"
