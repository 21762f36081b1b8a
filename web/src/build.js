// Which build of the site this page (or worker) belongs to, and the URLs of that build's files.
// scripts/site/version.mjs writes the build's version into index.html (<meta name="cortexlens-build">) and into the
// service worker; the page hands it to its workers in their URL (worker.js?v=...). Every file the page or a worker
// fetches from its own build carries ?v=: the service worker then answers it from that build's cache or from the
// network, never from another build's cache, so a page is never a mix of two builds (web/src/sw.js).
const fromPage = () => globalThis.document?.querySelector('meta[name="cortexlens-build"]')?.content;
const fromWorker = () => new URL(globalThis.location?.href || 'http://x/').searchParams.get('v');

export const BUILD = fromPage() || fromWorker() || 'dev';

// A same-origin relative URL of this build's file -> the same URL with ?v=BUILD (other URLs unchanged).
export function asset(url) {
  if (BUILD === 'dev' || /^[a-z]+:/i.test(url) || url.startsWith('/')) return url;
  return `${url}${url.includes('?') ? '&' : '?'}v=${BUILD}`;
}
