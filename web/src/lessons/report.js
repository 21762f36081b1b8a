// The hand-in: a student's lesson as a report (JSON for the teacher, a printable page for the student), and the
// class summary that merges several reports into one table (student x question). Everything here is built from the
// student's own browser storage and the page; nothing is sent anywhere: the student hands the file in.
import { h, scrollRegion } from '../dom.js';
import { formatLive } from './live.js';

export const REPORT_FORMAT = 'cortexlens-lesson-report';
export const REPORT_VERSION = 1;
export const CITATION =
  'Cowley, B.R., Stan, P.L., Pillow, J.W. & Smith, M.A. Compact deep neural network models of the visual cortex. Nature (2026). doi:10.1038/s41586-026-10150-1';
const MAX_REPORT_BYTES = 20 * 1024 * 1024;

const RESULT_TEXT = { true: 'right', false: 'wrong', null: 'not graded' };

// lesson: parsed (web/src/lessons/parse.js); progress: {answers, figures, student}; build: {version}; models: [{id,
// kind, params, precision}] -> the report (JSON-serializable).
export function buildReport({ lessonId, lesson, progress, build, models, date = new Date() }) {
  const questions = [];
  lesson.steps.forEach((step, i) => {
    if (!step.question) return;
    const q = step.question;
    const a = progress.answers?.[i + 1] || null;
    questions.push({
      step: i + 1,
      stepTitle: step.title,
      kind: q.kind,
      prompt: q.prompt,
      answer: a ? a.given : null,
      correct: a ? a.correct : null,
      answered: Boolean(a),
      tries: a?.tries ?? 0,
      // What the answer was graded against or what the reveal showed (a live value at that moment), for the teacher.
      expected: a?.expected ?? null,
      liveValue: q.answer && typeof q.answer === 'string' ? q.answer : q.reveal || null,
      unit: q.unit || null,
      neuronId: a?.neuronId ?? null,
      image: a?.image ?? null,
      answeredAt: a?.at ?? null,
    });
  });
  const figures = [];
  for (const [step, list] of Object.entries(progress.figures || {}))
    for (const f of list)
      figures.push({ step: Number(step), stepTitle: lesson.steps[step - 1]?.title, name: f.name, png: f.png });
  figures.sort((a, b) => a.step - b.step);
  return {
    format: REPORT_FORMAT,
    version: REPORT_VERSION,
    lesson: { id: lesson.id, link: lessonId, title: lesson.title, hash: lesson.hash, steps: lesson.steps.length },
    student: progress.student || '',
    date: date.toISOString(),
    build: { version: build?.version || 'unknown' },
    models,
    questions,
    figures,
    figuresDropped: Boolean(progress.figuresDropped),
    citation: CITATION,
  };
}

const answerText = (q) =>
  q.answer == null || q.answer === '' ? '(no answer)' : `${q.answer}${q.unit && q.kind !== 'text' ? ` ${q.unit}` : ''}`;

// The printable page of a report (the print stylesheet shows it alone).
export function renderReport(report) {
  const when = new Date(report.date);
  const rows = report.questions.map((q) =>
    h(
      'tr',
      {},
      h('td', {}, String(q.step)),
      h('td', {}, h('strong', {}, q.stepTitle), h('br'), q.prompt),
      h('td', { class: 'lesson-report-answer' }, answerText(q), q.tries > 1 ? ` (${q.tries} tries)` : ''),
      h(
        'td',
        { class: `lesson-result-${RESULT_TEXT[String(q.correct)].replace(' ', '-')}` },
        q.answered ? RESULT_TEXT[String(q.correct)] : 'not answered',
        q.expected != null && q.liveValue ? h('br') : null,
        q.expected != null && q.liveValue
          ? h('span', { class: 'fineprint' }, `${q.liveValue} = ${formatLive(q.liveValue, q.expected)}`)
          : null,
      ),
    ),
  );
  return h(
    'article',
    { class: 'lesson-report-page', id: 'lesson-report-page' },
    h('h1', {}, `Lesson report: ${report.lesson.title}`),
    h(
      'dl',
      { class: 'lesson-report-meta' },
      h('dt', {}, 'Student'),
      h('dd', { id: 'lesson-report-student' }, report.student || '(no name given)'),
      h('dt', {}, 'Date'),
      h('dd', {}, `${when.toLocaleString('en-GB')} (${report.date})`),
      h('dt', {}, 'Lesson'),
      h('dd', {}, `${report.lesson.id} (${report.lesson.link}), version ${report.lesson.hash}`),
      h('dt', {}, 'Build'),
      h('dd', { id: 'lesson-report-build' }, `Cortex Lens build ${report.build.version}`),
      h('dt', {}, 'Models'),
      h(
        'dd',
        { id: 'lesson-report-models' },
        report.models.length
          ? report.models.map((m) => `${m.id} (${m.precision}${m.params ? `, ${m.params} parameters` : ''})`).join('; ')
          : '(none)',
      ),
    ),
    h(
      'table',
      { class: 'lesson-report-table' },
      h('caption', {}, 'Questions and answers'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Step'),
          h('th', { scope: 'col' }, 'Question'),
          h('th', { scope: 'col' }, 'Answer'),
          h('th', { scope: 'col' }, 'Result'),
        ),
      ),
      h('tbody', {}, rows),
    ),
    h('h2', {}, 'Figures'),
    report.figures.length
      ? h(
          'div',
          { class: 'lesson-report-figures' },
          report.figures.map((f) =>
            h(
              'figure',
              { class: 'lesson-report-figure' },
              h('img', { src: f.png, alt: `Step ${f.step}: ${f.name}` }),
              h('figcaption', {}, `Step ${f.step} (${f.stepTitle}): ${f.name}`),
            ),
          ),
        )
      : h('p', {}, 'No figures were captured.'),
    report.figuresDropped
      ? h('p', { class: 'fineprint' }, 'Some figures were left out: the browser’s storage was full.')
      : null,
    h('p', { class: 'lesson-report-citation' }, 'Models: ', h('cite', {}, CITATION)),
  );
}

