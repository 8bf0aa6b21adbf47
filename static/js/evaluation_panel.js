// The "Did it get better?" panel: the accuracy-vs-labels chart and the per-class dialog
// (`e`), wired to the server; app.js calls `showStatus` with every status and
// `pointsChanged` when new weights reach the page. Its Report link is a plain link to
// /report: the server brings the report up to date when the tab asks for it.
import { renderAccuracyChart } from "./accuracy_chart.js";
import { createConfusionDialog } from "./confusion.js";

/**
 * @param {object} deps  {api, $: (id) => Element}
 */
export function createEvaluationPanel({ api, $ }) {
  const dialog = createConfusionDialog({
    dialog: $("eval-dialog"), body: $("eval-dialog-body"), summary: $("eval-dialog-summary"),
    close: $("eval-dialog-close"), fetchEvaluation: api.evaluation,
  });
  $("eval-open").addEventListener("click", () => dialog.toggle());

  return {
    toggleDialog: () => dialog.toggle(),
    showStatus(status) {
      renderAccuracyChart($("eval-chart"), status.evaluations);
      $("eval-empty").hidden = !$("eval-chart").hasAttribute("hidden");
    },
    pointsChanged: () => dialog.refresh(),
  };
}
