// Accessibility in headless Chromium: axe-core (WCAG 2 A/AA and best-practice rules) finds no serious or critical
// violation on any view, nor on any step of any built-in lesson in the lesson player, at desktop and phone widths;
// and the page's main controls work from the keyboard alone (the tab order reaches the image picker, the view tabs
// and the neuron picker, each shows a focus ring, and each does its job with keys).
// Screenshots: build/site-test-screenshots/a11y-*.png.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startServer,
  launch,
  openPage,
  foreignRequests,
  screenshot,
  axeViolations,
  manifest,
  siteDir,
} from './harness.mjs';

const hasNeurons = manifest.models.some((m) => m.kind === 'neuron');
// Every section of "Inside the neuron" open, so that axe sees their controls and figures.
const ALL_OPEN = 'open=synthesis.blocks.natural.where.activations.weights.ablation';
const WIDTHS = [
  { name: 'desktop', width: 1280, height: 900 },
  { name: 'phone', width: 390, height: 844, mobile: true },
];

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.server.close();
});

// What a view has to have drawn before it is checked (its controls and results, not only its placeholders).
const READY = {
  neuron: () => document.querySelector('#raw-int8')?.textContent.match(/\d/),
  population: () => document.querySelector('#population-status')?.textContent,
  card: () => document.querySelector('#card h3'),
  evidence: () => document.querySelector('#fidelity-summary')?.childElementCount,
  inside: () => document.querySelector('#viz-weights')?.childElementCount || !document.querySelector('#viz-weights'),
  own: () => document.querySelector('#own-status'),
};

const describe = (list) => list.map((v) => `${v.impact} ${v.id} (${v.help}): ${v.targets.slice(0, 5).join(' | ')}`);

for (const size of WIDTHS) {
  test(`axe: no serious or critical violation on any view (${size.name}, ${size.width} px)`, async () => {
    const { page, context, errors, requests } = await openPage(browser, server.origin, { ...size, hash: ALL_OPEN });
    const tabs = await page.$$eval('[role=tab]', (list) => list.map((t) => t.id.replace(/^tab-/, '')));
    assert.ok(tabs.length >= 6, `the views' tabs: ${tabs}`);
    const found = {};
    for (const [i, view] of tabs.entries()) {
      await page.click(`#tab-${view}`);
      await page.waitForFunction(READY[view] || (() => true), null, { timeout: 20000 });
      // The header, the image panel and the footer are the same under every tab: checked with the first one.
      const violations = await axeViolations(page, {
        context: i === 0 ? null : { include: [['#results']] },
      });
      if (violations.length) found[view] = describe(violations);
      await screenshot(page, `a11y-${size.name}-${view}`);
    }
    await context.close();
    assert.deepEqual(found, {}, 'axe violations per view');
    assert.deepEqual(errors, [], 'no console errors or CSP violations');
    assert.deepEqual(foreignRequests(requests, server.origin), []);
  });
}

// The element that has the focus: its id, role, and whether a focus indicator is drawn around it.
const focused = (page) =>
  page.evaluate(() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    return {
      id: el.id,
      tag: el.tagName.toLowerCase(),
      role: el.getAttribute('role'),
      key: el.dataset?.key || null,
      text: (el.getAttribute('aria-label') || el.textContent || '').trim().slice(0, 40),
      ring: style.outlineStyle !== 'none' && Number.parseFloat(style.outlineWidth) >= 2,
    };
  });

// Tab (or Shift+Tab) until pred(focused element) holds -> that element; fails after 200 presses.
async function tabTo(page, pred, { back = false } = {}) {
  for (let i = 0; i < 200; ++i) {
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    const f = await focused(page);
    if (pred(f)) return f;
  }
  throw new Error('the control was not reached with the keyboard');
}

