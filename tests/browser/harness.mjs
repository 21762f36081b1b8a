// Shared by the browser tests: a static server for the built site (in-process, so the tests see every request
// it answers), headless Chromium through playwright-core, and the native CLI the page must agree with.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const siteDir = path.resolve(repoRoot, process.env.CORTEXLENS_SITE_DIR || 'build/site');
export const cliPath = path.resolve(
  repoRoot,
  process.env.CORTEXLENS_NATIVE_BUILD || 'build/release',
  'native/cortexlens',
);
export const screenshotDir = path.resolve(
  repoRoot,
  process.env.CORTEXLENS_SCREENSHOT_DIR || 'build/site-test-screenshots',
);
export const manifest = JSON.parse(fs.readFileSync(path.join(siteDir, 'models/manifest.json'), 'utf8'));
export const galleryIndex = JSON.parse(fs.readFileSync(path.join(siteDir, 'gallery/index.json'), 'utf8'));

const TYPES = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.clm': 'application/octet-stream',
  '.keras': 'application/octet-stream',
};

// isolated: send the headers that make the page cross-origin isolated (as CORTEXLENS_ISOLATE=1 scripts/serve.sh
// does), so the worker may run the threaded module; without them the page runs as on GitHub Pages.
export function startServer({ isolated = false } = {}) {
  const served = [];
  const isolation = isolated
    ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }
    : {};
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let file = path.join(siteDir, decodeURIComponent(url.pathname));
    if (!file.startsWith(siteDir)) {
      res.writeHead(403).end();
      return;
    }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    served.push(url.pathname);
    fs.readFile(file, (err, data) => {
      if (err) {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, {
        'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
        'Cache-Control': 'no-cache',
        ...isolation,
      });
      res.end(data);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, served, origin: `http://127.0.0.1:${server.address().port}` }),
    ),
  );
}

// args: extra Chromium flags, e.g. --use-file-for-fake-video-capture=FILE.y4m (the live view's tests feed the fake
// camera their own moving patterns).
export async function launch({ args = [] } = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-gpu',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      ...args,
    ],
  });
}

// A page with every request and console error recorded.
export async function openPage(
  browser,
  origin,
  { width = 1280, height = 900, hash = '', mobile = false, bypassCSP = false } = {},
) {
  const context = await browser.newContext({
    viewport: { width, height },
    deviceScaleFactor: mobile ? 2 : 1,
    isMobile: mobile,
    hasTouch: mobile,
    permissions: ['camera', 'clipboard-read', 'clipboard-write'],
    bypassCSP,
  });
  const requests = [];
  const errors = [];
  context.on('request', (r) => requests.push(r.url()));
  // Anything addressed to another origin is recorded and never leaves the machine.
  await context.route(
    (url) => url.origin !== origin && url.protocol !== 'blob:' && url.protocol !== 'data:',
    (route) => {
      requests.push(route.request().url());
      return route.abort();
    },
  );
  // Any Content-Security-Policy violation is recorded as an error, so the tests prove the policy holds.
  await context.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) =>
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`),
    ),
  );
  // Cumulative layout shift (the web-vitals definition without session windows: an upper bound).
  await context.addInitScript(() => {
    window.__layoutShift = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (!e.hadRecentInput) window.__layoutShift += e.value;
    }).observe({ type: 'layout-shift', buffered: true });
  });
  // Main-thread long tasks (over 50 ms) from the first script on, with when they started, for the benchmarks.
  await context.addInitScript(() => {
    window.__longTasks = [];
    if (PerformanceObserver.supportedEntryTypes?.includes('longtask'))
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration });
      }).observe({ type: 'longtask', buffered: true });
  });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${origin}/${hash ? `#${hash}` : ''}`);
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: 30000 });
  return { context, page, requests, errors };
}

export function foreignRequests(requests, origin) {
  return requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('blob:') && !u.startsWith('data:'));
}

// The page runs the 4-lane float kernels (wasm SIMD128); the CLI runs the same arithmetic bit for bit only on its
// sse path (its default, avx2/avx512, fuses multiply-adds): every comparison with the page forces it.
export const cliIsa = ['--isa', 'sse'];

// `cortexlens predict` -> the outputs for one image, as printed (%.9g: exact float32).
export function cliPredict(model, image, crop, precision) {
  const args = ['predict', ...cliIsa, model, image];
  if (crop) args.push('--crop', `${crop.x},${crop.y},${crop.side}`);
  if (precision) args.push('--precision', precision);
  const out = execFileSync(cliPath, args, { encoding: 'utf8' }).trim().split('\n');
  return out[1].split(',').slice(1).map(Number);
}

export function cliEvaluate(model) {
  const out = execFileSync(cliPath, ['evaluate', ...cliIsa, model], { encoding: 'utf8', env: { ...process.env } });
  const row = out.split('\n').find((l) => l && !l.startsWith('#') && !l.startsWith('neuron,'));
  const [neuron, , r, r2] = row.split(',');
  return { neuron, r: Number(r), r2: Number(r2) };
}

export async function screenshot(page, name) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export const cliAvailable = fs.existsSync(cliPath);

// The precision the tests compare for a manifest entry: float when the build has a float file of it, else int8 (the
// demo model ships as int8 only).
export const precisionOf = (entry) => (entry.files.float ? 'float' : 'int8');
export const modelFileFor = (entry, precision) =>
  path.join(siteDir, 'models', entry.files[precision] || entry.files.int8);

// axe-core's serious and critical violations on the page as it stands (hidden elements are not checked: show a view
// before checking it), under the WCAG 2.0/2.1 A and AA rules and axe's best practices. context: what to check (a
// selector or axe's {include, exclude}), the whole document by default. page.evaluate runs the library through the DevTools protocol, which the page's
// Content-Security-Policy does not govern, so the page is checked under the policy it is deployed with.
// -> [{id, impact, help, targets: [selector, ...]}], empty when the page passes.
let axeSource = null;
export async function axeViolations(page, { context = null, impacts = ['serious', 'critical'] } = {}) {
  axeSource ??= fs.readFileSync(path.join(repoRoot, 'node_modules/axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
  const violations = await page.evaluate(
    (ctx) =>
      window.axe
        .run(ctx || document, {
          resultTypes: ['violations'],
          runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
        })
        .then((r) => r.violations),
    context,
  );
  return violations
    .filter((v) => impacts.includes(v.impact))
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
}
