// One question of a lesson step as a form (web/lessons/FORMAT.md): choice, number (a fixed number or a live value),
// predict-then-reveal, free text; a hint on request; feedback after a wrong answer, the explanation after the right
// one. The answer goes to the panel (env.answer), which keeps it in the store and the browser.
import { h } from '../dom.js';
import { formatLive } from './live.js';

const WRONG = 'Not quite: look again and try once more.';

// env: {store, live, answer(step, result), persist()}.
export class QuestionForm {
  constructor(q, stepNo, env) {
    Object.assign(this, { q, stepNo, env, pendingCheck: null });
    const idBase = `lesson-q${stepNo}`;
    this.form = h('form', { class: 'lesson-question', id: 'lesson-question', 'data-kind': q.kind, novalidate: true });
    this.fieldset = h('fieldset', {}, h('legend', {}, q.prompt));
    this.feedback = h('p', { id: 'lesson-feedback', class: 'lesson-feedback', role: 'status', 'aria-live': 'polite' });
    this.waiting = h('p', { id: 'lesson-waiting', class: 'fineprint', role: 'status', 'aria-live': 'polite' });
    this.reveal = h('div', { id: 'lesson-reveal', class: 'lesson-reveal', hidden: true });
    this.submit = h(
      'button',
      { type: 'submit', class: 'button primary', id: 'lesson-check' },
      q.kind === 'predict' ? 'Commit my guess' : q.kind === 'text' ? 'Save my answer' : 'Check',
    );
    const saved = this.saved();
    this.read = this.buildInputs(idBase, saved);
    const hint = this.buildHint();
    this.fieldset.append(h('div', { class: 'lesson-question-actions' }, this.submit, hint?.button));
    this.form.append(...[this.fieldset, hint?.text, this.feedback, this.waiting, this.reveal].filter(Boolean));
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.check();
    });
    this.showSaved(saved);
  }

  saved() {
    return this.env.store.get('lessonAnswers')[this.stepNo];
  }

  // The inputs of the question's kind, filled with a saved answer -> read(): the student's input (a choice's index,
  // a number, a text) or null.
  buildInputs(idBase, saved) {
    const { q, fieldset } = this;
    if (q.choices) {
      const labels = q.choices.map((c, i) => {
        const input = h('input', { type: 'radio', name: idBase, id: `${idBase}-c${i}`, value: String(i) });
        if (saved && saved.given === c.text) input.checked = true;
        return h('label', { class: 'lesson-choice', for: input.id }, input, ` ${c.text}`);
      });
      fieldset.append(...labels);
      return () => {
        const checked = fieldset.querySelector('input[type="radio"]:checked');
        return checked ? Number(checked.value) : null;
      };
    }
    if (q.kind === 'text') {
      const area = h('textarea', { id: `${idBase}-t`, rows: 4, class: 'lesson-text-answer', maxlength: 5000 });
      if (saved) area.value = saved.given;
      fieldset.append(h('label', { for: area.id }, 'Your answer'), area);
      return () => area.value.trim() || null;
    }
    const input = h('input', {
      type: 'number',
      step: 'any',
      id: `${idBase}-n`,
      inputmode: 'decimal',
      class: 'lesson-number',
    });
    if (saved) input.value = String(saved.given);
    const label = `${q.kind === 'predict' ? 'Your guess' : 'Your answer'}${q.unit ? ` (${q.unit})` : ''}`;
    fieldset.append(h('label', { for: input.id }, label), ' ', input);
    return () => (input.value.trim() === '' || !Number.isFinite(Number(input.value)) ? null : Number(input.value));
  }

  buildHint() {
    if (!this.q.hint) return null;
    const button = h(
      'button',
      { type: 'button', class: 'button quiet small', id: 'lesson-hint-button', 'aria-expanded': 'false' },
      'Show a hint',
    );
    const text = h('p', { class: 'lesson-hint', id: 'lesson-hint', hidden: true }, this.q.hint);
    button.addEventListener('click', () => {
      text.hidden = false;
      button.setAttribute('aria-expanded', 'true');
    });
    return { button, text };
  }

  say(kind, text, extra) {
    this.feedback.dataset.result = kind;
    this.feedback.replaceChildren(text, ...(extra ? [h('br'), extra] : []));
  }

  wrongText(given) {
    const { q } = this;
    return q.choices?.find((c) => c.text === given)?.feedback || q.feedback || WRONG;
  }

  showSaved(a) {
    if (!a) return;
    const { q } = this;
    if (q.kind === 'predict') {
      for (const el of this.fieldset.querySelectorAll('input')) el.disabled = true;
      this.submit.disabled = true;
      this.say('kept', 'Your guess is committed.');
      this.showReveal();
    } else if (q.kind === 'text') this.say('kept', 'Your answer is saved (not graded).');
    else if (a.correct) this.say('right', 'Right.', q.explain);
    else this.say('wrong', this.wrongText(a.given));
  }

  // A button that opens the view which computes a value the page is waiting for (e.g. "All neurons").
  openViewButton(v) {
    if (!v.openView) return '';
    const b = h('button', { type: 'button', class: 'button small' }, 'Open it');
    b.addEventListener('click', () => this.env.store.set({ view: v.openView }));
    return b;
  }

  // The predict reveal: the live value once the page has it (the store's changes call refresh() until then); the
  // value shown is kept with the answer for the report.
  showReveal() {
    const { q, reveal, env, stepNo } = this;
    reveal.hidden = false;
    const v = env.live.read(q.reveal);
    if (v.waiting) {
      reveal.dataset.value = '';
      reveal.replaceChildren(h('p', { class: 'fineprint' }, v.waiting), this.openViewButton(v));
      return;
    }
    reveal.dataset.value = String(v.value);
    const answers = env.store.get('lessonAnswers');
    if (answers[stepNo] && answers[stepNo].expected == null) {
      env.store.set({ lessonAnswers: { ...answers, [stepNo]: { ...answers[stepNo], expected: v.value } } });
      env.persist();
    }
    const shown = `${formatLive(q.reveal, v.value)}${q.unit ? ` ${q.unit}` : ''}`;
    reveal.replaceChildren(
      h('p', {}, 'The page computed: ', h('strong', { class: 'lesson-live-value' }, shown), ` (${q.reveal}).`),
      q.explain ? h('p', {}, q.explain) : '',
    );
  }

  // Called when a store key a live value depends on changes.
  refresh() {
    const { q } = this;
    if (q.kind === 'predict' && this.saved()) this.showReveal();
    if (this.pendingCheck) this.pendingCheck();
    else if (q.kind === 'number' && typeof q.answer === 'string') {
      const v = this.env.live.read(q.answer);
      this.waiting.replaceChildren(...(v.waiting ? [v.waiting, this.openViewButton(v)] : []));
      this.waiting.dataset.value = v.waiting ? '' : String(v.value);
    }
  }

  check() {
    const { q, env, stepNo } = this;
    const given = this.read();
    if (given === null) {
      const what = q.kind === 'text' ? 'Write your answer' : q.choices ? 'Choose an answer' : 'Type a number';
      this.say('empty', `${what} first.`);
      return;
    }
    if (q.kind === 'choice') {
      const c = q.choices[given];
      env.answer(stepNo, { kind: q.kind, given: c.text, correct: c.correct });
      if (c.correct) this.say('right', 'Right.', q.explain);
      else this.say('wrong', this.wrongText(c.text));
    } else if (q.kind === 'number') {
      this.pendingCheck = () => this.checkNumber(given);
      this.pendingCheck();
    } else if (q.kind === 'predict') {
      env.answer(stepNo, { kind: q.kind, given: q.choices ? q.choices[given].text : given, correct: null });
      this.showSaved(this.saved());
    } else if (given.length < q.minLength) {
      this.say('empty', `Write at least ${q.minLength} characters (you have ${given.length}).`);
    } else {
      env.answer(stepNo, { kind: q.kind, given, correct: null });
      this.say('kept', 'Your answer is saved (not graded).');
    }
  }

  // Graded against a fixed number or a live value; a live value the page has not computed yet is waited for.
  checkNumber(given) {
    const { q, env, stepNo } = this;
    const target = typeof q.answer === 'number' ? { value: q.answer } : env.live.read(q.answer);
    if (target.waiting) {
      this.say('waiting', target.waiting);
      return;
    }
    this.pendingCheck = null;
    const correct = Math.abs(given - target.value) <= q.tolerance;
    env.answer(stepNo, { kind: q.kind, given, correct, expected: target.value });
    if (correct) this.say('right', 'Right.', q.explain);
    else this.say('wrong', q.feedback || WRONG);
  }
}
