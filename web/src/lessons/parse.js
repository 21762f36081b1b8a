// A lesson file (web/lessons/FORMAT.md) -> a checked lesson, or a LessonError naming the line and what was expected.
// Markdown is markdown-it's (html: false; the player sanitizes what it renders with DOMPurify), YAML is the `yaml`
// package's; an action's values are decoded by the link codecs of web/src/state.js, so a lesson holds exactly what a
// link can hold and nothing else.
import MarkdownIt from 'markdown-it';
import { LineCounter, parseDocument, isMap, isScalar } from 'yaml';

export const MAX_LESSON_BYTES = 256 * 1024;

// The live values a question may name: computed by the player (web/src/lessons/live.js) from what the page shows.
export const LIVE_VALUES = {
  percentile: 'the current neuron’s response to the current image as a percentile among its natural reference images',
  response: 'the current neuron’s raw model output on the current image',
  r: 'Pearson r of the current neuron’s model against its recordings on images 601–1200',
  r2: 'r² of the current neuron’s model against its recordings on images 601–1200',
  params: 'the current neuron model’s parameter count',
  populationAbove90: 'how many of the 219 neurons reach at least their 90th percentile on the current image',
};

const FRONT_KEYS = ['title', 'level', 'minutes', 'goals', 'id', 'needs', 'author'];
const NEEDS = ['published'];
const QUESTION_KEYS = {
  common: ['kind', 'prompt', 'hint', 'feedback', 'explain'],
  choice: ['choices'],
  number: ['answer', 'tolerance', 'unit'],
  predict: ['choices', 'guess', 'reveal', 'unit'],
  text: ['minLength'],
};

export class LessonError extends Error {
  // line: 1-based line of the file, or null when the problem is the file as a whole.
  constructor(line, message) {
    super(line ? `Line ${line}: ${message}` : message);
    this.name = 'LessonError';
    this.line = line;
  }
}

export const markdown = new MarkdownIt({ html: false, linkify: false, typographer: true });

// FNV-1a over the text: names one version of a lesson file (progress kept for another version is not resumed).
export function lessonHash(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; ++i) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, '0');
}

// bytes (ArrayBuffer | Uint8Array) or an already-decoded string -> the lesson text; a file that is too big or is not
// UTF-8 text is refused before anything reads it.
export function lessonText(bytes) {
  if (typeof bytes === 'string') {
    if (new TextEncoder().encode(bytes).length > MAX_LESSON_BYTES) throw tooBig(new TextEncoder().encode(bytes).length);
    return bytes;
  }
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (view.length > MAX_LESSON_BYTES) throw tooBig(view.length);
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(view);
  } catch {
    throw new LessonError(null, 'This file is not UTF-8 text, so it is not a lesson: expected a Markdown (.md) file.');
  }
  if (text.includes('\u0000'))
    throw new LessonError(null, 'This file holds binary data, so it is not a lesson: expected a Markdown (.md) file.');
  return text;
}
const tooBig = (n) =>
  new LessonError(
    null,
    `This file is ${(n / 1024).toFixed(0)} KB: a lesson is at most ${MAX_LESSON_BYTES / 1024} KB of text (figures come from the page, not the file).`,
  );

