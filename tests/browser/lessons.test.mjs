// The lesson player (web/src/lessons/): a lesson the test writes itself, opened from a dropped file and from a
// same-origin link; ten broken files and their messages; resuming after a reload; the hand-in (PDF and JSON) and
// the class summary; the same numbers in two fresh browsers; and a walker over every built-in lesson of
// web/lessons/index.json at desktop and phone widths.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
// pdf.js reads the PDF Chromium prints (its text and its images); Node 20 lacks two APIs it uses.
ArrayBuffer.prototype.transferToFixedLength ??= function transferToFixedLength() {
  const copy = new ArrayBuffer(this.byteLength);
  new Uint8Array(copy).set(new Uint8Array(this));
  return copy;
};
Promise.withResolvers ??= function withResolvers() {
  let resolve, reject;
  const promise = new this((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
};
const { getDocument, OPS } = await import('pdfjs-dist/legacy/build/pdf.mjs');
import {
  startServer,
  launch,
  openPage,
  foreignRequests,
  screenshot,
  screenshotDir,
  siteDir,
  manifest,
  galleryIndex,
} from './harness.mjs';

let server, browser;
const allRequests = [];
const testDir = path.join(siteDir, 'lessons-test'); // the test's own lessons, served as a teacher's folder would be
async function open(options) {
  const opened = await openPage(browser, server.origin, options);
  opened.page.on('request', (r) => allRequests.push(r.url()));
  allRequests.push(...opened.requests);
  return opened;
}

// What this site has: the lesson uses its first recorded neuron and image, or the demo model and a drawn pattern.
const neuron = manifest.models.find((m) => m.kind === 'neuron') || manifest.models.find((m) => m.kind === 'demo');
const session = galleryIndex.sessions[0];
const imageKey = session
  ? `${session.session}/${Math.min(session.numbers[0] + 600, session.numbers[1])}`
  : galleryIndex.own[0].id;
const otherImage = galleryIndex.own[1]?.id || imageKey;
// The demo model has no reference images (no percentile): on a site without the published data step 2 asks for the
// raw response instead.
const LIVE = neuron.reference ? 'percentile' : 'response';
const written = (v) => (LIVE === 'percentile' ? v.toFixed(1) : String(v));

const LESSON = `---
title: Percentiles for class 7b
level: upper secondary
minutes: 15
goals:
  - read a percentile
  - say why raw outputs are not compared
---
A lesson written by the test, the way a teacher would.

## Meet the neuron
The page shows **${neuron.id}**.

\`\`\`action
view: neuron
neuron: ${neuron.id}
image: ${imageKey}
precision: int8
\`\`\`

\`\`\`question
kind: choice
prompt: Why does the page show a percentile?
choices:
  - text: The model's output scale is arbitrary
    correct: true
  - text: Percentiles are spikes per second
    feedback: No, the output has no unit at all.
hint: Some outputs are negative.
explain: A compact model's output has no unit, so the page compares it with natural images.
\`\`\`

## Read the percentile
\`\`\`question
kind: number
prompt: What ${LIVE} does this image reach?
answer: ${LIVE}
tolerance: ${LIVE === 'percentile' ? 0.5 : 0.001}
feedback: Read the big number in One neuron.
\`\`\`

## Count the parameters
\`\`\`action
view: card
\`\`\`

\`\`\`question
kind: number
prompt: How many parameters has this model?
answer: params
tolerance: 0
\`\`\`

## Another image
\`\`\`action
view: neuron
image: ${otherImage}
\`\`\`

\`\`\`question
kind: predict
prompt: Guess the raw response first.
guess: number
reveal: response
explain: Raw numbers mean little without the reference images.
\`\`\`

## Your words
\`\`\`question
kind: text
prompt: In one sentence, what did you learn?
minLength: 10
\`\`\`
`;

const QUESTION_STEPS = [1, 2, 3, 4, 5];

// Drops files on an element as a user would (a DataTransfer with File objects).
async function dropFiles(page, selector, files) {
  const transfer = await page.evaluateHandle(
    (list) => {
      const dt = new DataTransfer();
      for (const f of list)
        dt.items.add(
          new File([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))], f.name, { type: f.type || '' }),
        );
      return dt;
    },
    files.map((f) => ({ name: f.name, base64: Buffer.from(f.bytes).toString('base64'), type: f.type })),
  );
  await page.dispatchEvent(selector, 'drop', { dataTransfer: transfer });
}

