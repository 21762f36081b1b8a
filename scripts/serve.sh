#!/usr/bin/env bash
# Sets up, builds, builds the site, and serves it at http://127.0.0.1:${PORT:-8080}/ (static files only).
# SKIP_BUILD=1 serves the existing build/site as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SKIP_BUILD:-}" ]; then
  bash scripts/setup.sh
  bash scripts/build.sh
  bash scripts/build_site.sh
fi
site=${CORTEXLENS_SITE_DIR:-build/site}
echo "serving $site at http://127.0.0.1:${PORT:-8080}/ (Ctrl+C stops)"
exec python3 -m http.server "${PORT:-8080}" --directory "$site" --bind 127.0.0.1
