// The lesson parser (web/src/lessons/parse.js) under node: what a lesson becomes, and the line and expectation each
// kind of broken file is told about. The browser test (tests/browser/lessons.test.mjs) shows the same messages in
// the page; these run in milliseconds and need no build.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseLesson, LIVE_VALUES } from '../../web/src/lessons/parse.js';
import { schema } from '../../web/src/state.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const context = {
  name: 'week-3.md',
  schema,
  viewIds: new Set(['neuron', 'population', 'card', 'evidence', 'inside']),
  hasNeuron: (id) => ['190923_n0', 'demo'].includes(id),
  hasImage: (key) => ['190923/601', 'own/dot-centre', 'own/grating-vertical'].includes(key),
  published: true,
};

const LESSON = `---
title: Week 3
level: first-year university
minutes: 20
goals:
  - one
---
Intro.

## One
\`\`\`action
view: evidence
neuron: 190923_n0
image: 190923/601
crop: 10,20,100
seed: 007
grey: 1
open: synthesis.blocks
ablate: 2:5:0
\`\`\`

\`\`\`question
kind: number
prompt: r?
answer: r
tolerance: 0.01
\`\`\`

## Two: *what* is \`r\`?
Text *two*.

\`\`\`question
kind: predict
prompt: Guess
guess: number
reveal: populationAbove90
\`\`\`
`;

test('a lesson: front matter, steps, actions decoded by the link codecs, questions', () => {
  const lesson = parseLesson(LESSON, context);
  assert.equal(lesson.id, 'week-3');
  assert.deepEqual(lesson.goals, ['one']);
  assert.equal(lesson.steps.length, 2);
  assert.deepEqual(lesson.steps[0].action.patch, {
    view: 'evidence',
    neuronId: '190923_n0',
    image: { source: 'gallery', key: '190923/601' },
    crop: { x: 10, y: 20, side: 100 },
    synthSeed: 7,
    synthGrey: true,
    insideOpen: ['synthesis', 'blocks'],
    ablations: [{ layer: 2, channel: 5, scale: 0 }],
  });
  assert.equal(lesson.steps[0].action.line, 11);
  assert.deepEqual(lesson.steps[0].question, { line: 22, kind: 'number', prompt: 'r?', answer: 'r', tolerance: 0.01 });
  assert.equal(lesson.steps[1].title, 'Two: what is r?');
  assert.equal(lesson.steps[1].html, '<p>Text <em>two</em>.</p>\n');
  assert.equal(lesson.steps[1].question.reveal, 'populationAbove90');
  assert.ok(Object.hasOwn(LIVE_VALUES, 'r2'));
  // The same text is the same lesson version; any edit is another.
  assert.equal(parseLesson(LESSON, context).hash, lesson.hash);
  assert.notEqual(parseLesson(LESSON.replace('Intro.', 'Intro!'), context).hash, lesson.hash);
});

test('raw HTML in a lesson stays text (markdown-it, html: false)', () => {
  const lesson = parseLesson(
    LESSON.replace('Text *two*.', '<script>alert(1)</script><img src=x onerror=alert(1)>'),
    context,
  );
  assert.ok(!lesson.steps[1].html.includes('<script'));
  assert.ok(!lesson.steps[1].html.includes('<img'));
});

test('a lesson that needs the published models is not checked against a site without them', () => {
  const needs = LESSON.replace('goals:', 'needs: [published]\ngoals:');
  const lesson = parseLesson(needs, { ...context, hasNeuron: () => false, hasImage: () => false, published: false });
  assert.equal(lesson.runnable, false);
  assert.throws(
    () => parseLesson(LESSON, { ...context, hasNeuron: () => false, published: false }),
    /Line 13: there is no neuron/,
  );
});

