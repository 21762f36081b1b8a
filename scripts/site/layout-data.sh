#!/usr/bin/env bash
# Arranges a checkout of github.com/cowleygroup/V4_compact_models into the layout Cortex Lens reads
# (the one of ../shared/data/v4, see its README): compact_models/, shared_compact_models/from_ensemble_model/,
# sessions/images_<s>.zip and sessions/responses_repeat_averaged_<s>.npy. Files are found by name, so moves between
# the repository's folders (data_compact_models/models_keras/, data_V4_responses/images/,
# data_V4_responses/responses_repeat_averaged/responses_<s>.npy, data_shared_compact_models/...) do not matter.
# Symbolic links only: nothing is copied. Usage: layout-data.sh CHECKOUT OUT
set -euo pipefail
src=$(cd "$1" && pwd); out=$2
mkdir -p "$out/compact_models" "$out/shared_compact_models/from_ensemble_model" "$out/sessions"
n=0
while IFS= read -r f; do ln -sf "$f" "$out/compact_models/"; n=$((n + 1)); done \
  < <(find "$src" -name 'compact_model_*_neuron*.keras' -not -path '*/.git/*')
while IFS= read -r f; do ln -sf "$f" "$out/shared_compact_models/from_ensemble_model/"; done \
  < <(find "$src" -path '*from_ensemble_model*' -name 'shared_compact_model_*filters.keras' -not -path '*linear*')
for s in 190923 201025 210225 211022; do
  zip=$(find "$src" -name "images_$s.zip" | head -n1)
  [ -n "$zip" ] && ln -sf "$zip" "$out/sessions/images_$s.zip"
  npy=$(find "$src" -path '*repeat_averaged*' \
    \( -name "responses_$s.npy" -o -name "responses_repeat_averaged_$s.npy" \) | head -n1)
  [ -n "$npy" ] && ln -sf "$npy" "$out/sessions/responses_repeat_averaged_$s.npy"
done
shared=$(ls "$out/shared_compact_models/from_ensemble_model" | wc -l)
echo "layout-data: $n per-neuron models, $shared shared models, $(ls "$out/sessions" | wc -l) session files in $out"
[ "$n" -gt 0 ] || { echo "layout-data: no compact_model_*_neuron*.keras found under $src" >&2; exit 1; }