// context: {
//   name: the file's name (the lesson's id defaults to it, without .md),
//   schema: web/src/state.js's schema (the link codecs),
//   viewIds: Set of the page's view ids,
//   hasNeuron(id) -> bool: the id is a model of this site's manifest,
//   hasImage(key) -> bool: the gallery key is an image of this site,
//   published: bool, whether this site has the published models (a lesson that needs them is not checked against
//     a site without them: the player says it cannot start instead) }
export function parseLesson(source, context) {
  const text = lessonText(source).replace(/\r\n?/g, '\n');
  const lines = text.split('\n');
  const { front, bodyStart } = readFrontMatter(lines);
  const meta = checkFrontMatter(front, context);
  const runnable = !meta.needs.includes('published') || context.published;
  const body = lines.slice(bodyStart).join('\n');
  const fileLine = (bodyLine) => bodyStart + bodyLine + 1; // markdown-it's 0-based body lines -> the file's 1-based

  const tokens = markdown.parse(body, {});
  const starts = []; // level-2 headings: {line (0-based in body), end, title}
  const blocks = []; // the action and question fences: {kind, line, end, content}
  for (let i = 0; i < tokens.length; ++i) {
    const t = tokens[i];
    if (t.type === 'heading_open' && t.tag === 'h2' && t.level === 0)
      starts.push({ line: t.map[0], end: t.map[1], title: plainText(tokens[i + 1]) });
    if (t.type === 'fence' && ['action', 'question'].includes(t.info.trim()))
      blocks.push({ kind: t.info.trim(), line: t.map[0], end: t.map[1], content: t.content });
  }
  if (!starts.length)
    throw new LessonError(
      fileLine(0),
      'expected at least one step: a line starting with "## " (a level-2 heading) begins each step.',
    );
  const firstBlock = blocks.find((b) => b.line < starts[0].line);
  if (firstBlock)
    throw new LessonError(
      fileLine(firstBlock.line),
      `this ${firstBlock.kind} block comes before the first step: expected it after a "## " heading.`,
    );

  const bodyLines = body.split('\n');
  const textOf = (from, to, skip) => {
    const kept = bodyLines
      .slice(from, to)
      .map((l, i) => (skip.some((b) => from + i >= b.line && from + i < b.end) ? '' : l));
    return markdown.render(kept.join('\n'));
  };
  const steps = starts.map((s, k) => {
    const to = k + 1 < starts.length ? starts[k + 1].line : bodyLines.length;
    const mine = blocks.filter((b) => b.line >= s.line && b.line < to);
    const step = { title: s.title || `Step ${k + 1}`, html: textOf(s.end, to, mine), action: null, question: null };
    for (const b of mine) {
      if (step[b.kind])
        throw new LessonError(
          fileLine(b.line),
          `a second ${b.kind} block in step "${step.title}": expected at most one.`,
        );
      const doc = yamlOf(b.content, fileLine(b.line) + 1, `${b.kind} block`);
      step[b.kind] =
        b.kind === 'action'
          ? checkAction(doc, fileLine(b.line), context, runnable)
          : checkQuestion(doc, fileLine(b.line));
    }
    return step;
  });
  if (steps.length > 60) throw new LessonError(fileLine(starts[60].line), 'a lesson has at most 60 steps.');

  return {
    ...meta,
    id: meta.id || idFromName(context.name),
    introHtml: markdown.render(bodyLines.slice(0, starts[0].line).join('\n')),
    steps,
    runnable,
    hash: lessonHash(text),
    titleHtml: markdown.renderInline(meta.title),
  };
}

// A heading's text without its Markdown (`## What *is* r?` -> "What is r?"): titles are shown as plain text.
function plainText(inline) {
  const kept = ['text', 'code_inline', 'softbreak'];
  return (inline.children || [])
    .filter((c) => kept.includes(c.type))
    .map((c) => (c.type === 'softbreak' ? ' ' : c.content))
    .join('')
    .trim();
}

