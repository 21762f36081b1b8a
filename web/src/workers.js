// The page's side of the worker protocol (web/PROTOCOL.md): request(type, payload, {transfer, onProgress}) -> Promise
// of the result. Each request carries an id; replies are matched by id, so several requests may be in flight.

export class WorkerClient {
  constructor(url = 'worker.js') {
    this.url = url;
    this.pending = new Map();
    this.nextId = 1;
    this.busy = 0;
    this.loadedKeys = new Set(); // models this worker is known to hold (the pool prefers them)
    // Models loaded from bytes the page holds (a user's file) have no url to fetch again: how to load each into a
    // fresh instance, and the reloads under way since the last reset.
    this.recipes = new Map();
    this.reloads = new Map();
    // Bumped whenever the instance behind this client is new (worker restarted, or the module reset after a trap):
    // anything the old one held (decoded images, loaded models) is gone.
    this.generation = 0;
    this.listeners = new Set();
    this.start();
  }

  start() {
    const worker = new Worker(this.url);
    this.worker = worker;
    worker.onmessage = (event) => this.receive(event.data);
    worker.onerror = (event) => {
      // An uncaught error in the worker may leave it stuck: fail every request in flight with the reason rather
      // than hang, and start a fresh worker for the next ones.
      event.preventDefault?.();
      if (this.worker === worker) this.reset(`the engine's worker stopped: ${event.message || 'script error'}`, true);
    };
    this.watch(worker);
  }

  // A worker that dies (killed, out of memory, crashed) sends no message: requests in flight would wait forever.
  // The worker holds a Web Lock for as long as it lives and the page queues for the same lock: being granted it is
  // how the page learns the worker has gone. (No timeout: a long synthesis must not be mistaken for a dead worker.)
  watch(worker) {
    if (typeof navigator === 'undefined' || !navigator.locks) return;
    const name = `cortexlens-worker-${crypto.randomUUID()}`;
    this.request('holdLock', { name })
      .then(() =>
        navigator.locks.request(name, () => {
          if (this.worker === worker && !this.terminated)
            this.reset(
              "the engine's worker stopped unexpectedly (it may have run out of memory) and a new one has started",
              true,
            );
        }),
      )
      .catch(() => {}); // a worker without Web Locks, or already replaced: no watch
  }

  // The instance behind this client is new: every request in flight fails with `reason` (restartWorker: the worker
  // itself is replaced), what it held is forgotten, and the listeners (onReset) hear of it.
  reset(reason, restartWorker) {
    if (restartWorker) {
      const requests = [...this.pending.values()];
      this.pending.clear();
      this.busy = 0;
      this.worker.terminate();
      this.start();
      for (const { reject } of requests) reject(new Error(reason));
    }
    this.loadedKeys.clear();
    this.reloads.clear();
    this.generation += 1;
    for (const listener of this.listeners) listener({ generation: this.generation, reason });
  }

