// A lane of work where only the newest item matters: live frames. One item runs at a time; an item offered while one
// runs waits in a single slot, and a newer offer replaces it (the replaced one is dropped, its bitmap closed). So no
// frame ever waits behind more than one other, and the result on screen is at most one frame old
// (web/PROTOCOL.md, "Live frames"). Counting is kept for the tests and the benchmark.
export function latestLane(run, { drop = () => {} } = {}) {
  let running = false;
  let waiting = null;
  const stats = { started: 0, done: 0, failed: 0, replaced: 0, maxWaiting: 0 };

  async function start(item) {
    running = true;
    stats.started += 1;
    try {
      await run(item);
      stats.done += 1;
    } catch (e) {
      stats.failed += 1;
      item.onError?.(e);
    } finally {
      running = false;
      const next = waiting;
      waiting = null;
      if (next) start(next);
    }
  }

  return {
    stats,
    get busy() {
      return running;
    },
    offer(item) {
      if (!running) {
        start(item);
        return;
      }
      if (waiting) {
        stats.replaced += 1;
        drop(waiting);
      }
      waiting = item;
      stats.maxWaiting = Math.max(stats.maxWaiting, 1);
    },
    // Drops what waits (the view was left, the source stopped); what runs finishes and is ignored by its caller.
    clear() {
      if (waiting) drop(waiting);
      waiting = null;
    },
  };
}
