// Questions about the models the page knows (the manifest's, plus files the user loaded), asked of the store's
// `entries`. An entry: {id, kind: 'neuron' | 'shared' | 'demo' | 'own', name?, session?, neuron?, params?,
// files?: {int8?, float?}, reference?, fidelity?, outputs?, workerKey?, precision?}.
import { asset } from './build.js';

export function createCatalog(store) {
  const entries = () => store.get('entries');
  const entry = (id) => (id == null ? undefined : entries().find((e) => e.id === id));

  // Whether the build (or the loaded file) has this model in this precision ('int8' | 'float').
  function hasPrecision(e, precision) {
    if (!e) return false;
    if (e.kind === 'own') return precision === e.precision;
    return Boolean(e.files?.[precision]);
  }

  // {key, url?} naming the model for a worker: key identifies one loaded model per precision; url is what the
  // worker fetches (loaded files have no url: the worker already holds them under their key).
  function modelRef(e, precision = hasPrecision(e, 'float') ? 'float' : 'int8') {
    if (e.kind === 'own') return { key: e.workerKey };
    const file = e.files?.[precision];
    if (!file) throw new Error(`${e.id} has no ${precision} model in this build`);
    return { key: `${e.id}:${precision}`, url: asset(`models/${file}`) };
  }

  // Reference distributions kept in files of their own (entry.referenceFile: the shared-size models', 3.3 MB that
  // the manifest no longer carries to every visit), by entry id, once loadReference has read them.
  const loaded = new Map(); // id -> reference (array or object)
  const loading = new Map(); // id -> Promise

  // The 0..100th percentiles of an output's responses to the reference natural images, or null. A loaded model whose
  // output is named after a recorded neuron (e.g. the authors' .keras file of that neuron) uses that neuron's.
  function reference(e, output = 0) {
    if (!e) return null;
    if (e.kind === 'own') {
      const twin = entry(e.outputs?.[output]);
      return twin && twin.kind === 'neuron' ? reference(twin) : null;
    }
    const all = e.reference ?? loaded.get(e.id);
    const ref = Array.isArray(all) ? all[output] : all;
    return ref || null;
  }

  // Reads an entry's referenceFile once (a plain file name beside the manifest, never a path); resolves when
  // reference() can answer for it. Rejects with a message naming the file.
  function loadReference(e) {
    if (!e?.referenceFile || e.reference || loaded.has(e.id)) return Promise.resolve();
    if (loading.has(e.id)) return loading.get(e.id);
    const file = String(e.referenceFile);
    const promise = (async () => {
      if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,100}\.reference\.json$/.test(file))
        throw new Error(`${e.id}: "${file.slice(0, 80)}" is not a reference file name`);
      const response = await fetch(asset(`models/${file}`));
      if (!response.ok) throw new Error(`models/${file}: HTTP ${response.status}`);
      const data = await response.json();
      if (!Array.isArray(data) && (typeof data !== 'object' || data === null))
        throw new Error(`models/${file} is not a list of reference distributions`);
      loaded.set(e.id, data);
    })();
    loading.set(e.id, promise);
    // A failed read may be retried later (the network may come back).
    promise.catch(() => loading.delete(e.id));
    return promise;
  }
  const quantiles = (e, output = 0) => reference(e, output)?.quantiles ?? null;
  const fidelity = (e) => (e && !Array.isArray(e.fidelity) ? e.fidelity : null) || null;

  return {
    entries,
    entry,
    current: () => entry(store.get('neuronId')),
    neurons: () => entries().filter((e) => e.kind === 'neuron'),
    shared: () => entries().find((e) => e.kind === 'shared'),
    hasPrecision,
    modelRef,
    reference,
    loadReference,
    quantiles,
    fidelity,
  };
}
