// Runs one fast-check property of a reader in a worker thread, so that a hang (an input the reader never returns
// from, which no in-process timeout can interrupt) is caught too: the worker posts each input before trying it, and
// when no input finishes within HANG_MS the worker is stopped and that input is the finding. Failures and hangs are
// written to build/fuzz-artifacts/ (the input as bytes or text) with the seed that reproduces them.
//
// Budget: CORTEXLENS_FUZZ_SECONDS seconds per reader (default 3: the CI run), shared by its properties;
// CORTEXLENS_FUZZ_SEED fixes the random seed (default: a new one each run, printed).
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
// A hang: one input running this long (CORTEXLENS_FUZZ_HANG_SECONDS; the campaign runs niced on a busy machine,
// where a process can wait many seconds for a core, and raises it). Loading the worker's modules is not timed.
const HANG_MS = Number(process.env.CORTEXLENS_FUZZ_HANG_SECONDS || 30) * 1000;

export const readerSeconds = Number(process.env.CORTEXLENS_FUZZ_SECONDS || 3);

export function fuzzSeed() {
  const fixed = process.env.CORTEXLENS_FUZZ_SEED;
  return fixed ? Number(fixed) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
}

/** Runs property `name` of the module at `moduleUrl` for `seconds`; resolves to {runs, seed}; rejects on a finding. */
export function fuzzProperty(moduleUrl, name, seconds, seed = fuzzSeed()) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker.mjs', import.meta.url), {
      workerData: { moduleUrl: String(moduleUrl), name, seconds, seed },
    });
    let last = null;
    let lastAt = Date.now();
    let ready = false;
    let settled = false;
    const finish = (error, value) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      worker.terminate();
      if (error) reject(error);
      else resolve(value);
    };
    const watchdog = setInterval(() => {
      if (!ready || Date.now() - lastAt < HANG_MS) return;
      const file = saveArtifact(name, 'hang', last);
      finish(new Error(`${name}: an input took more than ${HANG_MS / 1000} s (seed ${seed}); saved to ${file}`));
    }, 1000);
    worker.on('message', (message) => {
      lastAt = Date.now();
      if (message.type === 'ready') {
        ready = true;
      } else if (message.type === 'input') {
        last = message.input;
      } else if (message.type === 'done') {
        if (!message.failed) return finish(null, { runs: message.runs, seed });
        const file = saveArtifact(name, 'failure', message.counterexample);
        finish(
          new Error(
            `${name}: property failed after ${message.runs} inputs (seed ${seed}, path ${message.path}); ` +
              `input saved to ${file}\n${message.error}`,
          ),
        );
      }
    });
    worker.on('error', (error) => finish(new Error(`${name}: the worker died (seed ${seed}): ${error.stack}`)));
    worker.on('exit', (code) => finish(new Error(`${name}: the worker exited with code ${code} (seed ${seed})`)));
  });
}

function saveArtifact(name, kind, input) {
  const dir = path.join(repoRoot, 'build/fuzz-artifacts');
  fs.mkdirSync(dir, { recursive: true });
  const base = `js-${name.replace(/[^a-z0-9.]+/gi, '-')}-${kind}-${Date.now()}`;
  const file = path.join(dir, `${base}.${typeof input === 'string' ? 'txt' : 'bin'}`);
  fs.writeFileSync(file, input ?? '');
  return file;
}
