// A student's progress in each lesson, kept in this browser's localStorage only (nothing is ever sent anywhere):
//   cortexlens.lesson.<lessonId> = {hash, step, answers, figures, student, source?}
//     hash: the lesson file's version (progress of another version is not resumed), step: the step shown,
//     answers: {[step]: answer}, figures: {[step]: [{name, png}]}, student: the name typed for the report,
//     source: the text of a lesson the user opened from a file (so a reload can reopen it)
//   cortexlens.lesson.current = the lessonId open when the page was left (reopened on the next visit)
const PREFIX = 'cortexlens.lesson.';
const CURRENT = `${PREFIX}current`;

function storage() {
  try {
    return window.localStorage; // null or throwing where the user has switched storage off
  } catch {
    return null;
  }
}

export function loadProgress(lessonId) {
  try {
    const record = JSON.parse(storage()?.getItem(PREFIX + lessonId) || 'null');
    return record && typeof record === 'object' ? record : null;
  } catch {
    return null;
  }
}

// -> true when saved; false when the browser refused (storage off or full: figures are dropped first and the save
// retried, answers matter more than pictures of them).
export function saveProgress(lessonId, record) {
  const store = storage();
  if (!store) return false;
  try {
    store.setItem(PREFIX + lessonId, JSON.stringify(record));
    return true;
  } catch {
    try {
      store.setItem(PREFIX + lessonId, JSON.stringify({ ...record, figures: {}, figuresDropped: true }));
      return true;
    } catch {
      return false;
    }
  }
}

export function clearProgress(lessonId) {
  storage()?.removeItem(PREFIX + lessonId);
}

export function currentLesson() {
  return storage()?.getItem(CURRENT) || null;
}
export function setCurrentLesson(lessonId) {
  const store = storage();
  if (!store) return;
  if (lessonId) store.setItem(CURRENT, lessonId);
  else store.removeItem(CURRENT);
}
