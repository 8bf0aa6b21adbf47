// Undo / redo of label actions (single and batch). Every step is a real write through the
// labeler, so the CSV follows: undoing restores each sample's previous label (deleting the
// ones that had none), which leaves the file as it was before the action.
// A sample whose label was changed since by someone else (the shell, another tab, the file)
// keeps that newer label: undo restores only samples that still carry the action's label,
// redo only those that still carry the label from before it, and the page says what it left.
// The history is kept in the browser's storage for the labels file (journal.js), so a reload
// or a server restart keeps it; tabs on the same labels file share it. It is written a moment
// after a change, off the key press (a history of big batches is a megabyte of text), and at
// once when the page goes.
import { plural } from "./plural.js";

export const HISTORY_KEPT = 100;
export const HISTORY_SHOWN = 5;
// Stored history beyond this many characters loses its oldest actions (a 60,000-point lasso
// is about 1 MB; the browser gives an address about 5 M characters in all).
export const HISTORY_MAX_CHARS = 2_000_000;
export const PERSIST_AFTER_MS = 300;

/** [[label|null, serials[]], ...]: one write per distinct previous label. */
export function groupByLabel(previous) {
  const groups = new Map();
  for (const [serial, label] of previous) {
    const key = label === null || label === undefined ? "none" : String(label);
    if (!groups.has(key)) groups.set(key, { label: key === "none" ? null : label, serials: [] });
    groups.get(key).serials.push(serial);
  }
  return [...groups.values()].map(({ label, serials }) => [label, serials]);
}

/** "#123 → 3 Sneaker", "12 samples → unlabeled". */
export function describeAction(action, classNames) {
  const what = action.serials.length === 1 ? `#${action.serials[0]}` : plural(action.serials.length, "sample");
  const to = action.label === null ? "unlabeled" : `${action.label} ${classNames[action.label] ?? ""}`.trim();
  return `${what} → ${to}`;
}

// An action's stored text, made once (actions never change).
const texts = new WeakMap();
function actionText(action) {
  let text = texts.get(action);
  if (text === undefined) {
    text = JSON.stringify({ serials: action.serials, label: action.label,
      previous: [...action.previous] });
    texts.set(action, text);
  }
  return text;
}
const fromJson = (item) => ({ serials: item.serials, label: item.label,
  previous: new Map(item.previous) });

function validAction(item) {
  return item && Array.isArray(item.serials) && Array.isArray(item.previous)
    && (item.label === null || Number.isInteger(item.label));
}

/**
 * The stored text of a history (`{"done": [...], "undone": [...]}`), its oldest actions
 * dropped until it fits `maxChars`.
 */
export function storedHistory(done, undone, maxChars = HISTORY_MAX_CHARS) {
  const kept = [done.map(actionText), undone.map(actionText)];
  let size = 24 + kept.flat().reduce((n, text) => n + text.length + 1, 0);
  for (const list of kept) {
    while (size > maxChars && list.length) size -= list.shift().length + 1;
  }
  return `{"done":[${kept[0].join(",")}],"undone":[${kept[1].join(",")}]}`;
}

/**
 * @param {object} opts
 * @param {(serials: number[], label: number|null) => Promise<{ok: boolean}>} opts.apply
 * @param {(serial: number) => number|null} [opts.current]  the label a sample has now
 * @param {() => void} opts.onChange  the history changed (re-render)
 * @param {(message: string) => void} [opts.onNote]  what an undo or redo left alone
 * @param {{load(): object|null, save(text: string): void}} [opts.store]
 */
export function createHistory({ apply, current = () => undefined, onChange, onNote = () => {},
  store = null }) {
  const done = []; // newest last
  const undone = []; // newest last; cleared by a new action
  let timer = null;

  function flush() {
    clearTimeout(timer);
    timer = null;
    store?.save(storedHistory(done, undone));
  }

  function persist() {
    if (store && timer === null) timer = setTimeout(flush, PERSIST_AFTER_MS);
  }

  function adopt(data) {
    done.length = 0;
    undone.length = 0;
    if (!data) return;
    for (const item of data.done ?? []) if (validAction(item)) done.push(fromJson(item));
    for (const item of data.undone ?? []) if (validAction(item)) undone.push(fromJson(item));
  }

  /** Writes `to(serial)` where `current(serial)` is still `from(serial)`; says what it left. */
  async function rewrite(action, from, to, verb) {
    const targets = new Map();
    const left = [];
    for (const serial of action.serials) {
      const now = current(serial);
      if (now !== undefined && now !== from(serial)) left.push(serial);
      else targets.set(serial, to(serial));
    }
    if (left.length) {
      const which = left.slice(0, 5).map((s) => `#${s}`).join(", ") + (left.length > 5 ? ", …" : "");
      onNote(`${verb} left ${plural(left.length, "label")} as ${left.length === 1 ? "it is" : "they are"}:`
        + ` changed since by someone else (${which}).`);
    }
    const writes = groupByLabel(targets).map(([label, serials]) => apply(serials, label));
    return (await Promise.all(writes)).every((r) => r.ok);
  }

  adopt(store?.load() ?? null);

  return {
    /** Remember an action made just now; `previous` maps serial -> label|null before it. */
    record(serials, label, previous, result) {
      const action = { serials: [...serials], label, previous: new Map(previous) };
      done.push(action);
      if (done.length > HISTORY_KEPT) done.shift();
      undone.length = 0;
      persist();
      onChange();
      // A write the server refused changed nothing: nothing to undo.
      result?.then(({ ok }) => {
        const at = done.indexOf(action);
        if (!ok && at >= 0) {
          done.splice(at, 1);
          persist();
          onChange();
        }
      });
    },
    async undo() {
      const action = done.pop();
      if (!action) return false;
      undone.push(action);
      persist();
      onChange();
      return rewrite(action, () => action.label, (serial) => action.previous.get(serial), "Undo");
    },
    async redo() {
      const action = undone.pop();
      if (!action) return false;
      done.push(action);
      persist();
      onChange();
      return rewrite(action, (serial) => action.previous.get(serial) ?? null, () => action.label,
        "Redo");
    },
    /** Another tab saved the shared history: show its version. */
    reload() {
      clearTimeout(timer);
      timer = null;
      adopt(store?.load() ?? null);
      onChange();
    },
    /** Writes the history now (the page is going away). */
    flush,
    /** The most recent actions, newest first: [{action, undone}]. */
    recent(limit = HISTORY_SHOWN) {
      const rows = [...undone.map((action) => ({ action, undone: true }))];
      for (let i = done.length - 1; i >= 0; i--) rows.push({ action: done[i], undone: false });
      return rows.slice(0, limit);
    },
    get canUndo() {
      return done.length > 0;
    },
    get canRedo() {
      return undone.length > 0;
    },
  };
}
