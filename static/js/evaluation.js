// "Did it get better?" in words: a session's test accuracy with the change from the session
// before (a drop reads as a drop), how honest its certainty is, its blind accuracy (the labels given since the model was
// last saved, as the model predicted them before training on them: the one measure that
// needs no test labels) and how many labels it trained on; plus the accuracy-vs-labels steps.
import { plural } from "./plural.js";

export const pct = (x) => (typeof x === "number" ? `${(x * 100).toFixed(1)} %` : "–");

/** The change in test accuracy, in points: {text: "+3.1" | "−1.7" | "±0.0", direction}. */
export function testChange(e) {
  if (typeof e.test_accuracy !== "number" || typeof e.previous_test_accuracy !== "number") {
    return null;
  }
  const points = (e.test_accuracy - e.previous_test_accuracy) * 100;
  const text = Math.abs(points).toFixed(1);
  if (text === "0.0") return { text: "±0.0", direction: "same" };
  return points > 0
    ? { text: `+${text}`, direction: "up" }
    : { text: `−${text}`, direction: "down" };
}

/** "blind 70.0 % on 20 new labels", or why there is none. */
export function blindText(e) {
  if (typeof e.blind_n === "number" && e.blind_n > 0 && typeof e.blind_accuracy === "number") {
    return `blind ${pct(e.blind_accuracy)} on ${plural(e.blind_n, "new label")}`;
  }
  // No label the weights had not trained on, or no weights before (a first session).
  if (e.blind_n === 0) return "blind – (none to check)";
  return "blind –";
}

/** "calibration error 1.7 %": how far the certainty the page colours by and the queue ranks by
 * is from the test split's hit rate (the same figure `alctl train` prints); "" without one. */
export function calibrationText(e) {
  return typeof e.test_ece === "number" ? ` · calibration error ${pct(e.test_ece)}` : "";
}

/** A session's line in three parts, so the change can be coloured: [head, change, tail]. */
export function evaluationParts(e) {
  const labels = typeof e.n_labeled === "number"
    ? `trained on ${plural(e.n_labeled, "label")}`
    : "labels used unknown";
  return [`session ${e.session}: test ${pct(e.test_accuracy)}`, testChange(e),
    `${calibrationText(e)} · ${blindText(e)} · ${labels}`];
}

/** One line for a session's evaluation (status.evaluations[i]). */
export function evaluationLine(e) {
  const [head, change, tail] = evaluationParts(e);
  return `${head}${change ? ` (${change.text})` : ""}${tail}`;
}

/** "labels → test accuracy" steps, oldest first: "20 → 61.0 %, 40 → 66.2 %". */
export function curveText(evaluations) {
  return evaluations
    .filter((e) => typeof e.test_accuracy === "number" && typeof e.n_labeled === "number")
    .map((e) => `${e.n_labeled} → ${pct(e.test_accuracy)}`)
    .join(", ");
}
