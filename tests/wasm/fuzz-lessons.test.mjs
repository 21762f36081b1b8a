// Property-based fuzzing (fast-check) of the lesson-file parser: random text and bytes, and the committed lessons
// (web/lessons) with line and character edits. Each property gets a share of CORTEXLENS_FUZZ_SECONDS (default 3 s:
// the CI run; scripts/fuzz_campaign.sh runs 600). See fuzz/harness.mjs.
import test from 'node:test';
import { fuzzProperty, readerSeconds } from './fuzz/harness.mjs';
import { properties } from './fuzz/lessons.props.mjs';

const module = new URL('./fuzz/lessons.props.mjs', import.meta.url);
const names = Object.keys(properties);
for (const name of names) {
  test(`${name}: a valid result or a clear Error, no hang`, { timeout: (readerSeconds + 120) * 1000 }, async (t) => {
    const { runs, seed } = await fuzzProperty(module, name, readerSeconds / names.length);
    t.diagnostic(`${runs} inputs, seed ${seed}`);
  });
}
