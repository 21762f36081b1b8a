// The page's state schema (web/src/state.js): every key a link carries has its own parameter name, and its codec
// turns the initial value into no parameter at all. Views are added by several hands; two keys answering to one
// parameter would make a link restore the wrong setting, silently.
import test from 'node:test';
import assert from 'node:assert/strict';
import { schema } from '../../web/src/state.js';

test('link parameters are unique and initial values stay out of links', () => {
  const owner = new Map();
  for (const [key, spec] of Object.entries(schema)) {
    if (!spec.link) continue;
    const { param, encode, decode } = spec.link;
    assert.match(param, /^[a-z0-9]{1,16}$/, `${key}: parameter name ${param}`);
    assert.ok(!owner.has(param), `${key} and ${owner.get(param)} both use the link parameter '${param}'`);
    owner.set(param, key);
    assert.equal(typeof encode, 'function', `${key}: encode`);
    assert.equal(typeof decode, 'function', `${key}: decode`);
    const initial = typeof spec.initial === 'function' ? spec.initial() : spec.initial;
    assert.equal(encode(initial), null, `${key}: its initial value is left out of links`);
  }
  assert.ok(owner.size > 20);
});