async function openPanel(page) {
  if (await page.locator('#lesson-panel').isHidden()) await page.click('#lesson-launch');
  await page.waitForSelector('#lesson-panel:not([hidden])');
}

const stepTitle = (page) => page.locator('#lesson-step-title').textContent();
const live = (page, name) => page.evaluate((n) => window.cortexLens.app.lessons.live.read(n), name);
// The value once the page has one and it held for 300 ms: read in one go with the wait, since a link can still be
// changing the neuron or the image just after the first value appears (a second read then found none).
async function liveValue(page, name) {
  const steady = await page.waitForFunction(
    (n) => {
      const read = window.cortexLens.app.lessons.live.read(n);
      const now = performance.now();
      window.__liveSeen = window.__liveSeen || {};
      const seen = window.__liveSeen;
      if (!('value' in read) || seen[n]?.value !== read.value) {
        seen[n] = 'value' in read ? { value: read.value, since: now } : null;
        return false;
      }
      return now - seen[n].since >= 300 ? { value: read.value } : false;
    },
    name,
    { timeout: 60000, polling: 50 },
  );
  return (await steady.jsonValue()).value;
}

async function choose(page, text) {
  await page.locator('#lesson-question label', { hasText: text }).click();
  await page.click('#lesson-check');
}
async function feedback(page, kind) {
  await page.waitForSelector(`#lesson-feedback[data-result="${kind}"]`);
  return page.locator('#lesson-feedback').textContent();
}
async function next(page, expectedTitle) {
  await page.click('#lesson-next');
  if (expectedTitle)
    await page.waitForFunction((t) => document.getElementById('lesson-step-title').textContent === t, expectedTitle);
}

// Walks the test lesson from step 1 to the end, each question first wrong (feedback) then right.
async function answerTestLesson(page, shots) {
  assert.equal(await stepTitle(page), 'Meet the neuron');
  await page.waitForFunction((id) => window.cortexLens.state.neuronId === id, neuron.id);
  await page.click('#lesson-hint-button');
  assert.match(await page.locator('#lesson-hint').textContent(), /negative/);
  await choose(page, 'spikes per second');
  assert.match(await feedback(page, 'wrong'), /no unit/);
  await choose(page, 'arbitrary');
  assert.match(await feedback(page, 'right'), /compares it with natural images/);
  if (shots) await screenshot(page, `${shots}-step1`);

  await next(page, 'Read the percentile');
  const percentile = await liveValue(page, LIVE);
  await page.fill('#lesson-question input[type="number"]', String(percentile + 5));
  await page.click('#lesson-check');
  assert.match(await feedback(page, 'wrong'), /big number/);
  await page.fill('#lesson-question input[type="number"]', written(percentile));
  await page.click('#lesson-check');
  await feedback(page, 'right');

  await next(page, 'Count the parameters');
  await page.waitForFunction(() => window.cortexLens.state.view === 'card');
  const params = await liveValue(page, 'params');
  assert.equal(params, neuron.params);
  await page.fill('#lesson-question input[type="number"]', String(params + 1));
  await page.click('#lesson-check');
  await feedback(page, 'wrong');
  await page.fill('#lesson-question input[type="number"]', String(params));
  await page.click('#lesson-check');
  await feedback(page, 'right');
  return { percentile, params };
}

async function finishTestLesson(page) {
  await next(page, 'Another image');
  await page.waitForFunction((k) => window.cortexLens.state.image?.key === k, otherImage);
  await page.fill('#lesson-question input[type="number"]', '0.5');
  await page.click('#lesson-check');
  await page.waitForFunction(() => document.getElementById('lesson-reveal').dataset.value);
  const response = Number(await page.locator('#lesson-reveal').getAttribute('data-value'));
  assert.equal(response, (await live(page, 'response')).value);
  await next(page, 'Your words');
  await page.fill('#lesson-question textarea', 'short');
  await page.click('#lesson-check');
  assert.match(await feedback(page, 'empty'), /at least 10/);
  await page.fill('#lesson-question textarea', 'Percentiles, not raw outputs, compare neurons.');
  await page.click('#lesson-check');
  await feedback(page, 'kept');
  await next(page, 'Lesson finished');
  return { response };
}