function idFromName(name) {
  const base = String(name || 'lesson')
    .replace(/^.*[\\/]/, '')
    .replace(/\.md$/i, '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  return base || 'lesson';
}

function readFrontMatter(lines) {
  if (lines[0]?.trim() !== '---')
    throw new LessonError(
      1,
      'this is not a lesson: expected a front matter first, a line "---", then title, level, minutes and goals, then "---".',
    );
  const end = lines.findIndex((l, i) => i > 0 && l.trim() === '---');
  if (end < 0) throw new LessonError(1, 'the front matter is not closed: expected a second line "---" after it.');
  const doc = yamlOf(lines.slice(1, end).join('\n'), 2, 'front matter');
  return { front: doc, bodyStart: end + 1 };
}

// YAML text -> {map, line(node) -> file line}; firstLine is the file line of the text's first line.
function yamlOf(text, firstLine, what) {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  const lineOf = (offset) => firstLine + counter.linePos(offset).line - 1;
  if (doc.errors.length) {
    const e = doc.errors[0];
    throw new LessonError(lineOf(e.pos[0]), `the ${what} is not valid YAML (${e.message.split('\n')[0]}).`);
  }
  if (!isMap(doc.contents))
    throw new LessonError(
      firstLine - (what === 'front matter' ? 1 : 1),
      `expected the ${what} to be a YAML mapping of "key: value" lines.`,
    );
  return { map: doc.contents, line: (node) => lineOf(node?.range?.[0] ?? 0), firstLine };
}

function pairs(doc) {
  return doc.map.items.map((p) => ({ key: String(p.key?.value ?? p.key), node: p.value, line: doc.line(p.key) }));
}

function checkFrontMatter(doc, context) {
  const meta = { needs: [] };
  const seen = new Map();
  for (const { key, node, line } of pairs(doc)) {
    seen.set(key, line);
    if (!FRONT_KEYS.includes(key))
      throw new LessonError(line, `unknown front matter key "${key}": expected one of ${FRONT_KEYS.join(', ')}.`);
    const value = node?.toJSON ? node.toJSON() : node;
    if (['title', 'level', 'author'].includes(key)) {
      if (typeof value !== 'string' || !value.trim()) throw new LessonError(line, `"${key}" must be a line of text.`);
      meta[key] = value.trim();
    } else if (key === 'minutes') {
      if (!Number.isInteger(value) || value < 1 || value > 600)
        throw new LessonError(line, '"minutes" must be a whole number of minutes (1-600).');
      meta.minutes = value;
    } else if (key === 'goals') {
      if (!Array.isArray(value) || !value.length || !value.every((g) => typeof g === 'string' && g.trim()))
        throw new LessonError(line, '"goals" must be a list of at least one learning goal ("- ..." lines).');
      meta.goals = value.map((g) => g.trim());
    } else if (key === 'id') {
      if (typeof value !== 'string' || !/^[a-z0-9-]{1,60}$/.test(value))
        throw new LessonError(line, '"id" must be 1-60 characters of a-z, 0-9 and "-".');
      meta.id = value;
    } else if (key === 'needs') {
      if (!Array.isArray(value) || !value.every((n) => NEEDS.includes(n)))
        throw new LessonError(line, `"needs" must be a list of: ${NEEDS.join(', ')}.`);
      meta.needs = value;
    }
  }
  for (const key of ['title', 'level', 'minutes', 'goals'])
    if (!seen.has(key))
      throw new LessonError(
        doc.firstLine - 1,
        `the front matter has no "${key}": expected title, level, minutes and goals.`,
      );
  if (context && !seen.has('id')) meta.id = null;
  return meta;
}

// An action block -> {line, params: {param: text}, patch: {stateKey: value}}.
function checkAction(doc, fenceLine, context, runnable) {
  const byParam = new Map(
    Object.entries(context.schema)
      .filter(([, s]) => s.link && s.link.param !== 'lesson')
      .map(([key, s]) => [s.link.param, key]),
  );
  const params = {};
  const patch = {};
  for (const { key, node, line } of pairs(doc)) {
    const stateKey = byParam.get(key);
    if (!stateKey)
      throw new LessonError(
        line,
        `unknown action key "${key}": expected a link parameter (${[...byParam.keys()].join(', ')}).`,
      );
    if (!isScalar(node) || node.value == null)
      throw new LessonError(line, `"${key}" needs one value, written as in a link (e.g. ${key}: ...).`);
    const text = String(node.source ?? node.value);
    const decode = context.schema[stateKey].link.decode;
    const value = decode(text);
    if (value === undefined)
      throw new LessonError(
        line,
        `"${key}: ${text}" is not a value a link can hold: expected ${decode.expected || `a ${key} as a link writes it`}.`,
      );
    if (key === 'view' && !context.viewIds.has(value))
      throw new LessonError(line, `there is no view "${text}": expected one of ${[...context.viewIds].join(', ')}.`);
    if (key === 'image' && value.source !== 'gallery')
      throw new LessonError(
        line,
        `"image: ${text}": expected an image of the page's gallery (SESSION/NUMBER or a pattern id).`,
      );
    if (runnable && key === 'neuron' && !context.hasNeuron(value))
      throw new LessonError(
        line,
        `there is no neuron "${text}" in this site's models: expected a model id of its manifest, such as 190923_n0 or demo.`,
      );
    if (runnable && key === 'image' && !context.hasImage(value.key))
      throw new LessonError(
        line,
        `there is no gallery image "${text}" on this site: expected SESSION/NUMBER of a recorded session or a pattern id of gallery/index.json.`,
      );
    params[key] = text;
    patch[stateKey] = value;
  }
  return { line: fenceLine, params, patch };
}

// A question block -> {line, kind, prompt, hint?, feedback?, explain?, unit?, and per kind: choices | answer,
// tolerance | reveal, choices or guess | minLength}.
function checkQuestion(doc, fenceLine) {
  const lines = {};
  const raw = {};
  for (const { key, node, line } of pairs(doc)) {
    lines[key] = line;
    raw[key] = node?.toJSON ? node.toJSON() : node;
  }
  const at = { raw, lines, fenceLine };
  const kinds = ['choice', 'number', 'predict', 'text'];
  if (!kinds.includes(raw.kind))
    throw new LessonError(lines.kind ?? fenceLine, `expected "kind:" to be one of ${kinds.join(', ')}.`);
  const q = { line: fenceLine, kind: raw.kind };
  const allowed = [...QUESTION_KEYS.common, ...QUESTION_KEYS[q.kind]];
  for (const key of Object.keys(raw))
    if (!allowed.includes(key))
      throw new LessonError(
        lines[key],
        `"${key}" is not a key of a ${q.kind} question: expected ${allowed.join(', ')}.`,
      );
  if (raw.prompt == null) throw new LessonError(fenceLine, 'the question has no "prompt:": expected the text of it.');
  for (const key of ['prompt', 'hint', 'feedback', 'explain', 'unit'])
    if (raw[key] != null) {
      if (typeof raw[key] !== 'string' || !raw[key].trim())
        throw new LessonError(lines[key], `"${key}" must be a line of text.`);
      q[key] = raw[key].trim();
    }
  return { ...q, ...ANSWERS[q.kind](at) };
}

// What each kind of question is graded or revealed with; a question without it is refused.
const ANSWERS = {
  choice(at) {
    const choices = checkChoices(at, true);
    const right = choices.filter((c) => c.correct).length;
    if (right !== 1)
      throw new LessonError(
        at.lines.choices,
        `a question without an answer: expected exactly one choice with "correct: true" (found ${right}).`,
      );
    return { choices };
  },
  number({ raw, lines, fenceLine }) {
    if (raw.answer == null || raw.tolerance == null)
      throw new LessonError(
        lines.answer ?? lines.tolerance ?? fenceLine,
        'a question without an answer: a number question needs "answer:" (a number or a live value) and "tolerance:".',
      );
    if (typeof raw.tolerance !== 'number' || !(raw.tolerance >= 0))
      throw new LessonError(lines.tolerance, '"tolerance:" must be a number >= 0 (the largest accepted difference).');
    const fixed = typeof raw.answer === 'number' && Number.isFinite(raw.answer);
    return { answer: fixed ? raw.answer : liveValue({ raw, lines, fenceLine }, 'answer'), tolerance: raw.tolerance };
  },
  predict(at) {
    const { raw, lines, fenceLine } = at;
    if (raw.reveal == null)
      throw new LessonError(
        fenceLine,
        'a question without an answer: a predict question needs "reveal:" (a live value).',
      );
    const reveal = liveValue(at, 'reveal');
    if (raw.choices != null) return { reveal, choices: checkChoices(at, false) };
    if (raw.guess === 'number') return { reveal, guess: 'number' };
    throw new LessonError(lines.guess ?? fenceLine, 'a predict question needs "choices:" or "guess: number".');
  },
  text({ raw, lines }) {
    if (raw.minLength != null && !(Number.isInteger(raw.minLength) && raw.minLength >= 0 && raw.minLength <= 5000))
      throw new LessonError(lines.minLength, '"minLength:" must be a whole number of characters (0-5000).');
    return { minLength: raw.minLength ?? 0 };
  },
};

function liveValue({ raw, lines, fenceLine }, key) {
  if (!Object.hasOwn(LIVE_VALUES, raw[key]))
    throw new LessonError(
      lines[key] ?? fenceLine,
      `expected "${key}:" to name a live value: ${Object.keys(LIVE_VALUES).join(', ')}.`,
    );
  return raw[key];
}

// withCorrect: a choice question (one choice is right) or a predict question (no choice is graded).
function checkChoices({ raw, lines, fenceLine }, withCorrect) {
  const list = raw.choices;
  const line = lines.choices ?? fenceLine;
  if (!Array.isArray(list) || list.length < 2 || list.length > 8)
    throw new LessonError(line, 'expected "choices:" to be a list of 2 to 8 choices ("- text: ...").');
  return list.map((c, i) => {
    if (!c || typeof c !== 'object' || typeof c.text !== 'string' || !c.text.trim())
      throw new LessonError(line, `choice ${i + 1} has no "text:".`);
    const extra = Object.keys(c).filter((k) => !['text', 'correct', 'feedback'].includes(k));
    if (extra.length)
      throw new LessonError(
        line,
        `choice ${i + 1}: "${extra[0]}" is not a key of a choice: expected text, correct, feedback.`,
      );
    if (!withCorrect && 'correct' in c)
      throw new LessonError(
        line,
        'a predict question keeps its answer for the reveal: expected no "correct:" in its choices.',
      );
    if ('correct' in c && typeof c.correct !== 'boolean')
      throw new LessonError(line, `choice ${i + 1}: "correct:" must be true or false.`);
    const feedback = typeof c.feedback === 'string' ? c.feedback.trim() : undefined;
    return { text: c.text.trim(), correct: c.correct === true, feedback };
  });
}
