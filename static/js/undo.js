// Undo / redo of label actions (single and batch). Every step is a real write through the
// labeler, so the CSV follows: undoing restores each sample's previous label (deleting the
// ones that had none), which leaves the file as it was before the action.
import { plural } from "./plural.js";

export const HISTORY_KEPT = 100;
export const HISTORY_SHOWN = 5;

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

/**
 * @param {object} opts
 * @param {(serials: number[], label: number|null) => Promise<{ok: boolean}>} opts.apply
 * @param {() => void} opts.onChange  the history changed (re-render)
 */
export function createHistory({ apply, onChange }) {
  const done = []; // newest last
  const undone = []; // newest last; cleared by a new action

  return {
    /** Remember an action made just now; `previous` maps serial -> label|null before it. */
    record(serials, label, previous, result) {
      const action = { serials: [...serials], label, previous: new Map(previous) };
      done.push(action);
      if (done.length > HISTORY_KEPT) done.shift();
      undone.length = 0;
      onChange();
      // A write the server refused changed nothing: nothing to undo.
      result?.then(({ ok }) => {
        const at = done.indexOf(action);
        if (!ok && at >= 0) {
          done.splice(at, 1);
          onChange();
        }
      });
    },
    async undo() {
      const action = done.pop();
      if (!action) return false;
      undone.push(action);
      onChange();
      const writes = groupByLabel(action.previous).map(([label, serials]) => apply(serials, label));
      return (await Promise.all(writes)).every((r) => r.ok);
    },
    async redo() {
      const action = undone.pop();
      if (!action) return false;
      done.push(action);
      onChange();
      return (await apply(action.serials, action.label)).ok;
    },
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
