// The worker side of harness.mjs: runs one property with fast-check, posting each input before it is tried.
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';

const { moduleUrl, name, seconds, seed } = workerData;
const { properties } = await import(moduleUrl);
const property = properties[name];
parentPort.postMessage({ type: 'ready' });
let runs = 0;
const result = await fc.check(
  fc.asyncProperty(property.arbitrary, async (input) => {
    runs += 1;
    parentPort.postMessage({ type: 'input', input: property.bytes(input) });
    await property.check(input);
  }),
  { seed, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false },
);
parentPort.postMessage({
  type: 'done',
  runs,
  failed: result.failed,
  path: result.counterexamplePath,
  counterexample: result.counterexample ? property.bytes(result.counterexample[0]) : null,
  error: result.failed ? String(result.errorInstance?.stack ?? result.errorInstance) : '',
});
