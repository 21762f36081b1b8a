// A new build deployed while a visitor has the old one cached by the service worker: one reload must give the new
// page with its own scripts, wasm, styles and models, never a mix of old and new files (web/src/sw.js). The site is
// copied twice (hard links); the second copy gets a changed worker.js, styles.css and manifest, is stamped with
// scripts/site/version.mjs like a real build, and replaces the first behind the same origin.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { launch, repoRoot, siteDir, screenshot } from './harness.mjs';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' };
const MARK = 'cortexlens-update-test-v2';
let tmp, server, origin, browser;
const roots = {};
let root;

const versionOf = (dir) =>
  /<meta name="cortexlens-build" content="([^"]+)"/.exec(fs.readFileSync(path.join(dir, 'index.html'), 'utf8'))[1];

// A changed file of a hard-linked copy: unlinked first, so the other copy keeps its own.
function rewrite(file, change) {
  const text = fs.readFileSync(file, 'utf8');
  fs.unlinkSync(file);
  fs.writeFileSync(file, change(text));
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cortexlens-update-'));
  roots.v1 = path.join(tmp, 'v1');
  roots.v2 = path.join(tmp, 'v2');
  execFileSync('cp', ['-al', siteDir, roots.v1]);
  execFileSync('cp', ['-al', siteDir, roots.v2]);
  rewrite(path.join(roots.v2, 'worker.js'), (t) => `${t}\n// ${MARK}\n`);
  rewrite(path.join(roots.v2, 'styles.css'), (t) => `${t}\n/* ${MARK} */\n`);
  rewrite(path.join(roots.v2, 'models/manifest.json'), (t) => JSON.stringify({ ...JSON.parse(t), buildMark: MARK }));
  for (const f of ['index.html', 'sw.js']) rewrite(path.join(roots.v2, f), (t) => t);
  execFileSync('node', [path.join(repoRoot, 'scripts/site/version.mjs'), roots.v2]);
  root = roots.v1;
  server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let file = path.join(root, decodeURIComponent(url.pathname));
    if (!file.startsWith(root)) return res.writeHead(403).end();
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    fs.readFile(file, (err, data) => {
      if (err) return res.writeHead(404).end('not found');
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream' });
      res.end(data);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('one reload after a deploy gives the new build, every file of it', async () => {
  const v1 = versionOf(roots.v1);
  const v2 = versionOf(roots.v2);
  assert.notEqual(v1, v2, 'the changed files give a new version');
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: 30000 });
    // The first visit installs the service worker and caches build 1.
    await page.evaluate(() => navigator.serviceWorker.ready);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 15000 });
    await page.waitForTimeout(1000);

    root = roots.v2; // the deploy
    const responses = [];
    context.on('response', (r) => responses.push(r));
    await page.reload();
    await page.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: 30000 });
    await page.waitForFunction(() => window.cortexLens.state.predictions > 0, null, { timeout: 30000 });

    assert.equal(
      await page.evaluate(() => document.querySelector('meta[name="cortexlens-build"]').content),
      v2,
      'the page is build 2',
    );
    const ours = responses.filter((r) => r.url().startsWith(`${origin}/`) && !r.url().endsWith('/sw.js'));
    const versions = new Map();
    for (const r of ours) {
      const v = new URL(r.url()).searchParams.get('v');
      if (v) versions.set(new URL(r.url()).pathname, v);
    }
    for (const file of ['/app.js', '/styles.css', '/worker.js', '/cortexlens.js', '/cortexlens.wasm']) {
      assert.equal(versions.get(file), v2, `${file} was fetched as build 2 (${[...versions].join(', ')})`);
    }
    for (const [file, v] of versions) assert.equal(v, v2, `${file} asked for build ${v}`);
    assert.ok(
      ours.every(
        (r) => new URL(r.url()).searchParams.get('v') || ['/', '/index.html'].includes(new URL(r.url()).pathname),
      ),
      `every file of the build carries its version: ${ours.map((r) => r.url()).join(', ')}`,
    );
    // The bytes are build 2's, not build 1's from a cache.
    // What the page and its workers received (not the service worker's own fetches behind them).
    const body = async (name) => {
      const r = ours.find((x) => new URL(x.url()).pathname === name && !x.request().serviceWorker());
      assert.ok(r, `${name} was fetched by the page`);
      return (await r.body()).toString('utf8');
    };
    assert.ok((await body('/worker.js')).includes(MARK), 'worker.js is build 2');
    assert.ok((await body('/styles.css')).includes(MARK), 'styles.css is build 2');
    assert.ok((await body('/models/manifest.json')).includes(MARK), 'manifest.json is build 2');
    for (const w of page.workers()) assert.equal(new URL(w.url()).searchParams.get('v'), v2, w.url());
    await screenshot(page, 'update-after-reload');
  } finally {
    await context.close();
  }
});
