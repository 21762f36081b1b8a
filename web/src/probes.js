// The page's side of parametric probes: the sweep syntax shared with `cortexlens probe` (--vary NAME=FIRST:LAST:STEP
// or NAME=V1,V2,...; --set NAME=VALUE), each family's default sweep, and the pixel hash the CLI's CSV carries.
// The values themselves are checked by the core (the worker's reply names what was expected).

// What a family sweeps when the link names nothing: the curve a physiologist would draw first.
export const DEFAULT_VARY = {
  grating: 'orientation=0:165:15',
  dots: 'diameter=2,3,4,6,8,12,16,24,32,48',
  bar: 'orientation=0:165:15',
  uniform: 'hue=0:345:15',
};

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

// "FIRST:LAST:STEP" or "V1,V2,..." -> numbers, exactly as the core's parse_sweep_values (the same doubles:
// first + k * step), or throws with what was expected.
export function parseValues(text) {
  const expected = `"${text}": expected FIRST:LAST:STEP (e.g. 0:180:15) or a list V1,V2,... of at most 256 numbers`;
  const parts = text.includes(':') ? text.split(':') : text.split(',');
  if (!parts.every((p) => NUMBER.test(p.trim()))) throw new Error(expected);
  const numbers = parts.map(Number);
  if (!text.includes(':')) {
    if (numbers.length > 256) throw new Error(expected);
    return numbers;
  }
  if (numbers.length !== 3) throw new Error(expected);
  const [first, last, step] = numbers;
  if (step === 0 || (step > 0 && first > last) || (step < 0 && first < last)) throw new Error(expected);
  const count = Math.floor((last - first) / step + 1e-9) + 1;
  if (count > 256) throw new Error(expected);
  return Array.from({ length: count }, (_, k) => first + k * step);
}

// "name=VALUES" -> {name, values}
export function parseVary(text) {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new Error(`"${text}": expected NAME=VALUES, e.g. orientation=0:165:15`);
  return { name: text.slice(0, eq), values: parseValues(text.slice(eq + 1)) };
}

// "a=1,b=#ff0000" -> {a: 1, b: 16711680}
export function parseSet(text) {
  const fixed = {};
  for (const item of text.split(',').filter(Boolean)) {
    const [name, value] = item.split('=');
    const number = /^#[0-9a-f]{6}$/i.test(value || '') ? Number.parseInt(value.slice(1), 16) : Number(value);
    if (!name || value === undefined || !Number.isFinite(number))
      throw new Error(`"${item}": expected NAME=NUMBER (or NAME=#RRGGBB)`);
    fixed[name] = number;
  }
  return fixed;
}

export function formatSet(fixed) {
  return Object.entries(fixed)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

// FNV-1a 64 of the pixels, as 16 hex digits: the `pixels_fnv1a` column of `cortexlens probe`.
export { fnv1a64Hex as fnv1aHex } from './hash.js';

// A parameter's value as the CLI's CSV writes it (%.10g).
export function formatValue(v) {
  return Number.parseFloat(v.toPrecision(10)).toString();
}
