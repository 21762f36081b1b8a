// The page's one store. Every piece of state a user can see or set is declared in web/src/state.js (type, default,
// how it travels in a link); views read it with get(), change it with set(), and hear which keys changed through
// subscribe(). No framework: the page is mostly canvases drawn by hand under a strict CSP.
//
// Latest request wins: ticket(keys) remembers the version of each key a request depends on; when the reply
// arrives, ticket.current() says whether any of those keys changed meanwhile, and a stale reply is dropped.

export function createStore(schema) {
  const values = {};
  const versions = {};
  for (const [key, spec] of Object.entries(schema)) {
    values[key] = initial(spec);
    versions[key] = 0;
  }
  const subscribers = new Set();
  let pending = null; // changed keys queued while subscribers run: delivered after, in one batch

  function check(key) {
    if (!Object.hasOwn(schema, key)) throw new Error(`unknown state key '${key}'`);
  }

  function deliver(changed) {
    for (const subscriber of [...subscribers]) {
      if (!subscribers.has(subscriber)) continue;
      const mine = subscriber.keys ? [...changed].filter((k) => subscriber.keys.has(k)) : [...changed];
      if (mine.length) subscriber.fn(new Set(mine));
    }
  }

  const store = {
    schema,
    get(key) {
      check(key);
      return values[key];
    },
    // A read-only view of every value, for the tests and the curious (window.cortexLens.state).
    snapshot: () => ({ ...values }),
    version(key) {
      check(key);
      return versions[key];
    },
    // patch: {key: value}. Keys whose value is identical (Object.is) do not count as changed; mutable values
    // (Maps, result objects) must be replaced, not changed in place, to be heard.
    set(patch) {
      const changed = new Set();
      for (const [key, value] of Object.entries(patch)) {
        check(key);
        if (Object.is(values[key], value)) continue;
        values[key] = value;
        versions[key] += 1;
        changed.add(key);
      }
      if (!changed.size) return changed;
      if (pending) {
        for (const k of changed) pending.add(k);
        return changed;
      }
      pending = new Set(changed);
      try {
        while (pending.size) {
          const batch = pending;
          pending = new Set();
          deliver(batch);
        }
      } finally {
        pending = null;
      }
      return changed;
    },
    // keys: array of state keys, or null for every key. fn(changedKeys: Set). Returns the unsubscribe function.
    subscribe(keys, fn) {
      if (keys) for (const k of keys) check(k);
      const subscriber = { keys: keys ? new Set(keys) : null, fn };
      subscribers.add(subscriber);
      return () => subscribers.delete(subscriber);
    },
    ticket(keys) {
      for (const k of keys) check(k);
      const seen = keys.map((k) => versions[k]);
      return { current: () => keys.every((k, i) => versions[k] === seen[i]) };
    },
    reset(key) {
      check(key);
      return store.set({ [key]: initial(schema[key]) });
    },
  };
  return store;
}

function initial(spec) {
  return typeof spec.initial === 'function' ? spec.initial() : spec.initial;
}
