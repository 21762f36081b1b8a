// The lesson panel, loaded on demand by player.js (markdown-it, YAML and DOMPurify stay out of the page's first
// load). The lesson player: a side panel (a bottom sheet on phones) beside the page, which stays fully usable. It opens
// lessons (built-in ones of lessons/index.json, a teacher's file on the site, a file the user drops), shows one
// step at a time, applies each step's action through the store, asks its question, keeps progress and answers in
// this browser (storage.js) and hands in a report (report.js). State: `lessonId`, `lessonStep`, `lesson`,
// `lessonError`, `lessonAnswers` in the store (web/src/state.js).
import DOMPurify from 'dompurify';
import { h, downloadCsv } from '../dom.js';
import { galleryImage } from '../services.js';
import { parseLesson, LessonError } from './parse.js';
import { createLive, formatLive, LIVE_KEYS } from './live.js';
import { loadProgress, saveProgress, clearProgress, currentLesson, setCurrentLesson } from './storage.js';
import { buildReport, renderReport, readReport, classSummary, renderSummary, summaryCsvRows } from './report.js';

const FIGURES_PER_STEP = 4;
const FIGURE_WIDTH = 360; // px: figures are for a report, not for analysis; the localStorage quota is ~5 MB

// Lesson text may link out (a click is the student's choice) but never loads anything from another origin.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'IMG' && /^([a-z]+:|\/\/)/i.test(node.getAttribute('src') || '')) node.remove();
  if (node.tagName === 'A' && /^([a-z]+:|\/\/)/i.test(node.getAttribute('href') || '')) {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});