  onReset(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  receive({ id, result, error, progress, reset }) {
    // The module trapped and the worker started a fresh instance: the models and images it held are gone.
    if (reset) this.reset(error, false);
    const request = this.pending.get(id);
    if (!request) return;
    if (progress !== undefined) {
      request.onProgress?.(progress);
      return;
    }
    this.pending.delete(id);
    this.busy -= 1;
    if (error !== undefined) request.reject(new Error(error));
    else request.resolve(result);
  }

  // recipe() -> Promise of {payload, transfer} for 'loadModel': how to load `key` again into a fresh instance.
  remember(key, recipe) {
    this.recipes.set(key, recipe);
  }

  // A model the page loaded from bytes, missing from this instance (it was restarted): loaded again first.
  reloadIfNeeded(type, key) {
    if (key === undefined || type === 'loadModel' || type === 'forgetModel') return null;
    if (!this.recipes.has(key) || this.loadedKeys.has(key)) return null;
    if (!this.reloads.has(key)) {
      const reload = this.recipes
        .get(key)()
        .then(({ payload, transfer }) => this.request('loadModel', payload, { transfer }));
      reload.catch(() => this.reloads.delete(key));
      this.reloads.set(key, reload);
    }
    return this.reloads.get(key);
  }

  request(type, payload = {}, { transfer = [], onProgress } = {}) {
    const key = payload?.key;
    const reload = this.reloadIfNeeded(type, key);
    const promise = reload
      ? reload.then(
          () => this.send(type, payload, transfer, onProgress),
          (e) => Promise.reject(new Error(`${key} could not be loaded again into the restarted engine: ${e.message}`)),
        )
      : this.send(type, payload, transfer, onProgress);
    // Every request naming a model leaves it loaded in the worker (or unloaded, for forgetModel).
    if (key !== undefined)
      promise.then(
        () => (type === 'forgetModel' ? this.loadedKeys.delete(key) : this.loadedKeys.add(key)),
        () => {},
      );
    return promise;
  }

  send(type, payload, transfer, onProgress) {
    const id = this.nextId++;
    this.busy += 1;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ id, type, payload }, transfer);
    });
  }

  terminate() {
    this.terminated = true;
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
    this.preloadToken = 0; // bumped by every run and preload: a preload stops when it no longer holds the latest
  }

  grow() {
    while (this.workers.length < this.size) this.workers.push(new WorkerClient(this.workers[0].url));
    return this.workers;
  }

  // The share of `items` that predictAll gives worker w.
  share(items, w) {
    return items.filter((_, i) => i % this.workers.length === w);
  }

  // After a run, once the page has been idle for `delayMs`: each worker loads the last `count` models of every
  // other worker's share that it does not hold yet, one request at a time. predictAll steals from the ends of the
  // shares, and only models the thief holds (loading one costs several predictions), so without these the workers
  // of the next image can only rebalance their tails one way, and one finished 20-50 ms before the other (measured,
  // tests/browser/measure.mjs --spans). Stopped by the next run; a load already in flight delays its worker's first
  // chunk by at most one model's load.
  preloadTails(items, { count = 16, delayMs = 1000 } = {}) {
    const token = ++this.preloadToken;
    const workers = this.workers;
    const wanted = workers.map((_, w) =>
      workers.flatMap((__, v) => (v === w ? [] : this.share(items, v).slice(-count))),
    );
    this.preloadWanted = wanted;
    this.preloading = new Promise((resolve) => setTimeout(resolve, delayMs)).then(() =>
      Promise.all(
        workers.map(async (worker, w) => {
          for (const { key, url } of wanted[w]) {
            if (token !== this.preloadToken) return;
            if (worker.loadedKeys.has(key)) continue;
            try {
              await worker.request('loadModel', { key, url });
            } catch {
              return;
            }
          }
        }),
      ),
    );
    return this.preloading;
  }

  stopPreload() {
    this.preloadToken += 1;
  }

  // One probe sweep (worker-probes.js `probeSweep`) shared by the pool: each worker runs a contiguous range of the
  // points and the replies are joined in order, so the result is the one worker's answer, in about 1/W the time on W
  // cores. Only manifest models (with a `url`) go to other workers: a user's own model lives in the first worker.
  // onProgress({done, total}) sums the workers' points. The ms of the reply is the slowest worker's compute time.
  async probeSweep(payload, { onProgress } = {}) {
    const total = payload.axes.reduce((n, a) => n * a.values.length, 1);
    const workers = payload.url ? this.grow().slice(0, Math.max(1, Math.min(this.size, total))) : [this.workers[0]];
    const done = workers.map(() => 0);
    const parts = await Promise.all(
      workers.map((worker, w) => {
        const range = [Math.floor((total * w) / workers.length), Math.floor((total * (w + 1)) / workers.length)];
        const progress = ({ done: d }) => {
          done[w] = d;
          onProgress?.({ done: done.reduce((a, b) => a + b, 0), total });
        };
        return worker.request('probeSweep', { ...payload, range }, { onProgress: progress }).then((reply) => {
          worker.loadedKeys.add(payload.key);
          return reply;
        });
      }),
    );
    if (parts.length === 1) return parts[0];
    const [head] = parts;
    const joined = (field, Type) => {
      const out = new Type(parts.reduce((n, p) => n + p[field].length, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p[field], at);
        at += p[field].length;
      }
      return out;
    };
    const result = {
      ...head,
      begin: 0,
      end: head.points,
      responses: joined('responses', Float32Array),
      ms: Math.max(...parts.map((p) => p.ms)),
      workers: parts.length,
    };
    if (head.stimuli) {
      result.stimuli = joined('stimuli', Uint8Array);
      result.values = parts.flatMap((p) => p.values);
    }
    return result;
  }

  // Runs every model of `items` on one input over the pool and resolves with per-worker figures
  // [{models, requests, computeMs, wallMs, spans: [[start, end] of each chunk in the worker, ms from the start]}].
  // - Worker w owns items w, w+W, w+2W, ... so on the next image each worker meets the models it already loaded.
  // - Each worker has two chunks in flight: the next is queued in the worker before the current one ends, so it
  //   never idles for a round trip through the page. Chunks shrink as a share runs out (a third of what is left,
  //   at most `chunk`, at least 2), so the workers end close together.
  // - A worker whose share is done takes two models at a time from the end of the longest remaining share, so a
  //   slow worker never holds the tail; but only models it has loaded itself or the owner has not loaded either:
  //   loading one (fetch, parse, test vector) costs several predictions.
  // - Results come back once per chunk (onResults(list of {key, outputs})), not once per model: each message
  //   wakes the page's main thread, which shares the cores with the workers.
  async predictAll(items, input, { chunk = 12, onResults, signal } = {}) {
    this.stopPreload();
    const workers = this.grow();
    const shares = workers.map((_, w) => this.share(items, w));
    const take = (w) => {
      const own = shares[w];
      if (own.length) return own.splice(0, Math.max(2, Math.min(chunk, Math.ceil(own.length / 3))));
      const part = [];
      const victims = shares.map((share, v) => ({ share, v })).sort((a, b) => b.share.length - a.share.length);
      for (const { share, v } of victims) {
        for (let i = share.length - 1; i >= 0 && part.length < 2; --i) {
          const { key } = share[i];
          if (workers[w].loadedKeys.has(key) || !workers[v].loadedKeys.has(key)) part.push(...share.splice(i, 1));
        }
        if (part.length) break;
      }
      return part;
    };
    const t0 = performance.now();
    const stats = workers.map(() => ({ models: 0, requests: 0, computeMs: 0, wallMs: 0, spans: [] }));
    const origin = performance.timeOrigin + t0;
    const send = (w) => {
      const part = take(w);
      if (!part.length) return null;
      return workers[w]
        .request('predictEach', { items: part, input })
        .then(({ results, computeMs, startedAt, endedAt }) => {
          for (const { key } of results) workers[w].loadedKeys.add(key); // predictEach names its models in items
          const s = stats[w];
          s.spans.push([startedAt - origin, endedAt - origin]);
          Object.assign(s, {
            models: s.models + results.length,
            requests: s.requests + 1,
            computeMs: s.computeMs + computeMs,
            wallMs: performance.now() - t0,
          });
          if (!signal?.aborted) onResults?.(results);
        });
    };
    const run = async (w) => {
      let current = send(w);
      while (current) {
        const next = signal?.aborted ? null : send(w);
        try {
          await current;
        } catch (e) {
          next?.catch(() => {}); // the first failure is the one reported
          throw e;
        }
        current = next;
      }
      if (signal?.aborted) throw new DOMException('cancelled', 'AbortError');
    };
    await Promise.all(workers.map((_, w) => run(w)));
    return stats;
  }
}