async function reportJson(page) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#lesson-report-json')]);
  return JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
}

async function pdfText(bytes) {
  const pdf = await getDocument({ data: new Uint8Array(bytes), useSystemFonts: false }).promise;
  let text = '';
  let images = 0;
  for (let i = 1; i <= pdf.numPages; ++i) {
    const page = await pdf.getPage(i);
    text += `${(await page.getTextContent()).items.map((t) => t.str).join(' ')}\n`;
    images += (await page.getOperatorList()).fnArray.filter((f) => f === OPS.paintImageXObject).length;
  }
  return { text: text.replace(/\s+/g, ' '), images };
}

before(async () => {
  fs.rmSync(testDir, { recursive: true, force: true });
  fs.mkdirSync(testDir);
  fs.writeFileSync(path.join(testDir, 'class-7b.md'), LESSON);
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.server.close();
  fs.rmSync(testDir, { recursive: true, force: true });
  assert.deepEqual(foreignRequests(allRequests, server.origin), []);
});

// biome-ignore lint/complexity/noExcessiveLinesPerFunction: one student's whole session, in order, in one page.
test('a teacher’s lesson from a dropped file: answers, reload resumes, PDF and JSON hand-in, class summary', async () => {
  const { page, context, errors } = await open();
  await openPanel(page);
  await dropFiles(page, '#lesson-drop', [{ name: 'class-7b.md', bytes: LESSON }]);
  await page.waitForSelector('#lesson-player:not([hidden])');
  assert.equal(await stepTitle(page), 'Percentiles for class 7b'); // a file opens at its cover
  assert.match(await page.locator('#lesson-step').textContent(), /read a percentile/);
  assert.ok(await page.locator('#lesson-copy').isDisabled(), 'a dropped file has no link');
  await next(page, 'Meet the neuron');
  const { percentile, params } = await answerTestLesson(page, 'lessons-dropped');

  // Mid-lesson reload: the same step, the answers kept, nothing sent anywhere.
  await page.reload();
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
  await page.waitForFunction(
    () => document.getElementById('lesson-step-title')?.textContent === 'Count the parameters',
  );
  assert.match(await feedback(page, 'right'), /Right/);
  assert.equal(await page.inputValue('#lesson-question input[type="number"]'), String(params));
  await page.click('#lesson-back');
  await page.waitForFunction(() => document.getElementById('lesson-step-title').textContent === 'Read the percentile');
  assert.equal(Number(await page.inputValue('#lesson-question input[type="number"]')), Number(written(percentile)));
  await next(page, 'Count the parameters');
  const { response } = await finishTestLesson(page);
  await screenshot(page, 'lessons-finished');

  // Hand-in: the printable page (Chromium's PDF) and the JSON.
  await page.click('#lesson-report-open');
  await page.fill('#lesson-student', 'Ada Student');
  await page.locator('#lesson-student').dispatchEvent('change');
  await page.waitForFunction(() => document.getElementById('lesson-report-student')?.textContent === 'Ada Student');
  const report = await reportJson(page);
  assert.equal(report.format, 'cortexlens-lesson-report');
  assert.equal(report.student, 'Ada Student');
  assert.match(report.build.version, /^[0-9a-f]{16}$/);
  // The build id is the site's, as scripts/site/version.mjs stamped it into index.html.
  const stamped = /<meta name="cortexlens-build" content="([^"]*)"/.exec(
    fs.readFileSync(path.join(siteDir, 'index.html'), 'utf8'),
  );
  assert.equal(report.build.version, stamped[1]);
  assert.match(
    report.citation,
    /Cowley.*Compact deep neural network models of the visual cortex.*10\.1038\/s41586-026-10150-1/,
  );
  assert.deepEqual(
    report.questions.map((q) => q.step),
    QUESTION_STEPS,
  );
  assert.deepEqual(
    report.questions.map((q) => q.correct),
    [true, true, true, null, null],
  );
  assert.equal(report.questions[1].expected, percentile);
  assert.equal(report.questions[3].expected, response);
  assert.equal(report.questions[4].answer, 'Percentiles, not raw outputs, compare neurons.');
  assert.ok(report.models.some((m) => m.id === neuron.id));
  assert.ok(report.figures.length >= 3, `figures: ${report.figures.length}`);
  for (const f of report.figures) assert.match(f.png, /^data:image\/png;base64,/);
  await screenshot(page, 'lessons-report');
  const pdf = await pdfText(await page.pdf({ format: 'A4', printBackground: true }));
  for (const needle of [
    'Percentiles for class 7b',
    'Ada Student',
    report.build.version,
    'Compact deep neural network models of the visual cortex',
    'arbitrary',
    LIVE === 'percentile' ? percentile.toFixed(1) : percentile.toFixed(3),
    String(params),
    'Percentiles, not raw outputs, compare neurons.',
    neuron.id,
  ])
    assert.ok(pdf.text.replace(/\s/g, '').includes(needle.replace(/\s/g, '')), `the PDF lacks "${needle}"`);
  // Chromium embeds an image once however often it appears: every distinct figure is in the PDF.
  const distinct = new Set(report.figures.map((f) => f.png)).size;
  assert.ok(pdf.images >= distinct, `PDF images ${pdf.images} < distinct figures ${distinct}`);
  await page.click('#lesson-report-close');

  // The class summary merges three reports (one of them another student's copy with a wrong answer).
  const second = {
    ...report,
    student: 'Ben',
    questions: report.questions.map((q, i) => (i === 0 ? { ...q, answer: 'x', correct: false } : q)),
  };
  const third = { ...report, student: 'Cleo', questions: report.questions.slice(0, 2) };
  await page.click('#lesson-to-menu');
  await page.click('#lesson-summary-open');
  await dropFiles(page, '#lesson-summary-drop', [
    { name: 'ada.json', bytes: JSON.stringify(report), type: 'application/json' },
    { name: 'ben.json', bytes: JSON.stringify(second), type: 'application/json' },
    { name: 'cleo.json', bytes: JSON.stringify(third), type: 'application/json' },
    { name: 'notes.json', bytes: '{"hello": 1}', type: 'application/json' },
  ]);
  await page.waitForSelector('#lesson-summary-table-0');
  const table = await page.$$eval('#lesson-summary-table-0 tbody tr', (rows) =>
    rows.map((r) => [...r.children].map((c) => c.textContent.trim())),
  );
  assert.deepEqual(
    table.map((r) => r[0]),
    ['Ada Student', 'Ben', 'Cleo'],
  );
  assert.equal(table[0].length, 1 + QUESTION_STEPS.length);
  assert.match(table[0][1], /^✓ The model's output scale is arbitrary/);
  assert.match(table[1][1], /^✗ x/);
  assert.equal(table[2][3], '—');
  const foot = await page.$$eval('#lesson-summary-table-0 tfoot td', (c) => c.map((x) => x.textContent));
  assert.deepEqual(foot.slice(0, 2), ['67%', '100%']);
  assert.match(
    await page.locator('#lesson-summary-error').textContent(),
    /notes\.json: not a Cortex Lens lesson report/,
  );
  await screenshot(page, 'lessons-summary');
  await page.click('#lesson-summary-close');

  // "Clear my answers": the lesson starts again at step 1 and no answer is left in the browser.
  await dropFiles(page, '#lesson-drop', [{ name: 'class-7b.md', bytes: LESSON }]);
  await page.waitForFunction(() => document.getElementById('lesson-step-title')?.textContent === 'Lesson finished');
  await page.click('#lesson-clear');
  await page.waitForFunction(() => document.getElementById('lesson-step-title').textContent === 'Meet the neuron');
  assert.equal(await page.locator('#lesson-feedback').textContent(), '');
  const kept = await page.evaluate(() => JSON.parse(localStorage.getItem('cortexlens.lesson.file:class-7b.md')));
  assert.deepEqual([kept.step, kept.answers, kept.figures], [1, {}, {}]);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the same lesson from a same-origin link opens at step 1 and gives two fresh browsers the same numbers', async () => {
  const numbers = [];
  for (const run of [0, 1]) {
    const { page, context, errors } = await open({ hash: 'lesson=url:lessons-test/class-7b.md' });
    await page.waitForFunction(() => document.getElementById('lesson-step-title')?.textContent === 'Meet the neuron');
    const copied = await (async () => {
      await page.click('#lesson-copy');
      return page.inputValue('#lesson-link');
    })();
    assert.equal(copied, `${server.origin}/#lesson=url%3Alessons-test%2Fclass-7b.md`);
    const got = await answerTestLesson(page, run === 0 ? 'lessons-link' : null);
    numbers.push({ ...got, ...(await finishTestLesson(page)) });
    const state = await page.evaluate(() => ({
      crop: window.cortexLens.state.crop,
      image: window.cortexLens.state.image.key,
    }));
    numbers[run].state = state;
    assert.deepEqual(errors, []);
    await context.close();
  }
  assert.deepEqual(numbers[0], numbers[1]);
});