// A dropped file -> a report, or an Error saying what was wrong with it.
export async function readReport(file) {
  if (file.size > MAX_REPORT_BYTES) throw new Error(`${file.name}: larger than 20 MB, not a lesson report.`);
  let report;
  try {
    report = JSON.parse(await file.text());
  } catch {
    throw new Error(`${file.name}: not JSON: expected a lesson report saved by “Download report (JSON)”.`);
  }
  if (report?.format !== REPORT_FORMAT || !Array.isArray(report.questions) || !report.lesson?.id)
    throw new Error(`${file.name}: not a Cortex Lens lesson report (expected "format": "${REPORT_FORMAT}").`);
  if (report.version > REPORT_VERSION)
    throw new Error(
      `${file.name}: report version ${report.version} is newer than this page reads (${REPORT_VERSION}).`,
    );
  return report;
}

// reports (with their file names) -> one table per lesson: {lesson, questions: [{step, prompt}], rows: [{student,
// cells: [{answer, correct, answered}]}], right: [share right per question or null]}.
export function classSummary(reports) {
  const byLesson = new Map();
  for (const { report, name } of reports) {
    const key = `${report.lesson.id}@${report.lesson.hash}`;
    if (!byLesson.has(key)) byLesson.set(key, { lesson: report.lesson, questions: new Map(), rows: [] });
    const table = byLesson.get(key);
    for (const q of report.questions) if (!table.questions.has(q.step)) table.questions.set(q.step, q);
    table.rows.push({
      student: report.student || name,
      date: report.date,
      byStep: new Map(report.questions.map((q) => [q.step, q])),
    });
  }
  return [...byLesson.values()].map((t) => {
    const questions = [...t.questions.values()].sort((a, b) => a.step - b.step);
    const rows = t.rows
      .sort((a, b) => a.student.localeCompare(b.student))
      .map((r) => ({
        student: r.student,
        date: r.date,
        cells: questions.map((q) => r.byStep.get(q.step) || { answer: null, correct: null, answered: false }),
      }));
    const right = questions.map((_, i) => {
      const graded = rows.map((r) => r.cells[i]).filter((c) => c.answered && c.correct !== null);
      return graded.length ? graded.filter((c) => c.correct).length / graded.length : null;
    });
    return { lesson: t.lesson, questions, rows, right };
  });
}

const MARK = { true: '✓', false: '✗', null: '' };
export function renderSummary(tables) {
  return tables.map((t, k) =>
    scrollRegion(
      `Answers to ${t.lesson.title}`,
      {},
      h(
        'table',
        { class: 'lesson-summary-table', id: `lesson-summary-table-${k}` },
        h('caption', {}, `${t.lesson.title} (${t.lesson.id}, version ${t.lesson.hash}): ${t.rows.length} students`),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Student'),
            t.questions.map((q) => h('th', { scope: 'col', title: q.prompt }, `Step ${q.step}: ${q.prompt}`)),
          ),
        ),
        h(
          'tbody',
          {},
          t.rows.map((r) =>
            h(
              'tr',
              {},
              h('th', { scope: 'row' }, r.student),
              r.cells.map((c) =>
                h(
                  'td',
                  { class: c.answered ? `lesson-result-${RESULT_TEXT[String(c.correct)].replace(' ', '-')}` : '' },
                  c.answered ? `${MARK[String(c.correct)]} ${answerText(c)}`.trim() : '—',
                  c.answered ? h('span', { class: 'visually-hidden' }, ` (${RESULT_TEXT[String(c.correct)]})`) : null,
                ),
              ),
            ),
          ),
        ),
        h(
          'tfoot',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'row' }, 'Right'),
            t.right.map((share) => h('td', {}, share == null ? 'not graded' : `${Math.round(share * 100)}%`)),
          ),
        ),
      ),
    ),
  );
}

export function summaryCsvRows(tables) {
  const rows = [];
  for (const t of tables)
    for (const r of t.rows)
      for (const [i, c] of r.cells.entries())
        rows.push([
          t.lesson.id,
          r.student,
          t.questions[i].step,
          t.questions[i].prompt,
          c.answer ?? '',
          c.answered ? RESULT_TEXT[String(c.correct)] : 'not answered',
        ]);
  return rows;
}