test('keyboard only: the tab order reaches the image picker, the view tabs and the neuron picker, and each works', async () => {
  const { page, context, errors } = await openPage(browser, server.origin, { width: 1280, height: 900 });
  await page.waitForFunction(() => window.cortexLens.state.predictions > 0, null, { timeout: 30000 });
  // Walk forward with Tab from the top of the page until the neuron picker's list (or the demo's result) is reached.
  const order = [];
  for (let i = 0; i < 200; ++i) {
    await page.keyboard.press('Tab');
    const f = await focused(page);
    order.push(f);
    if (f.id === 'neuron-list' || (!hasNeurons && f.id === 'copy-link')) break;
  }
  const index = (pred) => order.findIndex(pred);
  const skip = index((f) => f.tag === 'a' && /skip/i.test(f.text));
  const gallerySource = index((f) => f.id === 'gallery-source');
  const galleryImage = index((f) => f.key);
  const tab = index((f) => f.role === 'tab');
  const search = index((f) => f.id === 'neuron-search');
  const list = index((f) => f.id === 'neuron-list');
  assert.equal(skip, 0, 'the skip link comes first');
  assert.ok(gallerySource > 0 && galleryImage > gallerySource, 'the image picker: source, then its images');
  assert.ok(tab > galleryImage, 'then the view tabs');
  assert.equal(order.filter((f) => f.role === 'tab').length, 1, 'one tab stop for the tab list (arrows move in it)');
  if (hasNeurons) assert.ok(search > tab && list > search, 'then the neuron picker: search, then the list');
  const unringed = order.filter((f) => !f.ring).map((f) => f.id || f.key || f.tag);
  assert.deepEqual(unringed, [], 'every focused control shows a focus ring');

  // The image picker: back with Shift+Tab to the last gallery image passed, Enter picks it.
  const before = await page.evaluate(() => window.cortexLens.state.image.key);
  const image = await tabTo(page, (f) => f.key && f.key !== before, { back: true });
  await page.keyboard.press('Enter');
  await page.waitForFunction(
    (k) => window.cortexLens.state.image?.key === k && window.cortexLens.state.input,
    image.key,
  );

  // The view tabs: arrows move between views and take the focus with them.
  await tabTo(page, (f) => f.role === 'tab');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => window.cortexLens.state.view), 'population');
  assert.equal((await focused(page)).id, 'tab-population');
  await page.keyboard.press('ArrowLeft');
  assert.equal(await page.evaluate(() => window.cortexLens.state.view), 'neuron');

  if (hasNeurons) {
    // The neuron picker: typing filters, arrows choose, and the new neuron's prediction follows.
    await tabTo(page, (f) => f.id === 'neuron-search');
    await page.keyboard.type('201025');
    await tabTo(page, (f) => f.id === 'neuron-list');
    const first = await page.evaluate(() => window.cortexLens.state.neuronId);
    await page.keyboard.press('ArrowDown');
    const chosen = await page.evaluate(() => window.cortexLens.state.neuronId);
    assert.notEqual(chosen, first);
    assert.match(chosen, /^201025_n/);
    await page.waitForFunction((id) => window.cortexLens.state.resultsOf?.neuronId === id, chosen);
    await page.waitForFunction(() => /\d/.test(document.getElementById('percentile').textContent));
  }
  // The lesson player's launcher comes after the page's panels; Enter opens the lessons.
  if (await page.locator('#lesson-launch').count()) {
    await tabTo(page, (f) => f.id === 'lesson-launch');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#lesson-panel:not([hidden])');
  }
  await screenshot(page, 'a11y-keyboard');
  await context.close();
  assert.deepEqual(errors, []);
});

// ---- the lesson player: every step of every built-in lesson (web/lessons/index.json) ----
const lessonIndex = (() => {
  try {
    return JSON.parse(fs.readFileSync(path.join(siteDir, 'lessons/index.json'), 'utf8'));
  } catch {
    return [];
  }
})();

async function openLessonPanel(page) {
  if (await page.locator('#lesson-panel').isHidden()) await page.click('#lesson-launch');
  await page.waitForSelector('#lesson-panel:not([hidden])');
  await page.waitForFunction(() => window.cortexLens.app.lessons);
}

// Opens lesson `id` at its cover -> the parsed lesson (or null when this site cannot run it).
async function openLesson(page, id) {
  await page.evaluate((lessonId) => window.cortexLens.app.lessons.open(lessonId), id);
  await page.waitForFunction(
    (i) => window.cortexLens.state.lesson?.id === i || window.cortexLens.state.lessonError,
    id,
  );
  const error = await page.evaluate(() => window.cortexLens.state.lessonError);
  assert.equal(error, null, `${id}: ${error?.message}`);
  return page.evaluate(() => window.cortexLens.state.lesson);
}

// Desktop: every step of every lesson, once with a wrong answer's feedback. Phone: the menu, each cover and first step
// (the bottom sheet over the page); the panel's steps hold the same elements at either width.
for (const size of WIDTHS) {
  const everyStep = size.name === 'desktop';
  const what = everyStep ? 'every lesson step' : 'each lesson’s first step';
  test(`axe: the lesson menu, each cover and ${what} (${size.name}, ${size.width} px)`, async (t) => {
    if (!lessonIndex.length) return t.skip('this build has no web/lessons/index.json');
    const { page, context, errors } = await openPage(browser, server.origin, size);
    await openLessonPanel(page);
    const found = {};
    const check = async (where, context) => {
      const violations = await axeViolations(page, { context });
      if (violations.length) found[where] = describe(violations);
    };
    await check('menu');
    for (const { id } of lessonIndex) {
      const lesson = await openLesson(page, id);
      await check(`${id} cover`, '#lesson-panel');
      if (!lesson.runnable) continue;
      await page.click('#lesson-clear'); // a fresh student: step 1
      let wrongShown = false;
      for (let s = 1; s <= (everyStep ? lesson.steps.length : 1); ++s) {
        await page.waitForFunction((n) => window.cortexLens.state.lessonStep === n, s);
        // The whole page on a lesson's first step (the panel over the views), the panel alone on the others.
        await check(`${id} step ${s}`, s === 1 ? null : '#lesson-panel');
        const q = lesson.steps[s - 1].question;
        if (q?.kind === 'choice' && !wrongShown) {
          wrongShown = true; // a wrong answer's feedback and the retry, once per lesson
          await page.locator('#lesson-question label', { hasText: q.choices.find((c) => !c.correct).text }).click();
          await page.click('#lesson-check');
          await page.waitForSelector('#lesson-feedback[data-result="wrong"]');
          await check(`${id} step ${s}, wrong answer`, '#lesson-panel');
        }
        if (everyStep) await page.click('#lesson-next');
      }
      if (!everyStep) continue;
      await page.waitForFunction(() => document.getElementById('lesson-step-title').textContent === 'Lesson finished');
      await check(`${id} finished`, '#lesson-panel');
    }
    await screenshot(page, `a11y-${size.name}-lesson`);
    await context.close();
    assert.deepEqual(found, {}, 'axe violations per lesson step');
    assert.deepEqual(errors, []);
  });
}
