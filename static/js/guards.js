// Guards on the big label actions: what a batch is made of (by predicted class), when a batch
// label needs a second key, and when the label set as a whole has become lopsided. Pure
// rules here; the batch panel and app.js show them. The API itself has no such guard: scripts
// may label in bulk.
import { plural } from "./plural.js";

// A batch label of more than this many samples asks for Enter first.
export const CONFIRM_OVER = 50;
// ...and so does one where more than this share of the batch is predicted another class.
export const DISAGREE_SHARE = 0.5;
// The label set is lopsided once one class holds more than LOPSIDED_SHARE of at least
// LOPSIDED_MIN labels (a classifier trained on it mostly learns to say that class).
export const LOPSIDED_MIN = 40;
export const LOPSIDED_SHARE = 0.5;

/** [{cls, count}] of `serials` by predicted class (`pred`: Int8Array), largest first. */
export function makeup(serials, pred) {
  const counts = new Map();
  for (const serial of serials) {
    const cls = pred[serial];
    counts.set(cls, (counts.get(cls) ?? 0) + 1);
  }
  return [...counts].map(([cls, count]) => ({ cls, count }))
    .sort((a, b) => b.count - a.count || a.cls - b.cls);
}

/** "3 Dress", or "3" where the class is named by its digit (MNIST). */
export function classText(label, classNames) {
  const name = classNames[label];
  return name === undefined || name === String(label) ? String(label) : `${label} ${name}`;
}

/** "predicted: Dress 812 · Coat 30 · other 15" (MNIST: "7: 420 · 5: 180"). */
export function makeupText(parts, classNames, shown = 3) {
  const head = parts.slice(0, shown).map(({ cls, count }) =>
    `${classNames[cls] ?? cls}: ${count.toLocaleString("en-US")}`);
  const rest = parts.slice(shown).reduce((n, p) => n + p.count, 0);
  if (rest) head.push(`other: ${rest.toLocaleString("en-US")}`);
  return `predicted: ${head.join(" · ")}`;
}

/**
 * Why labeling `serials` as `label` (null: deleting) in one key needs a confirmation, or null.
 * `trained`: whether the predictions mean anything yet (an untrained model's do not).
 */
export function confirmationReason(serials, label, pred, { trained, classNames }) {
  const n = serials.length;
  const reasons = [];
  if (n > CONFIRM_OVER) reasons.push(`that is ${plural(n, "sample")}`);
  if (trained && label !== null) {
    let agree = 0;
    for (const serial of serials) if (pred[serial] === label) agree++;
    if (n - agree > n * DISAGREE_SHARE) {
      const name = classNames[label] ?? label;
      reasons.push(`only ${agree.toLocaleString("en-US")} of them ${agree === 1 ? "is" : "are"}`
        + ` predicted ${name}`);
    }
  }
  return reasons.length ? reasons.join(", and ") : null;
}

/** The question shown before a guarded batch label. */
export function confirmationText(n, label, reason, classNames) {
  const what = label === null ? "Remove the labels of" : "Label";
  const to = label === null ? "" : ` as ${classText(label, classNames)}`;
  return `${what} all ${plural(n, "sample")}${to}? ${reason[0].toUpperCase()}${reason.slice(1)}.`;
}

/** {cls, count, labeled, share} when one class dominates `stats` (the API's), else null. */
export function lopsided(stats) {
  const labeled = stats?.labeled ?? 0;
  const perClass = stats?.per_class ?? [];
  if (labeled < LOPSIDED_MIN || !perClass.length) return null;
  const count = Math.max(...perClass);
  if (count <= labeled * LOPSIDED_SHARE) return null;
  return { cls: perClass.indexOf(count), count, labeled, share: count / labeled };
}

/** The one-time note about a lopsided label set. */
export function lopsidedText({ cls, count, labeled, share }, classNames) {
  const name = classNames[cls] ?? cls;
  return `${count.toLocaleString("en-US")} of your ${plural(labeled, "label")}`
    + ` (${Math.round(share * 100)} %) are ${classText(cls, classNames)}: a model trained on`
    + ` them mostly learns to answer ${name}. Label other classes too (the queue picks across`
    + " all of them).";
}

/**
 * Points a lopsided label set out once per dominant class and labels file (`seen`: a Set-like
 * {has, add} that outlives the page); it may be said again after the set was balanced.
 */
export function createBalanceWatch({ seen, classNames, onWarn }) {
  return {
    check(stats) {
      const found = lopsided(stats);
      if (!found) {
        if ((stats?.labeled ?? 0) >= LOPSIDED_MIN) seen.clear();
        return;
      }
      if (seen.has(found.cls)) return;
      seen.add(found.cls);
      onWarn(lopsidedText(found, classNames));
    },
  };
}
