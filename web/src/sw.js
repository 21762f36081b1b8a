// Offline support, and one build at a time. scripts/site/version.mjs writes this build's version and its app shell
// (the files precached at install) into the bundled worker.
//
// A page must never run a mix of two builds (the new app.js with the old worker.js, a new manifest with old models):
// - Every file a page fetches from its build carries ?v=<its version> (web/src/build.js). Such a request is
//   answered from that version's cache if this worker has it, else from the network (revalidated, so an HTTP cache
//   that still holds the previous deploy's file is not trusted), never from another version's cache.
// - A navigation (index.html) goes to the network first, so one reload after a deploy gives the new page, which then
//   names only its own version; offline, the cached page of this worker's version is served.
// - Anything else of this origin (a request without ?v=) goes to the network first and falls back to the cache.
// Install fetches the shell with cache: 'reload' for the same reason, and activation keeps the previous version's
// cache beside the new one, so a page left open across a deploy still finds its own lazily loaded files.
/* global __CACHE_VERSION__, __APP_SHELL__ */
const VERSION = __CACHE_VERSION__;
const PREFIX = 'cortexlens-';
const CACHE = `${PREFIX}${VERSION}`;
const KEEP = 2; // caches kept: this version's and the previous one's

const withVersion = (path) => `${path}${path.includes('?') ? '&' : '?'}v=${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) =>
        Promise.all(
          __APP_SHELL__.map(async (path) => {
            const request = new Request(path === './' ? path : withVersion(path), { cache: 'reload' });
            const response = await fetch(request);
            if (!response.ok) throw new Error(`precache ${path}: HTTP ${response.status}`);
            await cache.put(path === './' ? new Request(new URL('./', self.location.href).href) : request, response);
          }),
        ),
      )
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => {
        // caches.keys() lists caches in creation order: the newest last.
        const ours = keys.filter((k) => k.startsWith(PREFIX) && k !== CACHE);
        return Promise.all(ours.slice(0, Math.max(0, ours.length - (KEEP - 1))).map((k) => caches.delete(k)));
      })
      .then(() => self.clients.claim()),
  );
});

async function fromNetwork(request, { keep } = {}) {
  const response = await fetch(request, { cache: 'no-cache' });
  if (keep && response.ok && response.type === 'basic') await keep(response.clone());
  return response;
}

async function versioned(request, version) {
  const name = `${PREFIX}${version}`;
  if (!(await caches.has(name))) return fromNetwork(request); // another build's file: not ours to cache
  const cache = await caches.open(name);
  const hit = await cache.match(request, { ignoreSearch: true });
  if (hit) return hit;
  return fromNetwork(request, { keep: version === VERSION ? (r) => cache.put(request, r) : null });
}

// The page of this worker's version (offline fallback): the cached './' if the network is unreachable.
async function navigation(request) {
  try {
    const response = await fromNetwork(request);
    return response;
  } catch (e) {
    const cache = await caches.open(CACHE);
    const hit = (await cache.match(new URL('./', self.location.href).href)) || (await cache.match(request));
    if (hit) return hit;
    throw e;
  }
}

async function unversioned(request) {
  const cache = await caches.open(CACHE);
  try {
    return await fromNetwork(request, { keep: (r) => cache.put(request, r) });
  } catch (e) {
    const hit = await cache.match(request, { ignoreSearch: true });
    if (hit) return hit;
    throw e;
  }
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (event.request.mode === 'navigate') {
    event.respondWith(navigation(event.request));
    return;
  }
  const version = url.searchParams.get('v');
  event.respondWith(version ? versioned(event.request, version) : unversioned(event.request));
});

// The page lists what it fetched before this worker controlled it; cache those of this version (same origin only).
self.addEventListener('message', (event) => {
  const { type, urls } = event.data || {};
  if (type !== 'cache' || !Array.isArray(urls)) return;
  const ours = urls.filter((u) => {
    try {
      const url = new URL(u);
      return url.origin === self.location.origin && url.searchParams.get('v') === VERSION;
    } catch {
      return false;
    }
  });
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) =>
        Promise.all(
          ours.map(async (u) => {
            if (await cache.match(u, { ignoreSearch: true })) return;
            const response = await fetch(u, { cache: 'no-cache' });
            if (response.ok) await cache.put(u, response);
          }),
        ),
      )
      .catch(() => {}),
  );
});
