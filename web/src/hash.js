// FNV-1a hashes of pixels, as hex: the CLI prints the same ones (core/include/cortexlens/fnv1a.hpp), so the page's
// pixels and the CLI's are compared by hash (`cortexlens probe`'s 64-bit pixels_fnv1a, `cortexlens path`'s 32-bit).

export function fnv1a32Hex(bytes) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; ++i) hash = Math.imul(hash ^ bytes[i], 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, '0');
}

export function fnv1a64Hex(bytes) {
  let hash = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  const mask = 0xffffffffffffffffn;
  for (let i = 0; i < bytes.length; ++i) hash = ((hash ^ BigInt(bytes[i])) * prime) & mask;
  return hash.toString(16).padStart(16, '0');
}
