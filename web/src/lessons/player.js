// The lesson player's place in the page (slot "lesson" of index.html): a "Lessons" button, and the panel of
// panel.js loaded when it is first needed (the button, a lesson link, a lesson left open on the last visit), so the
// Markdown, YAML and HTML-sanitizer libraries are not part of every visit's first load.
import { h } from '../dom.js';
import { LIVE_KEYS } from './live.js';
import { currentLesson } from './storage.js';

const KEYS = ['lessonId', 'lessonStep', 'lesson', 'lessonError', 'lessonAnswers', 'manifest', ...LIVE_KEYS];

export default {
  id: 'lesson',
  slot: 'lesson',
  keys: KEYS,
  mount(root, app) {
    const launch = h(
      'button',
      {
        type: 'button',
        id: 'lesson-launch',
        class: 'button primary lesson-launch',
        'aria-controls': 'lesson-panel',
        'aria-expanded': 'false',
      },
      'Lessons',
    );
    root.append(launch);
    let panel = null;
    let loading = null;
    const load = () => {
      loading ??= import('./panel.js').then((m) => {
        panel = m.mountPanel(root, app, launch);
        panel.update(new Set(KEYS));
        return panel;
      });
      return loading;
    };
    launch.addEventListener('click', () => {
      if (!loading) load().then((p) => p.show());
    });
    return {
      update(changed) {
        if (panel) panel.update(changed);
        else if (!loading && app.store.get('manifest') && (app.store.get('lessonId') || currentLesson())) load();
      },
    };
  },
};
