// The hand-in overlay (the printable report, its JSON download) and the teacher's class summary overlay, wired to
// the panel's elements. The report is made from the student's own browser storage; nothing is sent anywhere.
import { downloadBlob, downloadCsv, dropTarget } from '../dom.js';
import { BUILD } from '../build.js';
import { loadProgress } from './storage.js';
import { buildReport, renderReport, readReport, classSummary, renderSummary, summaryCsvRows } from './report.js';

// panel: {store, catalog, ui, captureFigures(step), persist(extra)}.
export class HandIn {
  constructor(panel) {
    this.panel = panel;
    this.tables = []; // the class summary's tables
    this.wireReport(panel.ui);
    this.wireSummary(panel.ui);
  }

  wireReport(ui) {
    ui.reportOpen.addEventListener('click', () => this.openReport());
    ui.student.addEventListener('change', async () => {
      this.panel.persist({ student: ui.student.value.trim() });
      ui.reportBody.replaceChildren(renderReport(await this.report()));
    });
    ui.reportPrint.addEventListener('click', () => window.print());
    ui.reportJson.addEventListener('click', () => this.downloadJson());
    ui.reportClose.addEventListener('click', () => this.close(ui.report));
    ui.report.addEventListener('keydown', (e) => e.key === 'Escape' && this.close(ui.report));
  }

  wireSummary(ui) {
    ui.summaryOpen.addEventListener('click', () => {
      ui.summary.hidden = false;
      ui.summaryClose.focus();
    });
    ui.summaryClose.addEventListener('click', () => this.close(ui.summary));
    ui.summary.addEventListener('keydown', (e) => e.key === 'Escape' && this.close(ui.summary));
    ui.summaryFile.addEventListener('change', () => this.summarize([...ui.summaryFile.files]));
    dropTarget(ui.summaryDrop, (files) => this.summarize(files));
    ui.summaryCsv.addEventListener('click', () =>
      downloadCsv(
        'cortexlens-class-summary.csv',
        ['lesson', 'student', 'step', 'question', 'answer', 'result'],
        summaryCsvRows(this.tables),
      ),
    );
  }

  close(overlay) {
    overlay.hidden = true;
    document.documentElement.classList.remove('lesson-printing');
    this.panel.ui.panel.focus();
  }

  // The report of the open lesson as it stands (the figures of the step shown are taken now).
  async report() {
    const { store, catalog, ui } = this.panel;
    const lesson = store.get('lesson');
    const id = store.get('lessonId');
    this.panel.captureFigures(store.get('lessonStep'));
    const progress = {
      ...(loadProgress(id) || {}),
      answers: store.get('lessonAnswers'),
      student: ui.student.value.trim(),
    };
    // The models the lesson ran: those its actions chose and those the student answered with.
    const used = new Map();
    const note = (neuronId) => {
      const e = catalog.entry(neuronId);
      if (e && !used.has(e.id))
        used.set(e.id, { id: e.id, kind: e.kind, params: e.params ?? null, precision: store.get('precision') });
    };
    for (const s of lesson.steps) if (s.action?.patch.neuronId) note(s.action.patch.neuronId);
    for (const a of Object.values(progress.answers)) note(a.neuronId);
    return buildReport({
      lessonId: id,
      lesson,
      progress,
      build: { version: BUILD }, // the site's build (scripts/site/version.mjs)
      models: [...used.values()],
    });
  }

  async openReport() {
    const { store, ui } = this.panel;
    ui.student.value = loadProgress(store.get('lessonId'))?.student || ui.student.value;
    ui.reportBody.replaceChildren(renderReport(await this.report()));
    ui.report.hidden = false;
    document.documentElement.classList.add('lesson-printing'); // the print stylesheet shows the report alone
    ui.reportClose.focus();
  }

  async downloadJson() {
    const r = await this.report();
    downloadBlob(
      new Blob([JSON.stringify(r, null, 1)], { type: 'application/json' }),
      `${r.lesson.id}-${(r.student || 'report').replace(/[^\w-]+/g, '_')}.json`,
    );
  }

  async summarize(files) {
    const { ui } = this.panel;
    const reports = [];
    const problems = [];
    for (const file of files) {
      try {
        reports.push({ report: await readReport(file), name: file.name.replace(/\.json$/i, '') });
      } catch (e) {
        problems.push(e.message);
      }
    }
    this.tables = classSummary(reports);
    ui.summaryTables.replaceChildren(...renderSummary(this.tables));
    ui.summaryStatus.textContent = `${reports.length} report${reports.length === 1 ? '' : 's'} merged.`;
    ui.summaryError.hidden = !problems.length;
    ui.summaryError.textContent = problems.join(' ');
    ui.summaryCsv.disabled = !this.tables.length;
  }
}
