#!/usr/bin/env bash
# Sets up, builds, builds the site, and serves it at http://127.0.0.1:${PORT:-8080}/ (static files only).
# SKIP_BUILD=1 serves the existing build/site as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SKIP_BUILD:-}" ]; then
  source scripts/stage_timer.sh
  stage "setup (Debian packages, npm ci)"
  bash scripts/setup.sh
  stage "build: what the page needs (the CLI, the wasm modules)"
  bash scripts/build.sh site
  stage "the site: the page and the model packs"
  # The threaded module is built (and shipped) only for a cross-origin-isolated page, the one page that runs it; an
  # older build/wasm-mt left from such a run is not shipped with a page that would not use it.
  if [ "${CORTEXLENS_ISOLATE:-0}" = 1 ]; then bash scripts/build_site.sh; else
    CORTEXLENS_WASM_MT_BUILD='' bash scripts/build_site.sh; fi
  stage ""
fi
site=${CORTEXLENS_SITE_DIR:-build/site}
isolated=''
if [ "${CORTEXLENS_ISOLATE:-0}" = 1 ]; then
  isolated=', cross-origin isolated (threaded module)'
  [ -f "$site/cortexlens-mt.wasm" ] || isolated=", cross-origin isolated (this site has no threaded module: the\
 single-threaded one runs; serve.sh with CORTEXLENS_ISOLATE=1 and without SKIP_BUILD builds it)"
fi
echo "serving $site at http://127.0.0.1:${PORT:-8080}/$isolated (Ctrl+C stops)"
# Python's static server. CORTEXLENS_ISOLATE=1 adds the two headers that make the page cross-origin isolated, so
# its worker runs the threaded module (SharedArrayBuffer; every file is same-origin, so require-corp blocks
# nothing). Off by default: GitHub Pages cannot send them, so the default serves the page as it is deployed (on
# 2 cores the worker pool is as fast and starts ~150 ms sooner; bench/README.md).
exec python3 - "$site" "${PORT:-8080}" "${CORTEXLENS_ISOLATE:-0}" <<'PY'
import functools, http.server, sys
isolate = sys.argv[3] == '1'
class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      '.wasm': 'application/wasm', '.js': 'text/javascript'}
    def end_headers(self):
        if isolate:
            self.send_header('Cross-Origin-Opener-Policy', 'same-origin')
            self.send_header('Cross-Origin-Embedder-Policy', 'require-corp')
        super().end_headers()
server = http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[2])),
                                        functools.partial(Handler, directory=sys.argv[1]))
server.serve_forever()
PY
