// Stamps a built site with its version: a hash of every file of the app shell, written into index.html
// (<meta name="cortexlens-build"> and ?v= on the files it names) and into the service worker (its cache name and
// the shell it precaches), which it bundles here from web/src/sw.js. The page puts ?v= on everything it fetches
// (web/src/build.js), so the service worker can keep builds apart (web/src/sw.js).
// Idempotent: run it again after changing files of the site and the version follows them.
// Usage: node scripts/site/version.mjs SITE_DIR
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const site = process.argv[2];
if (!site || !fs.existsSync(path.join(site, 'index.html'))) {
  console.error('usage: version.mjs SITE_DIR (a built site, with index.html)');
  process.exit(2);
}
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// The shell: what the page needs to start and to run offline after one visit. The int8 models (~3 MB for all 219)
// are in it so the population view works offline, the built-in lessons (lessons/) so a class can work offline, and
// the lazily loaded Keras reader (30 KB gzip) so a page left open across a deploy still loads its own; float
// models, gallery images, the threaded module and the model lab's module (1 MB, only for the lab) are cached when
// first used.
const SHELL =
  /\.(js|wasm|css|html|svg)$|(^|\/)(manifest|index)\.json$|\.int8\.clm$|^gallery\/own\/.*\.png$|^lessons\/.*\.md$/;
const EXCLUDED = new Set(['sw.js']);
function walk(dir, depth = 0) {
  if (depth > 2) return [];
  return fs.readdirSync(path.join(site, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = dir ? `${dir}/${e.name}` : e.name;
    if (e.name.startsWith('.')) return [];
    if (e.isDirectory()) return walk(rel, depth + 1);
    return SHELL.test(rel) && !EXCLUDED.has(rel) && !/^cortexlens-(mt|lab)/.test(rel) ? [rel] : [];
  });
}
const shell = walk('').sort();

const NAMED = /(["'])(app\.js|styles\.css|favicon\.svg)(\?v=[\w-]*)?\1/g;
const META = /(<meta name="cortexlens-build" content=")[^"]*(")/;
const indexPath = path.join(site, 'index.html');
const plainIndex = fs.readFileSync(indexPath, 'utf8').replace(NAMED, '$1$2$1').replace(META, '$1dev$2');
if (!META.test(plainIndex)) {
  console.error('version.mjs: index.html has no <meta name="cortexlens-build" content="..."> to stamp');
  process.exit(1);
}

const hash = crypto.createHash('sha256');
for (const rel of shell) {
  hash.update(`${rel}\0`);
  hash.update(rel === 'index.html' ? plainIndex : fs.readFileSync(path.join(site, rel)));
}
const version = hash.digest('hex').slice(0, 16);

fs.writeFileSync(indexPath, plainIndex.replace(NAMED, `$1$2?v=${version}$1`).replace(META, `$1${version}$2`));
esbuild.buildSync({
  entryPoints: [path.join(repo, 'web/src/sw.js')],
  outfile: path.join(site, 'sw.js'),
  bundle: true,
  minify: true,
  target: ['chrome100', 'firefox100', 'safari15'],
  legalComments: 'none',
  logLevel: 'warning',
  define: { __CACHE_VERSION__: JSON.stringify(version), __APP_SHELL__: JSON.stringify(['./', ...shell]) },
});
console.log(`version.mjs: ${site} is build ${version} (${shell.length} files in the app shell)`);
