// The link is a view of the store: every state key declared with `link` in web/src/state.js round-trips through the
// URL's hash, so a lesson, a bug report or a figure can be reproduced by opening the link.
export function linkOf(store) {
  const params = new URLSearchParams();
  for (const [key, spec] of Object.entries(store.schema)) {
    if (!spec.link) continue;
    const text = spec.link.encode(store.get(key));
    if (text != null) params.set(spec.link.param, text);
  }
  return params.toString();
}

// hash ('#a=1&b=2' or 'a=1&b=2') -> {patch: {key: value}, ignored: ['param=value' that did not decode]}.
export function readLink(schema, hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const byParam = new Map(
    Object.entries(schema)
      .filter(([, s]) => s.link)
      .map(([key, s]) => [s.link.param, key]),
  );
  const patch = {};
  const ignored = [];
  for (const [param, text] of params) {
    const key = byParam.get(param);
    const value = key ? schema[key].link.decode(text) : undefined;
    if (value === undefined) ignored.push(`${param}=${text}`.slice(0, 100));
    else patch[key] = value;
  }
  return { patch, ignored };
}

// Keeps the address bar in step with the store (replaceState: moving around the page does not flood the history).
export function keepLinkInStep(store, { delayMs = 150 } = {}) {
  const keys = Object.entries(store.schema)
    .filter(([, s]) => s.link)
    .map(([k]) => k);
  let timer = 0;
  const write = () => {
    clearTimeout(timer);
    history.replaceState(null, '', `#${linkOf(store)}`);
  };
  store.subscribe(keys, () => {
    clearTimeout(timer);
    timer = setTimeout(write, delayMs);
  });
  return write; // call to write now (e.g. before copying the link)
}
