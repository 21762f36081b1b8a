#!/usr/bin/env bash
# Builds the static page into one folder that any static server (or GitHub Pages) can serve as-is.
#   CORTEXLENS_NATIVE_BUILD  native build dir with native/cortexlens (default build/release)
#   CORTEXLENS_WASM_BUILD    Emscripten build dir with wasm/cortexlens.{js,wasm} (default build/wasm)
#   CORTEXLENS_WASM_MT_BUILD the threaded module's build dir (default build/wasm-mt; shipped when built there;
#                            set empty: the site ships no threaded module)
#   CORTEXLENS_SITE_DIR      output folder (default build/site)
#   CORTEXLENS_DATA_DIR      the published data (default ../shared/data/v4); absent: demo model + user files only
# Models, gallery images and response tables are derived from licensed data: they go only into the output folder.
set -euo pipefail
cd "$(dirname "$0")/.."
native=${CORTEXLENS_NATIVE_BUILD:-build/release}
wasm=${CORTEXLENS_WASM_BUILD:-build/wasm}
site=${CORTEXLENS_SITE_DIR:-build/site}
data=${CORTEXLENS_DATA_DIR:-../shared/data/v4}
cli="$native/native/cortexlens"

for f in "$wasm/wasm/cortexlens.js" "$wasm/wasm/cortexlens.wasm" "$wasm/wasm/cortexlens-lab.js" \
  "$wasm/wasm/cortexlens-lab.wasm"; do
  [ -f "$f" ] || { echo "build_site: $f missing: build the wasm module first (scripts/build.sh wasm)" >&2; exit 1; }
done
# models/ and portraits/ survive between builds: `cortexlens pack` and `portraits` skip what is up to date.
mkdir -p "$site"
find "$site" -mindepth 1 -maxdepth 1 ! -name models ! -name portraits -exec rm -rf {} +

esbuild=node_modules/.bin/esbuild
common=(--bundle --minify --target=chrome100,firefox100,safari15 --log-level=warning --legal-comments=none)
"$esbuild" web/src/main.js --format=esm --splitting --outdir="$site" --entry-names=app \
  --chunk-names=chunks/[name]-[hash] "${common[@]}"
# The lesson panel (markdown-it, yaml, DOMPurify) is its own module, loaded by the page when a lesson is first
# needed, by a URL with the build's ?v= like every file of the build (web/src/build.js); it has its own copy of the
# few small modules it shares with app.js.
"$esbuild" web/src/lessons/panel.js --format=esm --outfile="$site/lessons-panel.js" "${common[@]}"
# The threaded module (scripts/build.sh builds it into build/wasm-mt) runs on cross-origin-isolated pages only.
wasm_mt=${CORTEXLENS_WASM_MT_BUILD-build/wasm-mt}
threaded=false
[ -n "$wasm_mt" ] && [ -f "$wasm_mt/wasm/cortexlens-mt.js" ] && threaded=true
"$esbuild" web/src/worker.js --format=iife --outfile="$site/worker.js" "${common[@]}" \
  --define:__THREADED_BUILD__=$threaded
# The Keras reader (fflate + jsfive) is loaded by the worker only when a .keras file arrives.
"$esbuild" web/lib/keras-archive.js --format=iife --global-name=CortexLensKeras --outfile="$site/keras-reader.js" \
  "${common[@]}"
cp web/index.html web/styles.css web/favicon.svg "$site/"
cp "$wasm/wasm/cortexlens.js" "$wasm/wasm/cortexlens.wasm" "$site/"
# The model lab's module (pruning; the worker loads it when the lab first runs).
cp "$wasm/wasm/cortexlens-lab.js" "$wasm/wasm/cortexlens-lab.wasm" "$site/"
# Lessons (web/lessons/FORMAT.md): the built-in lesson files and their index, served as they are.
if [ -d web/lessons ]; then cp -r web/lessons "$site/lessons"; fi
if [ "$threaded" = true ]; then cp "$wasm_mt"/wasm/cortexlens-mt.{js,wasm,worker.js} "$site/"; fi

if [ -d "$data/compact_models" ]; then data_args=(--data "$data"); else
  echo "build_site: no published data at $data: demo model and user-loaded files only"; data_args=(); fi
# The page runs .clm files only (int8 and float32, `cortexlens pack`): the native tool must be built.
if [ ! -x "$cli" ]; then
  echo "build_site: $cli missing: build the native tool first (scripts/build.sh native); its 'pack' step makes" \
    "the site's models" >&2
  exit 1
fi
"$cli" pack "${data_args[@]}" --out "$site/models"
node scripts/site/assets.mjs --out "$site" "${data_args[@]}"
# Every neuron's portrait (the atlas): synthesized preferred and anti-preferred images and the strongest and
# weakest natural images, into the manifest's entries (models/MANIFEST.md, entry.portrait). Ranking every image the
# gallery ships (3,608) costs ~790k model passes, 5-7 minutes on 2 cores, so by default the ranked set is the
# reference images (the page's percentile scale, 300) and the drawn patterns: ~1 minute.
# CORTEXLENS_PORTRAIT_IMAGES=gallery ranks the whole gallery (the published site's workflow does).
portraits_started=$SECONDS
portrait_images=("$site/gallery")
if [ "${CORTEXLENS_PORTRAIT_IMAGES:-reference}" = reference ] && [ -d "$site/gallery/190923" ]; then
  portrait_images=("$site"/gallery/own/*)
  for session in 190923 201025 210225; do
    for ((number = 1; number <= 600; number += 6)); do
      portrait_images+=("$(printf '%s/gallery/%s/image%04d.jpg' "$site" "$session" "$number")")
    done
  done
fi
"$cli" portraits "${portrait_images[@]}" --models "$site/models" -o "$site/portraits" \
  --steps "${CORTEXLENS_PORTRAIT_STEPS:-30}" --seeds "${CORTEXLENS_PORTRAIT_SEEDS:-2}"
echo "build_site: portraits: $((SECONDS - portraits_started)) s"

# The build's version (a hash of the app shell) into index.html and the service worker, which it bundles.
node scripts/site/version.mjs "$site"

echo "build_site: $site ($(du -sh "$site" | cut -f1)); JS + wasm + CSS shipped:"
( cd "$site" && raw=0 gz=0 && for f in app.js worker.js cortexlens.js cortexlens.wasm styles.css; do
    r=$(stat -c %s "$f"); g=$(gzip -9c "$f" | wc -c); raw=$((raw + r)); gz=$((gz + g))
    printf '  %-40s %8d bytes  %8d gzip\n' "$f" "$r" "$g"; done
  printf '  %-40s %8d bytes  %8d gzip\n' "first load, total" "$raw" "$gz"
  for f in cortexlens-mt.js cortexlens-mt.worker.js cortexlens-mt.wasm; do [ -f "$f" ] &&
    printf '  %-40s %8d bytes  %8d gzip  (instead of cortexlens.*, on cross-origin-isolated pages)\n' \
      "$f" "$(stat -c %s "$f")" "$(gzip -9c "$f" | wc -c)"; done
  for f in keras-reader.js lessons-panel.js cortexlens-lab.js cortexlens-lab.wasm chunks/*.js; do [ -f "$f" ] &&
    printf '  %-40s %8d bytes  %8d gzip  (loaded on demand)\n' "$f" "$(stat -c %s "$f")" "$(gzip -9c "$f" | wc -c)"
  done; true )
