// Layout and form-control helpers shared by the sections of "Inside the neuron" (not a section itself).
import { h } from '../../dom.js';

export const row = (...children) => h('div', { class: 'viz-row' }, ...children);
export const labelled = (text, control) => h('label', { class: 'viz-label' }, text, control);
export const figure = (...children) => h('figure', { class: 'viz-figure' }, ...children);

// Keeps a form control and a store key in step both ways: the user's input writes the key (only values `valid`
// accepts: a half-typed number leaves the key alone), and the returned sync() writes the key's value into the
// control (a link, or another section, changed it). sync() leaves an equal value alone so the caret stays put.
export function bind(
  store,
  key,
  control,
  {
    read = (c) => c.value,
    write = (c, v) => {
      c.value = String(v);
    },
    valid = () => true,
  } = {},
) {
  const take = () => {
    const value = read(control);
    if (valid(value)) store.set({ [key]: value });
  };
  const sync = () => {
    if (!Object.is(read(control), store.get(key))) write(control, store.get(key));
  };
  control.addEventListener('input', take);
  // On leaving the control, an invalid entry goes back to what the store holds.
  control.addEventListener('change', () => {
    take();
    sync();
  });
  return sync;
}

export const integerIn = (min, max) => ({
  read: (c) => (c.value.trim() === '' ? NaN : Number(c.value)),
  valid: (v) => Number.isInteger(v) && v >= min && v <= max,
});
export const checkbox = {
  read: (c) => c.checked,
  write: (c, v) => {
    c.checked = Boolean(v);
  },
};
// A <select> of numbers: before its options exist it reads NaN, and sync() again after filling it selects the key's.
export const numberSelect = { read: (c) => (c.value === '' ? NaN : Number(c.value)), valid: Number.isFinite };

export const options = (list) => list.map(([value, text]) => h('option', { value }, text));
