// The lesson panel's elements (web/src/lessons/panel.js wires them): the side panel / bottom sheet with the menu
// and the player, and the two full-page overlays (the printable report, the class summary).
import { h } from '../dom.js';

// root: the lesson slot; launch: the "Lessons" button -> ui, every element by name.
export function buildDom(root, launch) {
  const ui = { launch, ...panelElements(), ...overlayElements() };
  assemblePanel(ui);
  assembleOverlays(ui);
  root.append(ui.panel, ui.report, ui.summary);
  return ui;
}

function panelElements() {
  return {
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
  };
}

function overlayElements() {
  return {
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
}

function assemblePanel(ui) {
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
}

function assembleOverlays(ui) {
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
}
