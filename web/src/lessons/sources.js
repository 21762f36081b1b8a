// Where a lesson's text comes from, by its lessonId: a built-in lesson of lessons/index.json, 'url:<path>' a file on
// this site (a teacher's folder on the same origin), 'file:<name>' a file the user opened (kept for the reload).
import { LessonError } from './parse.js';
import { loadProgress } from './storage.js';

export const MAX_FILE_BYTES = 300 * 1024; // refused before reading; parse.js holds the text itself to 256 KB

export class LessonSources {
  constructor() {
    this.files = new Map(); // 'file:<name>' -> text of a file opened this visit
    this.list = null; // Promise of lessons/index.json's entries
  }

  // [{id, file}] of lessons/index.json (menu order); none when the build has no built-in lessons.
  index() {
    this.list ??= fetch('lessons/index.json')
      .then((r) => (r.ok ? r.json() : []))
      .then((list) =>
        Array.isArray(list)
          ? list.filter((e) => /^[a-z0-9-]{1,60}$/.test(e?.id) && /^[\w.-]{1,80}\.md$/.test(e?.file))
          : [],
      )
      .catch(() => []);
    return this.list;
  }

  // A file the user chose or dropped -> its lessonId, its text remembered; a file too big or not UTF-8 text is
  // refused with a LessonError.
  async remember(file) {
    const id = `file:${file.name.slice(0, 100)}`;
    if (file.size > MAX_FILE_BYTES)
      throw new LessonError(
        null,
        `${file.name} is ${Math.round(file.size / 1024)} KB: a lesson is at most 256 KB of text.`,
      );
    try {
      this.files.set(id, new TextDecoder('utf-8', { fatal: true }).decode(await file.arrayBuffer()));
    } catch {
      throw new LessonError(
        null,
        `${file.name} is not UTF-8 text, so it is not a lesson: expected a Markdown (.md) file.`,
      );
    }
    return id;
  }

  // The text of a file lesson (this visit's, or the one kept with its progress), or undefined.
  fileText(id) {
    return this.files.get(id) ?? loadProgress(id)?.source;
  }

  // lessonId -> {bytes: ArrayBuffer | string, name}
  async read(id) {
    if (id.startsWith('file:')) {
      const text = this.fileText(id);
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
    const entry = (await this.index()).find((e) => e.id === id);
    if (!entry) throw new LessonError(null, `There is no built-in lesson "${id}": choose one from the lesson menu.`);
    return { bytes: await fetchBytes(`lessons/${entry.file}`, `The lesson ${id}`), name: entry.file };
  }
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