// Each broken file, and what its message must say (the line, and what was expected).
// The 1-based line of `text` that holds `needle`.
const lineOf = (text, needle) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
const broken = (name, text, needle, message) => [
  name,
  text,
  needle ? new RegExp(`^Line ${lineOf(text, needle)}: ${message.source}`) : message,
];
const BROKEN = [
  broken(
    'unknown-key.md',
    LESSON.replace('precision: int8', 'precission: int8'),
    'precission',
    /unknown action key "precission": expected a link parameter/,
  ),
  broken(
    'bad-value.md',
    LESSON.replace('precision: int8', 'precision: int16'),
    'int16',
    /"precision: int16" is not a value a link can hold: expected one of int8, float/,
  ),
  broken(
    'no-neuron.md',
    LESSON.replace(`neuron: ${neuron.id}`, 'neuron: 190923_n999'),
    'n999',
    /there is no neuron "190923_n999" in this site's models/,
  ),
  broken(
    'no-view.md',
    LESSON.replace('view: card', 'view: microscope'),
    'microscope',
    /there is no view "microscope": expected one of neuron, population/,
  ),
  broken(
    'no-image.md',
    LESSON.replace(`image: ${imageKey}`, 'image: 999999/1'),
    '999999',
    /there is no gallery image "999999\/1" on this site/,
  ),
  broken(
    'no-answer.md',
    LESSON.replace('    correct: true\n', ''),
    'choices:',
    /a question without an answer: expected exactly one choice with "correct: true"/,
  ),
  broken(
    'bad-front.md',
    LESSON.replace('minutes: 15', 'minutes: a quarter hour'),
    'minutes',
    /"minutes" must be a whole number/,
  ),
  broken('too-big.md', `${LESSON}\n${'x'.repeat(300 * 1024)}`, null, /at most 256 KB/),
  broken(
    'binary.md',
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0xfe, 0x00]),
    null,
    /not UTF-8 text, so it is not a lesson/,
  ),
  broken(
    'notes.md',
    '# My notes\n\nNothing here is a lesson.\n',
    'My notes',
    /this is not a lesson: expected a front matter/,
  ),
];

