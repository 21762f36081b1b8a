// Properties of the lesson-file parser (web/src/lessons/parse.js): for every file it either returns a lesson with
// 1..60 steps, each with a title and its HTML, or throws a LessonError (a line within the file, or none) with a
// message: never another exception, a non-Error value, or a hang (harness.mjs watches for that).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { LessonError, lessonText, parseLesson } from '../../../web/src/lessons/parse.js';
import { schema } from '../../../web/src/state.js';
import { mutatedText } from './mutate.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const lessonsDir = path.join(root, 'web/lessons');
const seeds = fs
  .readdirSync(lessonsDir)
  .filter((f) => f.endsWith('.md') && f !== 'FORMAT.md')
  .map((f) => fs.readFileSync(path.join(lessonsDir, f), 'utf8'));

const context = {
  name: 'fuzzed.md',
  schema,
  viewIds: new Set(['neuron', 'population', 'card', 'evidence', 'inside', 'tuning', 'path', 'perturb']),
  hasNeuron: (id) => ['190923_n0', 'demo'].includes(id),
  hasImage: (key) => ['190923/601', 'own/dot-centre'].includes(key),
  published: true,
};

// Lines a lesson is made of, for the mutator to insert: fences, headings, front matter, action and question keys
// with valid and invalid values.
const LINES = [
  '---',
  '```action',
  '```question',
  '```',
  '## A step',
  '## ',
  '# Title',
  'title: T',
  'level: any',
  'minutes: 5',
  'goals:',
  '  - a goal',
  'needs: [published]',
  'id: x',
  'view: neuron',
  'view: nowhere',
  'neuron: 190923_n0',
  'neuron: 999999_n9',
  'image: 190923/601',
  'crop: 10,20,100',
  'crop: -1,0,0',
  'seed: 7',
  'ablate: 2:5:0',
  'kind: choice',
  'kind: number',
  'kind: predict',
  'kind: text',
  'choices:',
  '  - yes',
  'answer: r',
  'answer: 3',
  'tolerance: 0.01',
  'reveal: populationAbove90',
  'prompt: Why?',
  'minLength: 10',
  'a: &x [*x]',
  '? [a, b]',
  '  : c',
  'key: !!binary aGVsbG8=',
  '<script>alert(1)</script>',
  '[link](javascript:alert(1))',
];

function checkLesson(lesson) {
  if (!lesson || typeof lesson.title !== 'string') throw new Error('a lesson without a title');
  if (!Array.isArray(lesson.steps) || lesson.steps.length < 1 || lesson.steps.length > 60)
    throw new Error(`a lesson with ${lesson.steps?.length} steps`);
  for (const step of lesson.steps) {
    if (typeof step.title !== 'string' || typeof step.html !== 'string') throw new Error('a step without title/html');
    if (step.action !== null && typeof step.action !== 'object') throw new Error('a bad action');
    if (step.question !== null && typeof step.question !== 'object') throw new Error('a bad question');
  }
}

function parse(text) {
  const lineCount = text.split(/\r\n?|\n/).length;
  let lesson;
  try {
    lesson = parseLesson(text, context);
  } catch (error) {
    if (!(error instanceof LessonError) || !error.message)
      throw new Error(`not a LessonError: ${error?.constructor?.name}: ${error?.message ?? String(error)}`, {
        cause: error,
      });
    if (error.line !== null && !(Number.isInteger(error.line) && error.line >= 1 && error.line <= lineCount + 1))
      throw new Error(`a LessonError on line ${error.line} of a ${lineCount}-line file: ${error.message}`);
    return;
  }
  checkLesson(lesson);
}

const text = (input) => (typeof input === 'string' ? input : input);
export const properties = {
  'lesson random text': {
    arbitrary: fc.oneof(fc.string({ maxLength: 2000 }), fc.string({ unit: 'binary', maxLength: 2000 })),
    bytes: text,
    check: parse,
  },
  'lesson mutated files': { arbitrary: mutatedText(seeds, LINES), bytes: text, check: parse },
  'lesson random bytes': {
    arbitrary: fc.uint8Array({ maxLength: 4096 }),
    bytes: text,
    check: (bytes) => {
      let decoded;
      try {
        decoded = lessonText(bytes);
      } catch (error) {
        if (!(error instanceof LessonError)) throw new Error(`lessonText threw ${error?.constructor?.name}`);
        return;
      }
      parse(decoded);
    },
  },
};
