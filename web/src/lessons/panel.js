// The lesson panel, loaded on demand by player.js (markdown-it, YAML and DOMPurify stay out of the page's first
// load): a side panel (a bottom sheet on phones) beside the page, which stays fully usable. It opens lessons
// (sources.js), shows one step at a time, applies each step's action through the store, asks its question
// (question.js), keeps progress and answers in this browser (storage.js) and hands in a report (handin.js).
// State: `lessonId`, `lessonStep`, `lesson`, `lessonError`, `lessonAnswers` in the store (web/src/state.js).
import DOMPurify from 'dompurify';
import { h, dropTarget } from '../dom.js';
import { galleryImage } from '../services.js';
import { parseLesson, LessonError } from './parse.js';
import { createLive, LIVE_KEYS } from './live.js';
import { loadProgress, saveProgress, clearProgress, currentLesson, setCurrentLesson } from './storage.js';
import { LessonSources } from './sources.js';
import { QuestionForm } from './question.js';
import { HandIn } from './handin.js';
import { buildDom } from './panel-dom.js';

const FIGURES_PER_STEP = 4;
const FIGURE_WIDTH = 360; // px: figures are for a report, not for analysis; the localStorage quota is ~5 MB
const CANNOT_START =
  'This lesson uses the published models of the 219 neurons, and this site was built without them: it cannot start here. Open it on a site built with the published data.';

// Lesson text may link out (a click is the student's choice) but never loads anything from another origin.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'IMG' && /^([a-z]+:|\/\/)/i.test(node.getAttribute('src') || '')) node.remove();
  if (node.tagName === 'A' && /^([a-z]+:|\/\/)/i.test(node.getAttribute('href') || '')) {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});