test('ten broken lesson files each say which line and what was expected; the page keeps working', async () => {
  const { page, context, errors } = await open({ width: 390, height: 844, mobile: true });
  await openPanel(page);
  for (const [name, text, expected] of BROKEN) {
    await dropFiles(page, '#lesson-drop', [{ name, bytes: text }]);
    await page.waitForFunction((n) => window.cortexLens.state.lessonError?.id === `file:${n}`, name);
    const message = await page.locator('#lesson-error').textContent();
    assert.match(message, expected, `${name}: ${message}`);
    await page.evaluate(() => window.cortexLens.store.set({ lessonError: null }));
  }
  await dropFiles(page, '#lesson-drop', [{ name: 'no-neuron.md', bytes: BROKEN[2][1] }]);
  await page.waitForSelector('#lesson-error:not([hidden])');
  await screenshot(page, 'lessons-broken-phone');
  if (!published) {
    // A lesson that needs the published models says so on its cover and does not start.
    await dropFiles(page, '#lesson-drop', [
      { name: 'needs.md', bytes: LESSON.replace('goals:', 'needs: [published]\ngoals:') },
    ]);
    await page.waitForSelector('#lesson-cannot-start');
    assert.ok(await page.locator('#lesson-next').isDisabled());
    await page.click('#lesson-to-menu');
  }
  // The sheet closes and the "Lessons" button opens it again, from the keyboard.
  await page.click('#lesson-close');
  assert.ok(await page.locator('#lesson-panel').isHidden());
  assert.equal(await page.evaluate(() => document.activeElement.id), 'lesson-launch');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#lesson-panel:not([hidden])');
  assert.equal(await page.getAttribute('#lesson-launch', 'aria-expanded'), 'true');
  // The page still works: another image gives a new prediction.
  const before = await page.evaluate(() => window.cortexLens.state.predictions);
  await page.evaluate(
    (k) => window.cortexLens.store.set({ image: { source: 'gallery', key: k }, crop: null }),
    otherImage,
  );
  await page.waitForFunction((n) => window.cortexLens.state.predictions > n, before);
  assert.equal(await page.evaluate(() => window.cortexLens.state.lesson), null);
  assert.deepEqual(errors, [], errors.join('\n'));
  await context.close();
});

