// predictMany, the population view's call, in the single-threaded module and the threaded one (cortexlens-mt, for
// cross-origin-isolated pages): every model's outputs equal its own predictWithPrecision bit for bit, in order,
// whatever thread ran it; bad calls throw Errors that say what was wrong and the module keeps working.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCortexLens, loadThreadedCortexLens, repoRoot } from './module.mjs';

const single = await loadCortexLens();
const threaded = await loadThreadedCortexLens();
// The published models when the site was built with them (derived files, build folder only); else the demo model.
const packsDir = path.resolve(process.env.CORTEXLENS_PACKS_DIR || path.join(repoRoot, 'build/site/models'));
const packFiles = fs.existsSync(packsDir)
  ? fs
      .readdirSync(packsDir)
      .filter((f) => /^\d+_n\d+\.(int8|f32)\.clm$/.test(f))
      .sort()
  : [];
const int8Files = packFiles.filter((f) => f.endsWith('.int8.clm')).map((f) => path.join(packsDir, f));
const floatFiles = packFiles
  .filter((f) => f.endsWith('.f32.clm'))
  .slice(0, 12)
  .map((f) => path.join(packsDir, f));
const demo = path.join(repoRoot, 'models/demo/demo_dot_detector.clm');
const files = {
  int8: int8Files.length ? int8Files : Array(12).fill(demo),
  float: floatFiles.length ? floatFiles : Array(12).fill(demo),
};

function input(seed) {
  const x = new Float32Array(112 * 112 * 3);
  let s = seed;
  for (let i = 0; i < x.length; ++i) {
    s = (s * 1103515245 + 12345) >>> 0;
    x[i] = (s >>> 24) - 110;
  }
  return x;
}
const sameBits = (a, b) =>
  a.length === b.length &&
  Buffer.compare(
    Buffer.from(a.buffer, a.byteOffset, a.byteLength),
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  ) === 0;

for (const [name, cl] of [
  ['single-threaded', single],
  ['threaded', threaded],
]) {
  test(`${name} module: predictMany equals each model's own prediction`, {
    skip: !cl && 'threaded module not built (scripts/build.sh builds build/wasm-mt)',
  }, () => {
    const expected = name === 'threaded' ? Math.min(4, os.availableParallelism()) : 1;
    assert.equal(cl.threadCount(), expected);
    for (const precision of ['int8', 'float']) {
      const models = files[precision].map((f) => cl.loadModelFile(new Uint8Array(fs.readFileSync(f))));
      try {
        for (const seed of [1, 2]) {
          const x = input(seed);
          const t0 = performance.now();
          const many = cl.predictMany(models, x, precision);
          const ms = performance.now() - t0;
          assert.equal(many.length, models.length);
          for (const [i, m] of models.entries())
            assert.ok(
              sameBits(many[i], cl.predictWithPrecision(m, x, precision)),
              `${precision} model ${i} (${files[precision][i]})`,
            );
          if (seed === 2)
            console.log(
              `# ${name}, ${cl.threadCount()} thread(s): ${models.length} ${precision} models in ${ms.toFixed(0)} ms`,
            );
        }
        assert.equal(cl.predictMany([], input(1), precision).length, 0);
      } finally {
        for (const m of models) m.delete();
      }
    }
  });

  test(`${name} module: predictMany refuses bad calls and keeps working`, {
    skip: !cl && 'threaded module not built',
  }, () => {
    const demoModel = cl.loadModelFile(new Uint8Array(fs.readFileSync(demo)));
    try {
      assert.throws(
        () => cl.predictMany([demoModel], new Float32Array(10), 'int8'),
        /input has 10 values, model '.*' expects 37632/,
      );
      assert.throws(
        () => cl.predictMany([demoModel], input(1), 'int4'),
        /precision 'int4', expected 'int8' or 'float'/,
      );
      assert.throws(() => cl.predictMany('not models', input(1), 'int8'), /models must be an array of Model handles/);
      assert.ok(
        sameBits(
          cl.predictMany([demoModel], input(3), 'int8')[0],
          cl.predictWithPrecision(demoModel, input(3), 'int8'),
        ),
      );
    } finally {
      demoModel.delete();
    }
  });
}

test.after(() => threaded?.PThread.terminateAllThreads());