const htmlOf = (html, attrs = {}) => {
  const el = h('div', attrs);
  // markdown-it's output (html: false), sanitized: the page's only innerHTML
  el.innerHTML = DOMPurify.sanitize(html, { FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea'] });
  return el;
};

// root: the lesson slot; launch: the "Lessons" button player.js made -> {update(changed), show()}.
export function mountPanel(root, app, launch) {
  const panel = new LessonPanel(root, app, launch);
  app.lessons = { live: panel.live, open: (id) => panel.openLesson(id) }; // for the tests and the curious
  return { show: () => panel.show(), update: (changed) => panel.update(changed) };
}

class LessonPanel {
  constructor(root, app, launch) {
    this.store = app.store;
    this.catalog = app.catalog;
    this.live = createLive(app);
    this.ui = buildDom(root, launch);
    this.sources = new LessonSources();
    this.loadTicket = null; // the newest openLesson call: an older one that finishes later is dropped
    this.openId = null; // the lessonId open or opening
    this.openedFromLink = true; // the first lesson of a visit came from the link: it opens at step 1, not the cover
    this.started = false;
    this.rendered = { lesson: null, step: -1 };
    this.question = null; // the step's QuestionForm: its live parts follow the store
    this.handIn = new HandIn(this);
    this.wireControls();
    this.wireFiles();
  }

  // The parse context: this site's views, models and gallery.
  context(name) {
    const { store, catalog } = this;
    const gallery = store.get('gallery');
    return {
      name,
      schema: store.schema,
      viewIds: new Set([...document.querySelectorAll('#view-tabs [role="tab"]')].map((t) => t.id.slice(4))),
      hasNeuron: (id) => Boolean(catalog.entry(id)) && !id.startsWith('own-'),
      hasImage: (key) => Boolean(galleryImage(gallery, key)),
      published: catalog.neurons().length > 0,
    };
  }

  async openLesson(id) {
    const { store, ui } = this;
    const fromLink = this.openedFromLink;
    this.openedFromLink = false;
    const ticket = {};
    this.loadTicket = ticket;
    this.openId = id;
    this.showPanel(true);
    try {
      const { bytes, name } = await this.sources.read(id);
      const lesson = parseLesson(bytes, this.context(name));
      if (this.loadTicket !== ticket) return;
      let progress = loadProgress(id);
      const changed = progress && progress.hash !== lesson.hash;
      if (changed) progress = null;
      const step = Math.min(progress?.step ?? (fromLink ? 1 : 0), lesson.steps.length + 1);
      store.set({
        lessonId: id,
        lesson,
        lessonError: null,
        lessonAnswers: progress?.answers || {},
        lessonStep: lesson.runnable ? step : 0,
      });
      setCurrentLesson(id);
      this.persist();
      ui.notice.textContent = changed ? 'This lesson has changed since you last opened it: it starts again.' : '';
      this.applyActions(store.get('lessonStep'));
    } catch (e) {
      if (this.loadTicket !== ticket) return;
      const message = e instanceof LessonError ? e.message : `The lesson could not be opened: ${e.message}`;
      if (currentLesson() === id) setCurrentLesson(null); // not reopened on the next visit
      this.openId = null;
      store.set({ lessonId: null, lesson: null, lessonError: { id, message } });
    }
  }

  closeLesson() {
    this.loadTicket = null;
    this.openId = null;
    setCurrentLesson(null);
    this.store.set({ lessonId: null, lesson: null, lessonStep: 0, lessonAnswers: {}, lessonError: null });
  }

  // The progress record of the open lesson, written after every change (a file lesson keeps its text, so that a
  // reload can reopen it).
  persist(extra = {}) {
    const { store } = this;
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
      ...(id.startsWith('file:') ? { source: this.sources.fileText(id) } : {}),
      ...extra,
    };
    if (!saveProgress(id, record))
      this.ui.notice.textContent = 'This browser keeps no data (storage is off): answers are lost on reload.';
  }

  // The state of step `step`: the actions of steps 1..step merged (a key a step does not name keeps the value an
  // earlier step gave it), so a student who comes back, goes back or wandered off sees what everyone sees.
  applyActions(step) {
    const { store } = this;
    const lesson = store.get('lesson');
    if (!lesson || step < 1) return;
    const merged = {};
    for (const s of lesson.steps.slice(0, Math.min(step, lesson.steps.length))) {
      const stepPatch = s.action?.patch || {};
      // A step that names an image without a crop shows it centred (FORMAT.md), whatever crop an earlier step chose.
      if ('image' in stepPatch && !('crop' in stepPatch)) merged.crop = null;
      Object.assign(merged, stepPatch);
    }
    const patch = {};
    for (const [key, value] of Object.entries(merged)) {
      const now = store.get(key);
      if (key === 'image') {
        if (now?.source === 'gallery' && now.key === value.key) continue;
      } else if (JSON.stringify(now) === JSON.stringify(value)) continue;
      patch[key] = value;
    }
    if (Object.keys(patch).length) store.set(patch);
  }

  goTo(step) {
    const { store } = this;
    const lesson = store.get('lesson');
    if (!lesson) return;
    const from = store.get('lessonStep');
    if (from >= 1 && from <= lesson.steps.length && step > from) this.captureFigures(from);
    store.set({ lessonStep: Math.max(0, Math.min(step, lesson.steps.length + 1)) });
    this.persist();
    this.applyActions(store.get('lessonStep'));
    this.ui.stepTitle.focus(); // a screen reader reads the new step from its title
  }

  // The visible canvases of the page (the image and the view shown), downscaled, as PNG, for the report.
  captureFigures(step) {
    const id = this.store.get('lessonId');
    const canvases = [...document.querySelectorAll('#slot-image canvas, #view-panels canvas')].filter(
      (c) => c.width > 0 && c.height > 0 && c.getClientRects().length && !c.closest('[hidden]') && !blank(c),
    );
    const figures = canvases.slice(0, FIGURES_PER_STEP).map((c) => {
      const scale = Math.min(1, FIGURE_WIDTH / c.width);
      const out = h('canvas', { width: Math.round(c.width * scale), height: Math.round(c.height * scale) });
      const g = out.getContext('2d');
      g.fillStyle = '#ffffff';
      g.fillRect(0, 0, out.width, out.height);
      g.drawImage(c, 0, 0, out.width, out.height);
      const name = c.getAttribute('aria-label') || (c.closest('#slot-image') ? 'The image and its crop' : c.id);
      return { name: name || 'figure', png: out.toDataURL('image/png') };
    });
    if (!figures.length || !id) return;
    const record = loadProgress(id) || {};
    saveProgress(id, { ...record, figures: { ...(record.figures || {}), [step]: figures } });
  }

  answer(step, result) {
    const { store } = this;
    const answers = { ...store.get('lessonAnswers') };
    answers[step] = {
      ...result,
      tries: (answers[step]?.tries || 0) + 1,
      at: new Date().toISOString(),
      neuronId: store.get('neuronId'),
      image: store.get('image')?.key ?? null,
    };
    store.set({ lessonAnswers: answers });
    this.persist();
    this.captureFigures(step);
  }

  clearAnswers() {
    const { store } = this;
    const id = store.get('lessonId');
    if (!id) return;
    clearProgress(id);
    store.set({ lessonAnswers: {}, lessonStep: store.get('lesson')?.runnable ? 1 : 0 });
    this.rendered = { lesson: null, step: -1 };
    this.persist();
    this.ui.notice.textContent = 'Your answers to this lesson are cleared from this browser.';
    this.render();
    this.applyActions(store.get('lessonStep'));
  }

  async copyLink() {
    const { ui } = this;
    const link = `${location.origin}${location.pathname}#${new URLSearchParams({ lesson: this.store.get('lessonId') })}`;
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
  }

  async openFile(file) {
    if (!file) return;
    try {
      await this.openLesson(await this.sources.remember(file));
    } catch (e) {
      this.store.set({ lessonError: { id: `file:${file.name.slice(0, 100)}`, message: e.message } });
    }
  }

  wireFiles() {
    const { ui } = this;
    ui.file.addEventListener('change', () => {
      this.openFile(ui.file.files[0]);
      ui.file.value = '';
    });
    dropTarget(ui.drop, (files) => this.openFile(files[0]));
  }

  wireControls() {
    const { ui, store } = this;
    ui.launch.addEventListener('click', () => {
      this.showPanel(ui.panel.hidden);
      if (!ui.panel.hidden) ui.panel.focus();
    });
    ui.close.addEventListener('click', () => {
      this.showPanel(false);
      ui.launch.focus();
    });
    ui.minimize.addEventListener('click', () => {
      const min = document.documentElement.classList.toggle('lesson-min');
      ui.minimize.setAttribute('aria-expanded', String(!min));
      ui.minimize.textContent = min ? 'Show' : 'Hide';
    });
    ui.back.addEventListener('click', () => this.goTo(store.get('lessonStep') - 1));
    ui.next.addEventListener('click', () => this.goTo(store.get('lessonStep') + 1));
    ui.toMenu.addEventListener('click', () => this.closeLesson());
    ui.copy.addEventListener('click', () => this.copyLink());
    ui.clear.addEventListener('click', () => this.clearAnswers());
  }

  // ---- rendering ----
  show() {
    this.showPanel(true);
    this.ui.panel.focus();
  }

  showPanel(open) {
    const { ui } = this;
    ui.panel.hidden = !open;
    ui.launch.setAttribute('aria-expanded', String(open));
    document.documentElement.classList.toggle('lesson-open', open);
    if (!open) document.documentElement.classList.remove('lesson-min');
  }

  async renderMenu() {
    const { ui } = this;
    const error = this.store.get('lessonError');
    ui.error.hidden = !error;
    ui.error.textContent = error ? error.message : '';
    const list = await this.sources.index();
    if (ui.menuList.dataset.filled) return;
    ui.menuList.dataset.filled = '1';
    if (!list.length) ui.menuList.append(h('li', { class: 'fineprint' }, 'This build has no built-in lessons.'));
    for (const entry of list) {
      const button = h(
        'button',
        { type: 'button', class: 'button quiet lesson-menu-item', 'data-lesson': entry.id },
        entry.id,
      );
      button.addEventListener('click', () => this.openLesson(entry.id));
      const li = h('li', {}, button);
      ui.menuList.append(li);
      // Titles come from the files themselves (index.json holds ids and files only).
      this.sources
        .read(entry.id)
        .then(({ bytes }) => {
          const lesson = parseLesson(bytes, this.context(entry.file));
          const about = h('span', { class: 'fineprint' }, ` · ${lesson.minutes} min · ${lesson.level}`);
          button.replaceChildren(h('strong', {}, lesson.title), about);
          if (loadProgress(entry.id)?.hash === lesson.hash) li.append(h('span', { class: 'fineprint' }, ' (started)'));
        })
        .catch((e) => li.append(h('span', { class: 'error' }, ` ${e.message}`)));
    }
  }

  render() {
    const { ui, store } = this;
    const lesson = store.get('lesson');
    const step = store.get('lessonStep');
    ui.menu.hidden = Boolean(lesson);
    ui.player.hidden = !lesson;
    ui.title.textContent = lesson ? lesson.title : 'Lessons';
    if (!lesson) {
      this.renderMenu();
      this.rendered = { lesson: null, step: -1 };
      return;
    }
    if (this.rendered.lesson === lesson && this.rendered.step === step) return;
    this.rendered = { lesson, step };
    const n = lesson.steps.length;
    ui.progress.max = n;
    ui.progress.value = Math.min(step, n);
    ui.progressText.textContent =
      step === 0 ? `${n} steps` : step > n ? `Finished (${n} steps)` : `Step ${step} of ${n}`;
    ui.back.disabled = step === 0;
    ui.next.disabled = step > n || (step === 0 && !lesson.runnable);
    ui.next.textContent = step === 0 ? 'Start' : step === n ? 'Finish' : 'Next';
    ui.copy.disabled = store.get('lessonId').startsWith('file:');
    ui.copy.title = ui.copy.disabled ? 'A lesson opened from a file has no link: put the file on the site.' : '';
    this.question = null;
    if (step === 0) this.renderCover(lesson);
    else if (step > n) this.renderEnd(lesson);
    else this.renderStep(lesson, step);
  }

  renderCover(lesson) {
    const { ui } = this;
    ui.stepTitle.textContent = lesson.title;
    const about = `${lesson.level} · about ${lesson.minutes} minutes · ${lesson.steps.length} steps`;
    const parts = [
      h('p', { class: 'fineprint' }, about),
      h('h4', {}, 'You will learn'),
      h('ul', {}, ...lesson.goals.map((g) => h('li', {}, g))),
      htmlOf(lesson.introHtml),
    ];
    if (!lesson.runnable)
      parts.push(h('p', { class: 'error', id: 'lesson-cannot-start', role: 'alert' }, CANNOT_START));
    const saved = loadProgress(this.store.get('lessonId'));
    if (lesson.runnable && saved?.hash === lesson.hash && saved.step > 0) {
      const resume = h(
        'button',
        { type: 'button', class: 'button', id: 'lesson-resume' },
        `Continue at step ${saved.step}`,
      );
      resume.addEventListener('click', () => this.goTo(saved.step));
      parts.push(resume);
    }
    ui.body.replaceChildren(...parts);
  }

  renderEnd(lesson) {
    const answers = this.store.get('lessonAnswers');
    const asked = lesson.steps.map((s, i) => (s.question ? i + 1 : 0)).filter(Boolean);
    const right = asked.filter((s) => answers[s]?.correct === true).length;
    const graded = asked.filter((s) => ['choice', 'number'].includes(lesson.steps[s - 1].question.kind)).length;
    const answered = asked.filter((s) => answers[s]).length;
    this.ui.stepTitle.textContent = 'Lesson finished';
    this.ui.body.replaceChildren(
      h(
        'p',
        {},
        `You answered ${answered} of ${asked.length} questions; ${right} of ${graded} graded answers are right.`,
      ),
      h(
        'p',
        {},
        'Hand in your report: “Hand in” makes a printable page and a JSON file for your teacher. Nothing leaves this computer unless you send the file.',
      ),
    );
  }

  renderStep(lesson, stepNo) {
    const step = lesson.steps[stepNo - 1];
    const parts = [htmlOf(step.html, { class: 'lesson-text' })];
    if (step.action) {
      const what = Object.entries(step.action.params)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      parts.push(
        h(
          'p',
          { class: 'fineprint lesson-action-note' },
          `This step set the page: ${what}. You can change anything; “Back” and “Next” set it again.`,
        ),
      );
    }
    if (step.question) {
      this.question = new QuestionForm(step.question, stepNo, {
        store: this.store,
        live: this.live,
        answer: (s, result) => this.answer(s, result),
        persist: () => this.persist(),
      });
      parts.push(this.question.form);
    }
    this.ui.stepTitle.textContent = step.title;
    this.ui.body.replaceChildren(...parts);
    this.question?.refresh();
  }

  update(changed) {
    const { store } = this;
    if (!store.get('manifest')) return; // the page is still starting: a lesson is checked against its models
    if (!this.started) {
      this.started = true;
      // The link's keys reach the store right after the manifest (services.js): look once they are in.
      setTimeout(() => {
        const fromLink = store.get('lessonId');
        this.openedFromLink = Boolean(fromLink);
        const id = fromLink || currentLesson();
        if (id) this.openLesson(id);
      });
      return;
    }
    const id = store.get('lessonId');
    // A link edited by hand while the page is open names another lesson.
    if (changed.has('lessonId') && id && id !== this.openId) this.openLesson(id);
    if (['lesson', 'lessonStep', 'lessonError', 'lessonId'].some((k) => changed.has(k))) this.render();
    else if (LIVE_KEYS.some((k) => changed.has(k))) this.question?.refresh();
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