// ---- every built-in lesson, first to last step ----
const lessonIndex = (() => {
  try {
    return JSON.parse(fs.readFileSync(path.join(siteDir, 'lessons/index.json'), 'utf8'));
  } catch {
    return [];
  }
})();
const published = manifest.models.some((m) => m.kind === 'neuron');

for (const width of [1280, 390]) {
  test(`every built-in lesson, first to last step, at ${width} px`, async (t) => {
    if (!lessonIndex.length) {
      t.skip('this build has no web/lessons/index.json');
      return;
    }
    const mobile = width < 600;
    const { page, context, errors } = await open({ width, height: mobile ? 844 : 900, mobile });
    for (const { id } of lessonIndex) await walkLesson(t, page, id, width);
    assert.deepEqual(errors, []);
    await context.close();
  });
}

async function walkLesson(t, page, id, width) {
  await openPanel(page);
  await page.waitForFunction(() => window.cortexLens.app.lessons);
  await page.evaluate((lessonId) => window.cortexLens.app.lessons.open(lessonId), id);
  await page.waitForFunction(
    (i) => window.cortexLens.state.lesson?.id === i || window.cortexLens.state.lessonError,
    id,
  );
  const error = await page.evaluate(() => window.cortexLens.state.lessonError);
  assert.equal(error, null, `${id}: ${error?.message}`);
  const lesson = await page.evaluate(() => window.cortexLens.state.lesson);
  if (lesson.needs.includes('published') && !published) {
    // The player says so on the cover and does not start.
    assert.match(await page.locator('#lesson-cannot-start').textContent(), /built without them/);
    assert.ok(await page.locator('#lesson-next').isDisabled());
    t.diagnostic(`${id}: skipped, it needs the published models and this site has none`);
    return;
  }
  await page.click('#lesson-clear'); // a fresh student: step 1, no answers
  for (let s = 1; s <= lesson.steps.length; ++s) {
    const step = lesson.steps[s - 1];
    await page.waitForFunction((n) => window.cortexLens.state.lessonStep === n, s);
    assert.equal(await stepTitle(page), step.title);
    for (const [key, value] of Object.entries(step.action?.patch || {})) {
      const now = await page.evaluate((k) => window.cortexLens.state[k], key);
      if (key === 'image') assert.equal(now?.key, value.key, `${id} step ${s}: image`);
      else assert.deepEqual(now, value, `${id} step ${s}: ${key}`);
    }
    if (step.question) await answerBoth(page, step.question, `${id} step ${s}`);
    // What the student sees (the viewport: on a phone the bottom sheet over the page).
    await page.screenshot({ path: path.join(screenshotDir, `lesson-${id}-${width}-step${s}.png`) });
    await page.click('#lesson-next');
  }
  await page.waitForFunction(() => document.getElementById('lesson-step-title').textContent === 'Lesson finished');
}

