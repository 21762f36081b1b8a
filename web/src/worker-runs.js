// The worker's table of *runs* (synthesis, block images, perturbations; PROTOCOL.md: why runs): long jobs held
// between the chunks the page asks for, each an Embind handle. Embind handles are not garbage collected, so the table
// is bounded: starting one more than `max` frees the oldest.
export function runTable(max, what) {
  const runs = new Map(); // runId -> {handle, ...what the handlers keep}
  let nextRunId = 1;
  const table = {
    add(run) {
      const runId = nextRunId++;
      runs.set(runId, run);
      while (runs.size > max) table.forget(runs.keys().next().value);
      return runId;
    },
    take(runId) {
      const run = runs.get(runId);
      if (!run) throw new Error(`${what} ${runId} is not running (finished, stopped or evicted)`);
      return run;
    },
    // Forgets every run without deleting its handle: for handles of a wasm instance that has been dropped.
    drop() {
      runs.clear();
    },
    forget(runId) {
      const run = runs.get(runId);
      if (run) {
        runs.delete(runId);
        run.handle.delete();
      }
      return Boolean(run);
    },
  };
  return table;
}