const sanitize = (html) => DOMPurify.sanitize(html, { FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea'] });
const htmlOf = (html, tag = 'div', attrs = {}) => {
  const el = h(tag, attrs);
  el.innerHTML = sanitize(html); // markdown-it (html: false) output, sanitized: the only innerHTML of the page
  return el;
};

// root: the lesson slot; launch: the "Lessons" button player.js made -> {update(changed), show()}.
// The panel's parts (loading, steps, questions, hand-in, summary, controls) share its closure state (the open
// lesson, its load ticket, the files opened this visit); next: modules that take that state as an argument.
// biome-ignore lint/complexity/noExcessiveLinesPerFunction: see above
export function mountPanel(root, app, launch) {
  const { store, catalog } = app;
  const live = createLive(app);
  const ui = buildDom(root, launch);
  const fileSources = new Map(); // 'file:<name>' -> text of a file the user opened this visit
  let index = null; // Promise of lessons/index.json's list
  let loadTicket = null;
  let openedFromLink = true; // the first lesson of a visit came from the link: it opens at step 1, not the cover
  let started = false;
  let build = null; // Promise of {version}
  let rendered = { lesson: null, step: -1 };
  let refreshLive = () => {}; // the step's live parts (waiting lines, reveals) redraw on store changes

  app.lessons = { live, open: (id) => openLesson(id) }; // for the tests and the curious (window.cortexLens.app)

  const viewIds = () => new Set([...document.querySelectorAll('#view-tabs [role="tab"]')].map((t) => t.id.slice(4)));
  const context = (name) => {
    const gallery = store.get('gallery');
    return {
      name,
      schema: store.schema,
      viewIds: viewIds(),
      hasNeuron: (id) => Boolean(catalog.entry(id)) && !id.startsWith('own-'),
      hasImage: (key) => Boolean(galleryImage(gallery, key)),
      published: catalog.neurons().length > 0,
    };
  };

  function lessonIndex() {
    index ??= fetch('lessons/index.json')
      .then((r) => (r.ok ? r.json() : []))
      .then((list) =>
        Array.isArray(list)
          ? list.filter((e) => /^[a-z0-9-]{1,60}$/.test(e?.id) && /^[\w.-]{1,80}\.md$/.test(e?.file))
          : [],
      )
      .catch(() => []);
    return index;
  }

  async function fetchBytes(url, what) {
    const response = await fetch(url);
    if (!response.ok)
      throw new LessonError(
        null,
        `${what} could not be read (HTTP ${response.status}): expected a lesson file at ${url}.`,
      );
    return response.arrayBuffer();
  }

  // lessonId -> {bytes|text, name}
  async function sourceOf(id) {
    if (id.startsWith('file:')) {
      const text = fileSources.get(id) ?? loadProgress(id)?.source;
      if (text == null)
        throw new LessonError(null, `The lesson file ${id.slice(5)} is not open any more: open it again.`);
      return { bytes: text, name: id.slice(5) };
    }
    if (id.startsWith('url:')) {
      const url = new URL(id.slice(4), location.href);
      if (url.origin !== location.origin)
        throw new LessonError(null, `A lesson link opens files of this site only, not ${url.origin}.`);
      return { bytes: await fetchBytes(url.href, `The lesson ${id.slice(4)}`), name: url.pathname };
    }
    const entry = (await lessonIndex()).find((e) => e.id === id);
    if (!entry) throw new LessonError(null, `There is no built-in lesson "${id}": choose one from the lesson menu.`);
    return { bytes: await fetchBytes(`lessons/${entry.file}`, `The lesson ${id}`), name: entry.file };
  }

  async function openLesson(id, { text } = {}) {
    if (text != null) fileSources.set(id, text);
    const fromLink = openedFromLink;
    openedFromLink = false;
    const ticket = {};
    loadTicket = ticket;
    showPanel(true);
    try {
      const { bytes, name } = await sourceOf(id);
      const lesson = parseLesson(bytes, context(name));
      if (loadTicket !== ticket) return;
      let progress = loadProgress(id);
      const changed = progress && progress.hash !== lesson.hash;
      if (changed) progress = null;
      const step = Math.min(progress?.step ?? (fromLink && lesson.runnable ? 1 : 0), lesson.steps.length + 1);
      store.set({
        lessonId: id,
        lesson,
        lessonError: null,
        lessonAnswers: progress?.answers || {},
        lessonStep: lesson.runnable ? step : 0,
      });
      setCurrentLesson(id);
      persist({ source: id.startsWith('file:') ? fileSources.get(id) : undefined });
      ui.notice.textContent = changed ? 'This lesson has changed since you last opened it: it starts again.' : '';
      applyActions(store.get('lessonStep'));
    } catch (e) {
      if (loadTicket !== ticket) return;
      const message = e instanceof LessonError ? e.message : `The lesson could not be opened: ${e.message}`;
      if (store.get('lessonId') === id) setCurrentLesson(null);
      store.set({ lessonId: null, lesson: null, lessonError: { id, message } });
    }
  }

  function closeLesson() {
    loadTicket = null;
    setCurrentLesson(null);
    store.set({ lessonId: null, lesson: null, lessonStep: 0, lessonAnswers: {}, lessonError: null });
  }

  // The progress record of the open lesson, written after every change.
  function persist(extra = {}) {
    const id = store.get('lessonId');
    const lesson = store.get('lesson');
    if (!id || !lesson) return;
    const old = loadProgress(id) || {};
    const record = {
      ...old,
      hash: lesson.hash,
      step: store.get('lessonStep'),
      answers: store.get('lessonAnswers'),
      figures: old.hash === lesson.hash ? old.figures || {} : {},
      ...extra,
    };
    if (record.source === undefined) delete record.source;
    if (!saveProgress(id, record))
      ui.notice.textContent = 'This browser keeps no data (storage is off): answers are lost on reload.';
  }

  // The state of step `step`: the actions of steps 1..step merged (a key a step does not name keeps the value an
  // earlier step gave it), so a student who comes back, goes back or wandered off sees what everyone sees.
  function applyActions(step) {
    const lesson = store.get('lesson');
    if (!lesson || step < 1) return;
    const merged = {};
    for (const s of lesson.steps.slice(0, Math.min(step, lesson.steps.length))) Object.assign(merged, s.action?.patch);
    const patch = {};
    for (const [key, value] of Object.entries(merged)) {
      const now = store.get(key);
      if (key === 'image') {
        if (now?.source === 'gallery' && now.key === value.key) continue;
        if (!('crop' in merged)) patch.crop = null; // a new image starts centred, as a click in the gallery does
      } else if (JSON.stringify(now) === JSON.stringify(value)) continue;
      patch[key] = value;
    }
    if (Object.keys(patch).length) store.set(patch);
  }

  function goTo(step) {
    const lesson = store.get('lesson');
    if (!lesson) return;
    const from = store.get('lessonStep');
    if (from >= 1 && from <= lesson.steps.length && step > from) captureFigures(from);
    store.set({ lessonStep: Math.max(0, Math.min(step, lesson.steps.length + 1)) });
    persist();
    applyActions(store.get('lessonStep'));
    ui.stepTitle.focus?.();
  }

  // The visible canvases of the page (the image and the view shown), downscaled, as PNG, for the report.
  function captureFigures(step) {
    const id = store.get('lessonId');
    const canvases = [...document.querySelectorAll('#slot-image canvas, #view-panels canvas')].filter(
      (c) => c.width > 0 && c.height > 0 && c.getClientRects().length && !c.closest('[hidden]'),
    );
    const figures = [];
    for (const c of canvases) {
      if (figures.length >= FIGURES_PER_STEP) break;
      const scale = Math.min(1, FIGURE_WIDTH / c.width);
      const out = h('canvas', { width: Math.round(c.width * scale), height: Math.round(c.height * scale) });
      const g = out.getContext('2d');
      g.fillStyle = '#ffffff';
      g.fillRect(0, 0, out.width, out.height);
      g.drawImage(c, 0, 0, out.width, out.height);
      if (blank(c)) continue;
      figures.push({ name: c.getAttribute('aria-label') || c.id || 'figure', png: out.toDataURL('image/png') });
    }
    if (!figures.length) return;
    const record = loadProgress(id) || {};
    saveProgress(id, { ...record, figures: { ...(record.figures || {}), [step]: figures } });
  }

  function answer(step, result) {
    const answers = { ...store.get('lessonAnswers') };
    const before = answers[step];
    answers[step] = {
      ...result,
      tries: (before?.tries || 0) + 1,
      at: new Date().toISOString(),
      neuronId: store.get('neuronId'),
      image: store.get('image')?.key ?? null,
    };
    store.set({ lessonAnswers: answers });
    persist();
    captureFigures(step);
  }

  // ---- rendering ----
  function showPanel(open) {
    ui.panel.hidden = !open;
    ui.launch.setAttribute('aria-expanded', String(open));
    document.documentElement.classList.toggle('lesson-open', open);
    if (!open) document.documentElement.classList.remove('lesson-min');
  }

  async function renderMenu() {
    const error = store.get('lessonError');
    ui.error.hidden = !error;
    ui.error.textContent = error ? error.message : '';
    const list = await lessonIndex();
    if (ui.menuList.dataset.filled) return;
    ui.menuList.dataset.filled = '1';
    if (!list.length) {
      ui.menuList.append(h('li', { class: 'fineprint' }, 'This build has no built-in lessons.'));
      return;
    }
    for (const entry of list) {
      const button = h(
        'button',
        { type: 'button', class: 'button quiet lesson-menu-item', 'data-lesson': entry.id },
        entry.id,
      );
      button.addEventListener('click', () => openLesson(entry.id));
      const li = h('li', {}, button);
      ui.menuList.append(li);
      // Titles come from the files themselves (index.json holds ids and files only).
      fetch(`lessons/${entry.file}`)
        .then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(new Error(`HTTP ${r.status}`))))
        .then((bytes) => {
          const lesson = parseLesson(bytes, context(entry.file));
          button.replaceChildren(
            h('strong', {}, lesson.title),
            h('span', { class: 'fineprint' }, ` · ${lesson.minutes} min · ${lesson.level}`),
          );
          if (loadProgress(entry.id)?.hash === lesson.hash) li.append(h('span', { class: 'fineprint' }, ' (started)'));
        })
        .catch((e) => li.append(h('span', { class: 'error' }, ` ${e.message}`)));
    }
  }

  function render() {
    const lesson = store.get('lesson');
    const step = store.get('lessonStep');
    ui.menu.hidden = Boolean(lesson);
    ui.player.hidden = !lesson;
    ui.title.textContent = lesson ? lesson.title : 'Lessons';
    if (!lesson) {
      renderMenu();
      rendered = { lesson: null, step: -1 };
      return;
    }
    if (rendered.lesson === lesson && rendered.step === step) return;
    rendered = { lesson, step };
    const n = lesson.steps.length;
    ui.progress.max = n;
    ui.progress.value = Math.min(step, n);
    ui.progressText.textContent =
      step === 0 ? `${n} steps` : step > n ? `Finished (${n} steps)` : `Step ${step} of ${n}`;
    ui.back.disabled = step === 0;
    ui.next.disabled = step > n || (step === 0 && !lesson.runnable);
    ui.next.textContent = step === 0 ? 'Start' : step === n ? 'Finish' : 'Next';
    ui.copy.disabled = store.get('lessonId').startsWith('file:');
    ui.copy.title = ui.copy.disabled
      ? 'A lesson opened from a file has no link: put the file on the site to share it.'
      : '';
    refreshLive = () => {};
    if (step === 0) renderCover(lesson);
    else if (step > n) renderEnd(lesson);
    else renderStep(lesson, step);
  }

  function renderCover(lesson) {
    ui.stepTitle.textContent = lesson.title;
    const parts = [
      h(
        'p',
        { class: 'fineprint' },
        `${lesson.level} · about ${lesson.minutes} minutes · ${lesson.steps.length} steps`,
      ),
      h('h4', {}, 'You will learn'),
      h(
        'ul',
        {},
        lesson.goals.map((g) => h('li', {}, g)),
      ),
      htmlOf(lesson.introHtml),
    ];
    if (!lesson.runnable)
      parts.push(
        h(
          'p',
          { class: 'error', id: 'lesson-cannot-start', role: 'alert' },
          'This lesson uses the published models of the 219 neurons, and this site was built without them: it cannot start here. Open it on a site built with the published data.',
        ),
      );
    const saved = loadProgress(store.get('lessonId'));
    if (lesson.runnable && saved?.hash === lesson.hash && saved.step > 0) {
      const resume = h(
        'button',
        { type: 'button', class: 'button', id: 'lesson-resume' },
        `Continue at step ${saved.step}`,
      );
      resume.addEventListener('click', () => goTo(saved.step));
      parts.push(resume);
    }
    ui.body.replaceChildren(...parts);
  }

  function renderEnd(lesson) {
    ui.stepTitle.textContent = 'Lesson finished';
    const answers = store.get('lessonAnswers');
    const asked = lesson.steps.map((s, i) => (s.question ? i + 1 : 0)).filter(Boolean);
    const right = asked.filter((s) => answers[s]?.correct === true).length;
    const graded = asked.filter((s) => ['choice', 'number'].includes(lesson.steps[s - 1].question.kind)).length;
    ui.body.replaceChildren(
      h(
        'p',
        {},
        `You answered ${asked.filter((s) => answers[s]).length} of ${asked.length} questions; ${right} of ${graded} graded answers are right.`,
      ),
      h(
        'p',
        {},
        'Hand in your report: “Hand in” makes a printable page and a JSON file for your teacher. Nothing leaves this computer unless you send the file.',
      ),
    );
  }

  function renderStep(lesson, stepNo) {
    const step = lesson.steps[stepNo - 1];
    ui.stepTitle.textContent = step.title;
    const parts = [htmlOf(step.html, 'div', { class: 'lesson-text' })];
    if (step.action)
      parts.push(
        h(
          'p',
          { class: 'fineprint lesson-action-note' },
          'This step set the page: ',
          Object.entries(step.action.params)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
          '. You can change anything; “Back” and “Next” set it again.',
        ),
      );
    if (step.question) parts.push(renderQuestion(step.question, stepNo));
    ui.body.replaceChildren(...parts);
    refreshLive();
  }

  // One question's form: its four kinds and their checks share the form's elements.
  // biome-ignore lint/complexity/noExcessiveLinesPerFunction: see above
  function renderQuestion(q, stepNo) {
    const saved = store.get('lessonAnswers')[stepNo];
    const idBase = `lesson-q${stepNo}`;
    const form = h('form', {
      class: 'lesson-question',
      id: 'lesson-question',
      'data-kind': q.kind,
      novalidate: true,
    });
    const legend = h('legend', {}, q.prompt);
    const fieldset = h('fieldset', {}, legend);
    const feedback = h('p', {
      id: 'lesson-feedback',
      class: 'lesson-feedback',
      role: 'status',
      'aria-live': 'polite',
    });
    const waiting = h('p', { id: 'lesson-waiting', class: 'fineprint', role: 'status', 'aria-live': 'polite' });
    const submit = h('button', { type: 'submit', class: 'button primary', id: 'lesson-check' });
    const say = (kind, text, extra) => {
      feedback.dataset.result = kind;
      feedback.replaceChildren(text, extra ? h('br') : '', extra || '');
    };
    let read = () => null; // the student's input: string | number | null
    const choices = q.choices?.map((c, i) => {
      const input = h('input', { type: 'radio', name: idBase, id: `${idBase}-c${i}`, value: String(i) });
      if (saved && saved.given === c.text) input.checked = true;
      return h('label', { class: 'lesson-choice', for: input.id }, input, ` ${c.text}`);
    });
    if (choices) {
      fieldset.append(...choices);
      read = () => {
        const checked = form.querySelector('input[type="radio"]:checked');
        return checked ? Number(checked.value) : null;
      };
    } else if (q.kind === 'number' || q.guess === 'number') {
      const input = h('input', {
        type: 'number',
        step: 'any',
        id: `${idBase}-n`,
        inputmode: 'decimal',
        class: 'lesson-number',
      });
      if (saved) input.value = String(saved.given);
      fieldset.append(
        h(
          'label',
          { for: input.id },
          q.kind === 'predict' ? 'Your guess' : 'Your answer',
          q.unit ? ` (${q.unit})` : '',
        ),
        ' ',
        input,
      );
      read = () => (input.value.trim() === '' || !Number.isFinite(Number(input.value)) ? null : Number(input.value));
    } else if (q.kind === 'text') {
      const area = h('textarea', { id: `${idBase}-t`, rows: 4, class: 'lesson-text-answer', maxlength: 5000 });
      if (saved) area.value = saved.given;
      fieldset.append(h('label', { for: area.id }, 'Your answer'), area);
      read = () => area.value.trim();
    }
    submit.textContent = q.kind === 'predict' ? 'Commit my guess' : q.kind === 'text' ? 'Save my answer' : 'Check';
    const hintButton = q.hint
      ? h(
          'button',
          { type: 'button', class: 'button quiet small', id: 'lesson-hint-button', 'aria-expanded': 'false' },
          'Show a hint',
        )
      : null;
    const hint = q.hint ? h('p', { class: 'lesson-hint', id: 'lesson-hint', hidden: true }, q.hint) : null;
    hintButton?.addEventListener('click', () => {
      hint.hidden = false;
      hintButton.setAttribute('aria-expanded', 'true');
    });
    const reveal = h('div', { id: 'lesson-reveal', class: 'lesson-reveal', hidden: true });

    const explainText = q.explain || '';
    const showSaved = (a) => {
      if (!a) return;
      if (q.kind === 'predict') {
        for (const el of fieldset.querySelectorAll('input')) el.disabled = true;
        submit.disabled = true;
        say('kept', 'Your guess is committed.');
        revealNow(true);
      } else if (q.kind === 'text') say('kept', 'Your answer is saved (not graded).');
      else if (a.correct) say('right', 'Right.', explainText);
      else say('wrong', wrongText(q, a.given));
    };
    const wrongText = (question, given) =>
      question.choices?.find((c) => c.text === given)?.feedback ||
      question.feedback ||
      'Not quite: look again and try once more.';

    // The predict reveal (and a waiting line for a live answer) follow the store until the value is there.
    function revealNow(show) {
      if (!show) return;
      reveal.hidden = false;
      const v = live.read(q.reveal);
      if (v.waiting) {
        reveal.dataset.value = '';
        reveal.replaceChildren(h('p', { class: 'fineprint' }, v.waiting), openViewButton(v));
        return;
      }
      reveal.dataset.value = String(v.value);
      const answers = store.get('lessonAnswers');
      if (answers[stepNo] && answers[stepNo].expected == null) {
        store.set({ lessonAnswers: { ...answers, [stepNo]: { ...answers[stepNo], expected: v.value } } });
        persist();
      }
      reveal.replaceChildren(
        h(
          'p',
          {},
          'The page computed: ',
          h('strong', { class: 'lesson-live-value' }, `${formatLive(q.reveal, v.value)}${q.unit ? ` ${q.unit}` : ''}`),
          ` (${q.reveal}).`,
        ),
        explainText ? h('p', {}, explainText) : '',
      );
    }
    const openViewButton = (v) => {
      if (!v.openView) return '';
      const b = h('button', { type: 'button', class: 'button small' }, 'Open it');
      b.addEventListener('click', () => store.set({ view: v.openView }));
      return b;
    };
    let pendingCheck = null; // a number answer waiting for its live value
    refreshLive = () => {
      if (q.kind === 'predict' && store.get('lessonAnswers')[stepNo]) revealNow(true);
      if (pendingCheck) pendingCheck();
      else if (q.kind === 'number' && typeof q.answer === 'string') {
        const v = live.read(q.answer);
        waiting.replaceChildren(v.waiting ? v.waiting : '', v.waiting ? openViewButton(v) : '');
        waiting.dataset.value = v.waiting ? '' : String(v.value);
      }
    };

    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const given = read();
      if (given === null || given === '') {
        say(
          'empty',
          q.kind === 'text' ? 'Write your answer first.' : choices ? 'Choose an answer first.' : 'Type a number first.',
        );
        return;
      }
      if (q.kind === 'choice') {
        const c = q.choices[given];
        answer(stepNo, { kind: q.kind, given: c.text, correct: c.correct });
        if (c.correct) say('right', 'Right.', explainText);
        else say('wrong', wrongText(q, c.text));
      } else if (q.kind === 'number') {
        const check = () => {
          const target = typeof q.answer === 'number' ? { value: q.answer } : live.read(q.answer);
          if (target.waiting) {
            say('waiting', target.waiting);
            return;
          }
          pendingCheck = null;
          const correct = Math.abs(given - target.value) <= q.tolerance;
          answer(stepNo, { kind: q.kind, given, correct, expected: target.value });
          if (correct) say('right', 'Right.', explainText);
          else say('wrong', q.feedback || 'Not quite: look at the page again and try once more.');
        };
        pendingCheck = check;
        check();
      } else if (q.kind === 'predict') {
        answer(stepNo, { kind: q.kind, given: choices ? q.choices[given].text : given, correct: null });
        showSaved(store.get('lessonAnswers')[stepNo]);
      } else {
        if (given.length < q.minLength) {
          say('empty', `Write at least ${q.minLength} characters (you have ${given.length}).`);
          return;
        }
        answer(stepNo, { kind: q.kind, given, correct: null });
        say('kept', 'Your answer is saved (not graded).');
      }
    });
    fieldset.append(h('div', { class: 'lesson-question-actions' }, submit, hintButton));
    form.append(...[fieldset, hint, feedback, waiting, reveal].filter(Boolean));
    showSaved(saved);
    return form;
  }

  // ---- hand-in ----
  async function report() {
    const lesson = store.get('lesson');
    const id = store.get('lessonId');
    captureFigures(store.get('lessonStep'));
    build ??= fetch('version.json')
      .then((r) => (r.ok ? r.json() : { version: 'unknown' }))
      .catch(() => ({ version: 'unknown' }));
    const progress = {
      ...(loadProgress(id) || {}),
      answers: store.get('lessonAnswers'),
      student: ui.student.value.trim(),
    };
    const used = new Map();
    const note = (neuronId) => {
      const e = catalog.entry(neuronId);
      if (e && !used.has(e.id))
        used.set(e.id, { id: e.id, kind: e.kind, params: e.params ?? null, precision: store.get('precision') });
    };
    for (const s of lesson.steps) if (s.action?.patch.neuronId) note(s.action.patch.neuronId);
    for (const a of Object.values(progress.answers)) note(a.neuronId);
    return buildReport({ lessonId: id, lesson, progress, build: await build, models: [...used.values()] });
  }

  async function openReport() {
    ui.student.value = loadProgress(store.get('lessonId'))?.student || ui.student.value;
    const r = await report();
    ui.reportBody.replaceChildren(renderReport(r));
    ui.report.hidden = false;
    document.documentElement.classList.add('lesson-printing');
    ui.reportClose.focus();
  }
  ui.student.addEventListener('change', async () => {
    persist({ student: ui.student.value.trim() });
    ui.reportBody.replaceChildren(renderReport(await report()));
  });
  ui.reportPrint.addEventListener('click', () => window.print());
  ui.reportJson.addEventListener('click', async () => {
    const r = await report();
    const url = URL.createObjectURL(new Blob([JSON.stringify(r, null, 1)], { type: 'application/json' }));
    const name = `${r.lesson.id}-${(r.student || 'report').replace(/[^\w-]+/g, '_')}.json`;
    const a = h('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });
  const closeOverlay = (el) => {
    el.hidden = true;
    document.documentElement.classList.remove('lesson-printing');
    ui.panel.focus();
  };
  ui.reportClose.addEventListener('click', () => closeOverlay(ui.report));

  // ---- class summary (for the teacher) ----
  let summaryTables = [];
  async function summarize(files) {
    const reports = [];
    const problems = [];
    for (const file of files) {
      try {
        reports.push({ report: await readReport(file), name: file.name.replace(/\.json$/i, '') });
      } catch (e) {
        problems.push(e.message);
      }
    }
    summaryTables = classSummary(reports);
    ui.summaryTables.replaceChildren(...renderSummary(summaryTables));
    ui.summaryStatus.textContent = `${reports.length} report${reports.length === 1 ? '' : 's'} merged.`;
    ui.summaryError.hidden = !problems.length;
    ui.summaryError.textContent = problems.join(' ');
    ui.summaryCsv.disabled = !summaryTables.length;
  }
  ui.summaryOpen.addEventListener('click', () => {
    ui.summary.hidden = false;
    ui.summaryClose.focus();
  });
  ui.summaryClose.addEventListener('click', () => closeOverlay(ui.summary));
  ui.summaryFile.addEventListener('change', () => summarize([...ui.summaryFile.files]));
  dropTarget(ui.summaryDrop, (files) => summarize(files));
  ui.summaryCsv.addEventListener('click', () =>
    downloadCsv(
      'cortexlens-class-summary.csv',
      ['lesson', 'student', 'step', 'question', 'answer', 'result'],
      summaryCsvRows(summaryTables),
    ),
  );

  // ---- opening files ----
  async function openFile(file) {
    if (!file) return;
    const id = `file:${file.name.slice(0, 100)}`;
    try {
      // Checked here too so that a huge file is refused before it is read whole.
      if (file.size > 300 * 1024)
        throw new LessonError(
          null,
          `${file.name} is ${Math.round(file.size / 1024)} KB: a lesson is at most 256 KB of text.`,
        );
      await openLesson(id, { text: await readFileText(file) });
    } catch (e) {
      store.set({ lessonError: { id, message: e.message } });
    }
  }
  async function readFileText(file) {
    const bytes = new Uint8Array(await file.arrayBuffer());
    // Kept as text for the reload (localStorage holds strings); parseLesson checks the UTF-8 itself first.
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new LessonError(
        null,
        `${file.name} is not UTF-8 text, so it is not a lesson: expected a Markdown (.md) file.`,
      );
    }
  }
  ui.file.addEventListener('change', () => {
    openFile(ui.file.files[0]);
    ui.file.value = '';
  });
  dropTarget(ui.drop, (files) => openFile(files[0]));

  // ---- controls ----
  ui.launch.addEventListener('click', () => {
    showPanel(ui.panel.hidden);
    if (!ui.panel.hidden) ui.panel.focus();
  });
  ui.close.addEventListener('click', () => {
    showPanel(false);
    ui.launch.focus();
  });
  ui.minimize.addEventListener('click', () => {
    const min = document.documentElement.classList.toggle('lesson-min');
    ui.minimize.setAttribute('aria-expanded', String(!min));
    ui.minimize.textContent = min ? 'Show' : 'Hide';
  });
  ui.back.addEventListener('click', () => goTo(store.get('lessonStep') - 1));
  ui.next.addEventListener('click', () => goTo(store.get('lessonStep') + 1));
  ui.toMenu.addEventListener('click', () => closeLesson());
  ui.report.addEventListener('keydown', (e) => e.key === 'Escape' && closeOverlay(ui.report));
  ui.summary.addEventListener('keydown', (e) => e.key === 'Escape' && closeOverlay(ui.summary));
  ui.reportOpen.addEventListener('click', openReport);
  ui.copy.addEventListener('click', async () => {
    const id = store.get('lessonId');
    const link = `${location.origin}${location.pathname}#${new URLSearchParams({ lesson: id })}`;
    ui.linkOut.value = link;
    ui.linkOut.hidden = false;
    try {
      await navigator.clipboard.writeText(link);
      ui.notice.textContent =
        'Lesson link copied: it opens this lesson at step 1 (each student’s answers stay on their own computer).';
    } catch {
      ui.notice.textContent = 'Copy the lesson link from the box.';
      ui.linkOut.select();
    }
  });
  ui.clear.addEventListener('click', () => {
    const id = store.get('lessonId');
    if (!id) return;
    clearProgress(id);
    store.set({ lessonAnswers: {}, lessonStep: store.get('lesson')?.runnable ? 1 : 0 });
    rendered = { lesson: null, step: -1 };
    persist({ source: id.startsWith('file:') ? fileSources.get(id) : undefined });
    ui.notice.textContent = 'Your answers to this lesson are cleared from this browser.';
    render();
    applyActions(store.get('lessonStep'));
  });

  return {
    show: () => {
      showPanel(true);
      ui.panel.focus();
    },
    update(changed) {
      if (!store.get('manifest')) return; // the page is still starting: a lesson is checked against its models
      if (!started) {
        started = true;
        // The link's keys reach the store right after the manifest (services.js): look once they are in.
        setTimeout(() => {
          const fromLink = store.get('lessonId');
          const id = fromLink || currentLesson();
          openedFromLink = Boolean(fromLink);
          if (id) openLesson(id);
        });
        return;
      } else if (changed.has('lessonId') && store.get('lessonId') && store.get('lessonId') !== loadTicketId()) {
        openLesson(store.get('lessonId')); // a link edited by hand while the page is open
      }
      if (['lesson', 'lessonStep', 'lessonError', 'lessonId'].some((k) => changed.has(k))) render();
      else if (LIVE_KEYS.some((k) => changed.has(k))) refreshLive();
    },
  };

  function loadTicketId() {
    return store.get('lesson') ? store.get('lessonId') : null;
  }
}

function blank(canvas) {
  try {
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return false;
    return true;
  } catch {
    return false; // a WebGL or bitmaprenderer canvas: keep it
  }
}

function dropTarget(zone, onFiles) {
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
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

// biome-ignore lint/complexity/noExcessiveLinesPerFunction: a flat list of the panel's elements, one per line.
function buildDom(root) {
  const ui = {
    launch: h(
      'button',
      {
        type: 'button',
        id: 'lesson-launch',
        class: 'button primary lesson-launch',
        'aria-controls': 'lesson-panel',
        'aria-expanded': 'false',
      },
      'Lessons',
    ),
    panel: h('section', {
      id: 'lesson-panel',
      class: 'lesson-panel',
      'aria-labelledby': 'lesson-panel-title',
      tabindex: -1,
      hidden: true,
    }),
    title: h('h2', { id: 'lesson-panel-title' }, 'Lessons'),
    minimize: h(
      'button',
      {
        type: 'button',
        id: 'lesson-minimize',
        class: 'button quiet small lesson-minimize',
        'aria-expanded': 'true',
        'aria-controls': 'lesson-panel-body',
      },
      'Hide',
    ),
    close: h(
      'button',
      {
        type: 'button',
        id: 'lesson-close',
        class: 'button quiet small',
        'aria-label': 'Close the lesson panel (the lesson stays open)',
      },
      '×',
    ),
    menu: h('div', { id: 'lesson-menu' }),
    menuList: h('ul', { id: 'lesson-menu-list', class: 'lesson-menu-list' }),
    error: h('p', { id: 'lesson-error', class: 'error', role: 'alert', hidden: true }),
    file: h('input', { type: 'file', id: 'lesson-file', accept: '.md,.markdown,text/markdown,text/plain' }),
    drop: h('div', { id: 'lesson-drop', class: 'lesson-drop' }),
    summaryOpen: h(
      'button',
      { type: 'button', id: 'lesson-summary-open', class: 'button quiet small' },
      'Class summary (for teachers)',
    ),
    player: h('div', { id: 'lesson-player', hidden: true }),
    progress: h('progress', { id: 'lesson-progress', max: 1, value: 0, 'aria-label': 'Lesson progress' }),
    progressText: h('span', { id: 'lesson-progress-text' }),
    stepTitle: h('h3', { id: 'lesson-step-title', tabindex: -1 }),
    body: h('div', { id: 'lesson-step', class: 'lesson-step' }),
    back: h('button', { type: 'button', id: 'lesson-back', class: 'button' }, 'Back'),
    next: h('button', { type: 'button', id: 'lesson-next', class: 'button primary' }, 'Next'),
    toMenu: h('button', { type: 'button', id: 'lesson-to-menu', class: 'button quiet small' }, 'Leave lesson'),
    copy: h('button', { type: 'button', id: 'lesson-copy', class: 'button quiet small' }, 'Copy lesson link'),
    reportOpen: h(
      'button',
      { type: 'button', id: 'lesson-report-open', class: 'button quiet small' },
      'Hand in (report)',
    ),
    clear: h('button', { type: 'button', id: 'lesson-clear', class: 'button quiet small' }, 'Clear my answers'),
    linkOut: h('input', { type: 'text', id: 'lesson-link', readonly: true, hidden: true, 'aria-label': 'Lesson link' }),
    notice: h('p', { id: 'lesson-notice', class: 'fineprint', role: 'status', 'aria-live': 'polite' }),
    report: h('div', {
      id: 'lesson-report',
      class: 'lesson-overlay',
      role: 'dialog',
      'aria-modal': 'true',
      'aria-label': 'Lesson report',
      hidden: true,
    }),
    reportBody: h('div', { id: 'lesson-report-body' }),
    student: h('input', { type: 'text', id: 'lesson-student', maxlength: 80, autocomplete: 'name' }),
    reportPrint: h(
      'button',
      { type: 'button', id: 'lesson-report-print', class: 'button primary' },
      'Print or save as PDF',
    ),
    reportJson: h('button', { type: 'button', id: 'lesson-report-json', class: 'button' }, 'Download report (JSON)'),
    reportClose: h('button', { type: 'button', id: 'lesson-report-close', class: 'button quiet' }, 'Close'),
    summary: h('div', {
      id: 'lesson-summary',
      class: 'lesson-overlay',
      role: 'dialog',
      'aria-modal': 'true',
      'aria-label': 'Class summary',
      hidden: true,
    }),
    summaryFile: h('input', {
      type: 'file',
      id: 'lesson-summary-file',
      accept: '.json,application/json',
      multiple: true,
    }),
    summaryDrop: h('div', { id: 'lesson-summary-drop', class: 'lesson-drop' }),
    summaryStatus: h('p', { id: 'lesson-summary-status', role: 'status', 'aria-live': 'polite' }),
    summaryError: h('p', { id: 'lesson-summary-error', class: 'error', role: 'alert', hidden: true }),
    summaryTables: h('div', { id: 'lesson-summary-tables' }),
    summaryCsv: h(
      'button',
      { type: 'button', id: 'lesson-summary-csv', class: 'button quiet', disabled: true },
      'Download the table (CSV)',
    ),
    summaryClose: h('button', { type: 'button', id: 'lesson-summary-close', class: 'button quiet' }, 'Close'),
  };
  ui.drop.append(
    h('p', {}, 'Open a lesson file of your own: drop a .md file here, or '),
    h('label', { for: ui.file.id, class: 'button quiet small' }, 'choose a file'),
    ui.file,
  );
  ui.file.classList.add('visually-hidden');
  ui.menu.append(
    h('p', {}, 'Guided exercises with the models of real V4 neurons. Your answers stay in this browser.'),
    ui.menuList,
    ui.error,
    ui.drop,
    h('p', { class: 'fineprint' }, 'Teachers: the format of a lesson file is in lessons/FORMAT.md of the project.'),
    ui.summaryOpen,
  );
  ui.player.append(
    h('div', { class: 'lesson-progress' }, ui.progress, ' ', ui.progressText),
    ui.stepTitle,
    ui.body,
    h('div', { class: 'lesson-nav' }, ui.back, ui.next),
    h('div', { class: 'lesson-tools' }, ui.reportOpen, ui.copy, ui.clear, ui.toMenu),
    ui.linkOut,
  );
  ui.panel.append(
    h('div', { class: 'lesson-head' }, ui.title, h('div', { class: 'lesson-head-buttons' }, ui.minimize, ui.close)),
    h('div', { id: 'lesson-panel-body', class: 'lesson-panel-body' }, ui.menu, ui.player, ui.notice),
  );
  ui.summaryFile.classList.add('visually-hidden');
  ui.report.append(
    h(
      'div',
      { class: 'lesson-overlay-bar' },
      h('label', { for: ui.student.id }, 'Your name (only in the report) '),
      ui.student,
      ui.reportPrint,
      ui.reportJson,
      ui.reportClose,
    ),
    ui.reportBody,
  );
  ui.summaryDrop.append(
    h('p', {}, 'Drop the students’ JSON reports here (several at once), or '),
    h('label', { for: ui.summaryFile.id, class: 'button quiet small' }, 'choose the files'),
    ui.summaryFile,
  );
  ui.summary.append(
    h('div', { class: 'lesson-overlay-bar' }, h('h2', {}, 'Class summary'), ui.summaryCsv, ui.summaryClose),
    h('p', { class: 'fineprint' }, 'The reports are read in this browser only; nothing is uploaded.'),
    ui.summaryDrop,
    ui.summaryStatus,
    ui.summaryError,
    ui.summaryTables,
  );
  root.append(ui.panel, ui.report, ui.summary);
  return ui;
}