// Answers a question wrong (feedback shown) and right (accepted), from the question's own answer data.
async function answerBoth(page, q, where) {
  if (q.kind === 'choice') {
    const wrong = q.choices.find((c) => !c.correct);
    await choose(page, wrong.text);
    assert.ok((await feedback(page, 'wrong')).length > 0, where);
    await choose(page, q.choices.find((c) => c.correct).text);
    await feedback(page, 'right');
  } else if (q.kind === 'number') {
    const target = typeof q.answer === 'number' ? q.answer : await liveValue(page, q.answer);
    await page.fill(
      '#lesson-question input[type="number"]',
      String(target + q.tolerance + Math.max(1, Math.abs(target))),
    );
    await page.click('#lesson-check');
    await feedback(page, 'wrong');
    await page.fill('#lesson-question input[type="number"]', String(target));
    await page.click('#lesson-check');
    await feedback(page, 'right');
  } else if (q.kind === 'predict') {
    if (q.choices) await page.locator('#lesson-question input[type="radio"]').first().check();
    else await page.fill('#lesson-question input[type="number"]', '1');
    await page.click('#lesson-check');
    await feedback(page, 'kept');
    await page.waitForFunction(() => document.getElementById('lesson-reveal').dataset.value, null, { timeout: 60000 });
  } else {
    await page.fill('#lesson-question textarea', 'x'.repeat(Math.max(q.minLength, 12)));
    await page.click('#lesson-check');
    await feedback(page, 'kept');
  }
}

// Tab until `selector` has the focus (as a keyboard user moves through the page), then return.
async function tabTo(page, selector) {
  for (let i = 0; i < 60; ++i) {
    if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) return;
    await page.keyboard.press('Tab');
  }
  assert.fail(`${selector} is not reachable with the Tab key`);
}

test('keyboard only: a choice and a number question answered without a mouse; every control of the player named', async () => {
  const { page, context, errors } = await open({ hash: 'lesson=url:lessons-test/class-7b.md' });
  await page.waitForFunction(() => document.getElementById('lesson-step-title')?.textContent === 'Meet the neuron');
  await page.focus('#lesson-step-title'); // where the player puts the focus when a step opens
  await tabTo(page, '#lesson-q1-c0');
  await page.keyboard.press('Space');
  await tabTo(page, '#lesson-check');
  await page.keyboard.press('Enter');
  await feedback(page, 'right');
  await tabTo(page, '#lesson-next');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement?.id === 'lesson-step-title');
  const value = await liveValue(page, LIVE);
  await tabTo(page, '#lesson-q2-n');
  await page.keyboard.type(written(value));
  await page.keyboard.press('Enter'); // submits the question's form
  await feedback(page, 'right');
  // Every control of the player has a name a screen reader reads out.
  const unnamed = await page.$$eval('#lesson-panel button, #lesson-panel input, #lesson-panel textarea', (els) =>
    els
      .filter((e) => e.getClientRects().length)
      .filter((e) => !(e.labels?.length || e.getAttribute('aria-label') || e.textContent.trim()))
      .map((e) => e.id || e.outerHTML.slice(0, 60)),
  );
  assert.deepEqual(unnamed, []);
  assert.deepEqual(errors, []);
  await context.close();
});

test('live values r, r2 and populationAbove90 are the numbers the Evidence and All neurons views show', async (t) => {
  if (!published) {
    t.skip('this site has no recorded neurons (built without the published data)');
    return;
  }
  const { page, context, errors } = await open({ hash: `neuron=${neuron.id}&view=evidence` });
  await openPanel(page);
  await page.waitForFunction(() => window.cortexLens.app.lessons);
  // The player computes r itself when the Evidence tab has not; the tab then shows the same comparison.
  const r = await liveValue(page, 'r');
  await page.waitForFunction(() => document.getElementById('evidence-r')?.dataset.r);
  assert.equal(Number(await page.getAttribute('#evidence-r', 'data-r')), r);
  assert.equal(await liveValue(page, 'r2'), r * r);
  // populationAbove90 waits for the All neurons run on this image, then counts its neurons at >= 90th percentile.
  // Until then the player says so and names the view that computes it.
  assert.equal((await live(page, 'populationAbove90')).openView, 'population');
  await page.evaluate(() => window.cortexLens.store.set({ view: 'population' }));
  const above = await liveValue(page, 'populationAbove90');
  const counted = await page.evaluate(
    () => [...window.cortexLens.state.population.values()].filter((p) => p.exact && p.percentile >= 90).length,
  );
  assert.equal(above, counted);
  assert.deepEqual(errors, []);
  await context.close();
});
