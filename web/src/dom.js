// Tiny DOM helpers. Text always goes in through textContent (names in a dropped model file are untrusted).
export const $ = (id) => document.getElementById(id);

/** Resolves in a later task, so that work split by it never holds the main thread for one long task (over 50 ms,
 * when a click or a frame would wait). scheduler.yield() resumes ahead of other queued tasks where it exists. */
export const nextTask = () =>
  globalThis.scheduler?.yield ? globalThis.scheduler.yield() : new Promise((resolve) => setTimeout(resolve, 0));

/** Runs fn in a task of its own right after the next frame is rendered: the layout is clean then, so reading a size
 * costs nothing, and the work stays out of the frame's own task (at start-up, the frame that lays the whole page out
 * for the first time, 20-35 ms on its own). -> a function that cancels it. */
export function afterNextFrame(fn) {
  let timer = 0;
  const frame = requestAnimationFrame(() => {
    timer = setTimeout(fn, 0);
  });
  return () => {
    cancelAnimationFrame(frame);
    clearTimeout(timer);
  };
}

// attrs: attributes (null, undefined and false leave one out), plus `on: {event: listener}` so a view wires its
// elements where it builds them.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElementNS(
    tag === 'svg' || attrs.svg ? 'http://www.w3.org/2000/svg' : 'http://www.w3.org/1999/xhtml',
    tag,
  );
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'svg' || v == null || v === false) continue;
    if (k === 'on') for (const [type, listener] of Object.entries(v)) el.addEventListener(type, listener);
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

export function svg(tag, attrs = {}, ...children) {
  return h(tag, { ...attrs, svg: true }, ...children);
}

// A box that scrolls sideways on narrow screens. Focusable and named, so a keyboard can scroll it too (WCAG 2.1.1;
// axe's scrollable-region-focusable). Every wide table or strip goes through here rather than its own attributes.
export function scrollRegion(label, attrs, ...children) {
  return h('div', { class: 'table-scroll', ...attrs, tabindex: 0, role: 'region', 'aria-label': label }, ...children);
}

export function showError(el, message) {
  el.textContent = message;
  el.hidden = false;
}
export function clearError(el) {
  el.textContent = '';
  el.hidden = true;
}

// Thousands with commas, as en-US writes them. Not toLocaleString: its first call loads the locale data, 10-30 ms
// on the main thread in the middle of the page's first render.
export const formatNumber = (n) =>
  Number.isFinite(n) ? String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',') : '—';
export const formatBytes = (n) =>
  n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KB`;

// CSV with RFC 4180 quoting, so names with commas or quotes survive a spreadsheet.
export function toCsv(header, rows) {
  const cell = (v) => {
    const s = v == null ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return `${[header, ...rows].map((r) => r.map(cell).join(',')).join('\n')}\n`;
}
// Offers `blob` as a download named `name` (a file made on this computer: nothing is sent anywhere).
export function downloadBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
export function downloadCsv(name, header, rows) {
  downloadBlob(new Blob([toCsv(header, rows)], { type: 'text/csv' }), name);
}

// A drop zone for files: onFiles(File[]) for a drop with files. The events stop at the zone, so a model or lesson
// file never reaches the image view's drop handler further up the page.
export function dropTarget(zone, onFiles) {
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    event.stopPropagation();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    event.stopPropagation();
    zone.classList.remove('dragging');
    const files = [...(event.dataTransfer?.files || [])];
    if (files.length) onFiles(files);
  });
}
