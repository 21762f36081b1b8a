// Used by build_site.sh only when the native tool has no `pack` command (the model-pack step of issue 3): writes
// models/manifest.json listing .keras files copied as they are (the page reads them with the lazy Keras reader).
// Reference distributions and fidelity figures need `cortexlens pack`; without them the page says so.
// Usage: node scripts/site/fallback-manifest.mjs --out build/site/models [--data DIR] [--demo models/demo]
//        node scripts/site/fallback-manifest.mjs --augment build/site/models [--data DIR] [--demo models/demo]
//        (adds files.keras to the entries of an existing manifest, for an engine that cannot read .clm files)
import fs from 'node:fs';
import path from 'node:path';
import { unzipSync, strFromU8 } from 'fflate';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []));
const out = args.out || args.augment;
fs.mkdirSync(out, { recursive: true });

function filtersOf(file) {
  const entries = unzipSync(fs.readFileSync(file), { filter: (f) => f.name === 'config.json' });
  const config = JSON.parse(strFromU8(entries['config.json']));
  return config.config.layers.filter((l) => /Conv2D$/.test(l.class_name) && l.config.filters).map((l) => l.config.filters);
}

// Parameters as Keras counts them for this architecture (BatchNorm's 4 per channel included).
function paramsOf(filters) {
  let c = 3, total = 0;
  filters.forEach((f, i) => {
    total += i === 0 ? 25 * c * f + f : 25 * c + c * f + f;
    total += 4 * f;
    c = f;
  });
  return total + 28 * 28 * c + 1;
}

const models = [];
function add(file, entry) {
  const name = path.basename(file);
  fs.copyFileSync(file, path.join(out, name));
  models.push({ ...entry, files: { keras: name }, bytes: { keras: fs.statSync(file).size } });
}

const demoDir = args.demo && fs.existsSync(args.demo) ? args.demo : null;
for (const name of demoDir ? fs.readdirSync(demoDir).filter((f) => f.endsWith('.keras')).sort() : []) {
  const id = name.replace(/\.keras$/, '');
  add(path.join(demoDir, name), { id, name: id, kind: 'demo', filters: filtersOf(path.join(demoDir, name)), outputs: [id] });
}
const compact = args.data && path.join(args.data, 'compact_models');
if (compact && fs.existsSync(compact)) {
  const shared = path.join(args.data, 'shared_compact_models/from_ensemble_model/shared_compact_model_100filters.keras');
  if (fs.existsSync(shared)) add(shared, { id: 'shared_100', name: 'shared_compact_model_100filters', kind: 'shared', filters: filtersOf(shared) });
  const files = fs.readdirSync(compact).filter((f) => /^compact_model_\d+_neuron\d+\.keras$/.test(f));
  files.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  for (const name of files) {
    const [, session, neuron] = /compact_model_(\d+)_neuron(\d+)/.exec(name);
    const filters = filtersOf(path.join(compact, name));
    add(path.join(compact, name), {
      id: `${session}_n${neuron}`, name: name.replace(/\.keras$/, ''), kind: 'neuron', session, neuron: Number(neuron),
      filters, params: paramsOf(filters), outputs: [`${session}_n${neuron}`],
    });
  }
}
if (args.augment) {
  const manifestPath = path.join(out, 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  const byName = new Map(models.map((m) => [m.name, m]));
  for (const m of manifest.models) {
    const found = byName.get(m.name) || byName.get(m.id);
    if (!found) continue;
    m.files = { ...m.files, keras: found.files.keras };
    m.bytes = { ...m.bytes, keras: found.bytes.keras };
  }
  fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 1));
  console.log(`augmented ${manifestPath} with .keras files`);
  process.exit(0);
}
fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify({
  format: 'cortexlens-manifest', version: 1,
  citation: 'Cowley, B.R., Stan, P.L., Pillow, J.W. & Smith, M.A. Compact deep neural network models of the visual cortex. Nature (2026). doi:10.1038/s41586-026-10150-1',
  source: 'cowleygroup/V4_compact_models',
  fallback: 'built without `cortexlens pack`: .keras files, no reference distributions or fidelity figures',
  models,
}, null, 1));
console.log(`fallback manifest: ${models.length} models (.keras)`);