const cases = [
  ['unknown action key', LESSON.replace('seed: 007', 'sead: 7'), /^Line 16: unknown action key "sead"/],
  [
    'a value the codec rejects',
    LESSON.replace('crop: 10,20,100', 'crop: 10,20'),
    /^Line 15: "crop: 10,20" is not a value/,
  ],
  ['int range', LESSON.replace('seed: 007', 'seed: -1'), /^Line 16: .*expected an integer from 0 to 2147483647/],
  ['flag', LESSON.replace('grey: 1', 'grey: yes'), /^Line 17: .*expected 1 \(on\) or 0 \(off\)/],
  [
    'a neuron not in the manifest',
    LESSON.replace('neuron: 190923_n0', 'neuron: 190923_n7'),
    /^Line 13: there is no neuron/,
  ],
  ['a view that does not exist', LESSON.replace('view: evidence', 'view: evidenc'), /^Line 12: there is no view/],
  [
    'a gallery image that does not exist',
    LESSON.replace('image: 190923/601', 'image: 190923/1601'),
    /^Line 14: there is no gallery image/,
  ],
  [
    'a local image',
    LESSON.replace('image: 190923/601', 'image: local:me.jpg'),
    /^Line 14: .*expected an image of the page's gallery/,
  ],
  ['a lesson key in an action', LESSON.replace('seed: 007', 'lesson: other'), /^Line 16: unknown action key "lesson"/],
  ['a list value', LESSON.replace('seed: 007', 'seed: [1, 2]'), /^Line 16: "seed" needs one value/],
  [
    'two actions in a step',
    LESSON.replace('## Two', '```action\nview: neuron\n```\n## Two'),
    /^Line 29: a second action block/,
  ],
  ['a number without tolerance', LESSON.replace('tolerance: 0.01\n', ''), /^Line 25: a question without an answer/],
  [
    'a number answer that is no live value',
    LESSON.replace('answer: r\n', 'answer: rr\n'),
    /^Line 25: expected "answer:" to name a live value/,
  ],
  [
    'a predict without reveal',
    LESSON.replace('reveal: populationAbove90\n', ''),
    /^Line 32: a question without an answer: a predict/,
  ],
  [
    'a predict whose choices are graded',
    LESSON.replace('guess: number', 'choices:\n  - text: a\n    correct: true\n  - text: b'),
    /expected no "correct:"/,
  ],
  [
    'an unknown question key',
    LESSON.replace('prompt: r?', 'prompt: r?\nanswr: 3'),
    /^Line 25: "answr" is not a key of a number question/,
  ],
  [
    'an unknown kind',
    LESSON.replace('kind: number', 'kind: essay'),
    /^Line 23: expected "kind:" to be one of choice, number, predict, text/,
  ],
  ['no steps', LESSON.slice(0, LESSON.indexOf('## One')), /^Line 8: expected at least one step/],
  [
    'an action before the first step',
    LESSON.replace('Intro.', '```action\nview: neuron\n```'),
    /^Line 8: this action block comes before the first step/,
  ],
  ['unclosed front matter', LESSON.replace('---\nIntro', 'Intro'), /^Line 1: the front matter is not closed/],
  [
    'front matter YAML error',
    LESSON.replace('minutes: 20', 'minutes: [20'),
    /^Line \d+: the front matter is not valid YAML/,
  ],
  [
    'unknown front matter key',
    LESSON.replace('minutes: 20', 'minutes: 20\ngrade: 9'),
    /^Line 5: unknown front matter key "grade"/,
  ],
  ['empty goals', LESSON.replace('goals:\n  - one', 'goals: []'), /^Line 5: "goals" must be a list/],
  ['bad id', LESSON.replace('minutes: 20', 'minutes: 20\nid: Week 3'), /^Line 5: "id" must be/],
];
for (const [what, text, message] of cases)
  test(`broken: ${what}`, () => assert.throws(() => parseLesson(text, context), { message }));

test('every built-in lesson of web/lessons/index.json parses (against a site that has what it names)', () => {
  const dir = path.join(root, 'web/lessons');
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  for (const { id, file } of index) {
    const lesson = parseLesson(fs.readFileSync(path.join(dir, file)), {
      ...context,
      name: file,
      viewIds: new Set(['image-input', 'neuron', 'population', 'card', 'evidence', 'inside', 'own']),
      hasNeuron: () => true,
      hasImage: () => true,
    });
    assert.equal(lesson.id, id);
  }
});
