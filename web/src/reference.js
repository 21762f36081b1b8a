// Percentiles on the reference natural images: a compact model's output scale is arbitrary (some outputs are
// negative), so the page says where a response falls among the model's responses to natural images instead.

/** Percentile (0..100) of `value` in a distribution given by its 0..100th percentiles (101 ascending numbers),
 * interpolated linearly between neighbouring percentiles; clamped to 0 and 100 outside the reference range; NaN
 * without a distribution. */
export function percentileOf(value, quantiles) {
  if (!quantiles || quantiles.length < 2 || !Number.isFinite(value)) return NaN;
  const n = quantiles.length - 1;
  if (value <= quantiles[0]) return 0;
  if (value >= quantiles[n]) return 100;
  let lo = 0;
  let hi = n;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (quantiles[mid] <= value) lo = mid;
    else hi = mid;
  }
  const span = quantiles[hi] - quantiles[lo];
  const fraction = span > 0 ? (value - quantiles[lo]) / span : 0;
  return ((lo + fraction) / n) * 100;
}

export function ordinal(p) {
  const r = Math.round(p);
  const suffix = r % 100 >= 11 && r % 100 <= 13 ? 'th' : { 1: 'st', 2: 'nd', 3: 'rd' }[r % 10] || 'th';
  return `${r}${suffix}`;
}

/** "response 1.234 (percentile 87.5 of reference natural images)", or the raw response alone without a reference. */
export function describeResponse(value, quantiles) {
  const p = percentileOf(value, quantiles);
  const raw = `response ${value.toFixed(3)}`;
  if (Number.isNaN(p)) return raw;
  if (p >= 100) return `${raw} (above every reference natural image)`;
  if (p <= 0) return `${raw} (below every reference natural image)`;
  return `${raw} (percentile ${p.toFixed(1)} of reference natural images)`;
}
