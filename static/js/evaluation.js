// "Did it get better?": after each training session, its test accuracy (with the change from
// before), the accuracy on the person's own labels and how many labels it trained on; plus
// test accuracy against the number of labels over this server's sessions.
import { plural } from "./plural.js";

const pct = (x) => (typeof x === "number" ? `${(x * 100).toFixed(1)} %` : "–");

/** One line for a session's evaluation (status.evaluations[i]). */
export function evaluationLine(e) {
  const change = typeof e.test_accuracy === "number" && typeof e.previous_test_accuracy === "number"
    ? ` (${e.test_accuracy >= e.previous_test_accuracy ? "+" : "−"}`
      + `${Math.abs((e.test_accuracy - e.previous_test_accuracy) * 100).toFixed(1)})`
    : "";
  const labels = typeof e.n_labeled === "number"
    ? `trained on ${plural(e.n_labeled, "label")}`
    : "labels used unknown";
  return `session ${e.session}: test ${pct(e.test_accuracy)}${change} · `
    + `your labels ${pct(e.labeled_accuracy)} · ${labels}`;
}

/** "labels → test accuracy" steps, oldest first: "20 → 61.0 %, 40 → 66.2 %". */
export function curveText(evaluations) {
  return evaluations
    .filter((e) => typeof e.test_accuracy === "number" && typeof e.n_labeled === "number")
    .map((e) => `${e.n_labeled} → ${pct(e.test_accuracy)}`)
    .join(", ");
}

export function createEvaluation({ line, curve }) {
  return {
    show(evaluations) {
      if (!Array.isArray(evaluations) || evaluations.length === 0) return;
      line.hidden = false;
      line.textContent = evaluationLine(evaluations[evaluations.length - 1]);
      const steps = curveText(evaluations);
      curve.hidden = !steps;
      curve.textContent = steps ? `test accuracy by labels: ${steps}` : "";
    },
  };
}
