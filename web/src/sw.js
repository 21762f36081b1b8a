// Offline support. The app shell is precached at install; everything else from this origin (models, gallery
// images, response tables, the lazy Keras reader) is cached the first time it is fetched. Cache first, because every
// file name in a build is fixed and a new build gets a new cache (the version is a hash of the shipped files).
// Requests to other origins are never made by the page; the worker leaves them to the network untouched.
/* global __CACHE_VERSION__, __APP_SHELL__ */
const CACHE = `cortexlens-${__CACHE_VERSION__}`;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(__APP_SHELL__))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(keys.filter((k) => k.startsWith('cortexlens-') && k !== CACHE).map((k) => caches.delete(k))),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  url.hash = '';
  const key = url.pathname.endsWith('/') ? new Request(url.href) : event.request;
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const hit = await cache.match(key, { ignoreSearch: true });
      if (hit) return hit;
      const response = await fetch(event.request);
      if (response.ok && response.type === 'basic') cache.put(key, response.clone());
      return response;
    }),
  );
});

// The page lists what it fetched before this worker controlled it; cache those (same origin only).
self.addEventListener('message', (event) => {
  const { type, urls } = event.data || {};
  if (type !== 'cache' || !Array.isArray(urls)) return;
  const own = urls.filter((u) => {
    try {
      return new URL(u).origin === self.location.origin;
    } catch {
      return false;
    }
  });
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) =>
        Promise.all(
          own.map(async (u) => {
            if (await cache.match(u, { ignoreSearch: true })) return;
            const response = await fetch(u);
            if (response.ok) await cache.put(u, response);
          }),
        ),
      )
      .catch(() => {}),
  );
});
