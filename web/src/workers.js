// The page's side of the worker protocol: request(type, payload, {transfer, onProgress}) -> Promise of the result.
// Each request carries an id; replies are matched by id, so several requests may be in flight.

export class WorkerClient {
  constructor(url = 'worker.js') {
    this.url = url;
    this.pending = new Map();
    this.nextId = 1;
    this.busy = 0;
    this.start();
  }

  start() {
    this.worker = new Worker(this.url);
    this.worker.onmessage = (event) => this.receive(event.data);
    this.worker.onerror = (event) => {
      // An uncaught error in the worker may leave it stuck: fail every request in flight with the reason rather
      // than hang, and start a fresh worker for the next ones.
      event.preventDefault?.();
      const message = `the worker stopped: ${event.message || 'script error'}`;
      for (const { reject } of this.pending.values()) reject(new Error(message));
      this.pending.clear();
      this.busy = 0;
      this.worker.terminate();
      this.start();
    };
  }

  receive({ id, result, error, progress }) {
    const request = this.pending.get(id);
    if (!request) return;
    if (progress !== undefined) { request.onProgress?.(progress); return; }
    this.pending.delete(id);
    this.busy -= 1;
    if (error !== undefined) request.reject(new Error(error));
    else request.resolve(result);
  }

  request(type, payload = {}, { transfer = [], onProgress } = {}) {
    const id = this.nextId++;
    this.busy += 1;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ id, type, payload }, transfer);
    });
  }

  terminate() {
    this.worker.terminate();
    for (const { reject } of this.pending.values()) reject(new Error('cancelled'));
    this.pending.clear();
  }
}

// Extra workers for the population view, each with its own wasm instance (no SharedArrayBuffer needed, so it
// works on static hosts that cannot send cross-origin-isolation headers). Created on first use.
export class WorkerPool {
  constructor(first, size) {
    this.workers = [first];
    this.size = Math.max(1, size);
  }

  grow() {
    while (this.workers.length < this.size) this.workers.push(new WorkerClient(this.workers[0].url));
    return this.workers;
  }

  // Runs predictEach over `items` in small chunks. Worker i owns items i, i+W, i+2W, ... (so the same worker meets
  // the same models on the next image and finds them loaded); a worker that finishes its own share takes chunks
  // from the end of the longest remaining share, so a slow worker never holds the tail.
  // onResult(key, outputs) fires as each model finishes. Returns when all are done.
  async predictAll(items, input, { chunk = 6, onResult, signal } = {}) {
    const workers = this.grow();
    const shares = workers.map((_, w) => items.filter((__, i) => i % workers.length === w));
    const take = (w) => {
      if (shares[w].length) return shares[w].splice(0, chunk);
      const longest = shares.reduce((a, b) => (b.length > a.length ? b : a));
      return longest.splice(Math.max(0, longest.length - chunk), chunk);
    };
    const run = async (worker, w) => {
      for (let part = take(w); part.length; part = take(w)) {
        if (signal?.aborted) throw new DOMException('cancelled', 'AbortError');
        await worker.request('predictEach', { items: part, input }, {
          onProgress: ({ key, outputs }) => onResult?.(key, outputs),
        });
      }
    };
    await Promise.all(workers.map(run));
  }
}
