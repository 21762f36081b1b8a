// Byte- and line-level mutations of valid seed files, as fast-check arbitraries: the fuzzer's way from a file the
// reader accepts to the damaged neighbours users produce (truncated downloads, edited files, spliced parts).
import fc from 'fast-check';

const edit = fc.oneof(
  fc.record({
    kind: fc.constant('set'),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    value: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({
    kind: fc.constant('flip'),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({
    kind: fc.constant('insert'),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    bytes: fc.uint8Array({ maxLength: 16 }),
  }),
  fc.record({
    kind: fc.constant('delete'),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    length: fc.integer({ min: 1, max: 64 }),
  }),
  fc.record({ kind: fc.constant('truncate'), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  // Copies a run of the file over another place: duplicated headers, offsets pointing at the wrong structure.
  fc.record({
    kind: fc.constant('copy'),
    from: fc.double({ min: 0, max: 1, noNaN: true }),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    length: fc.integer({ min: 1, max: 256 }),
  }),
  // Little-endian 32-bit values that parsers read as sizes and offsets.
  fc.record({
    kind: fc.constant('word'),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    value: fc.constantFrom(0, 1, 0x7f, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0x10000),
  }),
);

function applyEdit(bytes, e) {
  const n = bytes.length;
  const at = Math.min(n, Math.floor(e.at * n));
  switch (e.kind) {
    case 'set':
      if (at < n) bytes[at] = e.value;
      return bytes;
    case 'flip':
      if (at < n) bytes[at] ^= 1 << e.bit;
      return bytes;
    case 'insert': {
      const out = new Uint8Array(n + e.bytes.length);
      out.set(bytes.subarray(0, at));
      out.set(e.bytes, at);
      out.set(bytes.subarray(at), at + e.bytes.length);
      return out;
    }
    case 'delete':
      return Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(Math.min(n, at + e.length))]);
    case 'truncate':
      return bytes.slice(0, at);
    case 'copy': {
      const from = Math.min(n, Math.floor(e.from * n));
      const run = bytes.slice(from, Math.min(n, from + e.length));
      bytes.set(run.subarray(0, Math.max(0, n - at)), at);
      return bytes;
    }
    case 'word':
      for (let i = 0; i < 4 && at + i < n; ++i) bytes[at + i] = (e.value >>> (8 * i)) & 0xff;
      return bytes;
  }
  throw new Error(`unknown edit ${e.kind}`);
}

/** An arbitrary of byte strings: one of `seeds` (Uint8Arrays) with 1..maxEdits edits applied. */
export function mutatedBytes(seeds, maxEdits = 8) {
  return fc
    .tuple(fc.integer({ min: 0, max: seeds.length - 1 }), fc.array(edit, { minLength: 1, maxLength: maxEdits }))
    .map(([i, edits]) => edits.reduce(applyEdit, seeds[i].slice()));
}

/** An arbitrary of texts: one of `seeds` with line edits (delete, duplicate, move, insert one of `lines`) and
 * character edits. */
export function mutatedText(seeds, lines, maxEdits = 6) {
  const lineEdit = fc.oneof(
    fc.record({ kind: fc.constant('delete'), at: fc.nat() }),
    fc.record({ kind: fc.constant('duplicate'), at: fc.nat() }),
    fc.record({ kind: fc.constant('move'), at: fc.nat(), to: fc.nat() }),
    fc.record({ kind: fc.constant('insert'), at: fc.nat(), line: fc.oneof(fc.constantFrom(...lines), fc.string()) }),
    fc.record({ kind: fc.constant('chars'), at: fc.nat(), column: fc.nat(), text: fc.string({ maxLength: 8 }) }),
  );
  return fc
    .tuple(fc.integer({ min: 0, max: seeds.length - 1 }), fc.array(lineEdit, { minLength: 1, maxLength: maxEdits }))
    .map(([i, edits]) => {
      const out = seeds[i].split('\n');
      for (const e of edits) {
        const at = e.at % (out.length + 1);
        if (e.kind === 'delete') out.splice(at, 1);
        else if (e.kind === 'duplicate' && at < out.length) out.splice(at, 0, out[at]);
        else if (e.kind === 'move' && at < out.length) out.splice(e.to % out.length, 0, ...out.splice(at, 1));
        else if (e.kind === 'insert') out.splice(at, 0, e.line);
        else if (e.kind === 'chars' && at < out.length) {
          const l = out[at];
          const c = e.column % (l.length + 1);
          out[at] = l.slice(0, c) + e.text + l.slice(c + (e.text.length % 3));
        }
      }
      return out.join('\n');
    });
}
