// The "Did it get better?" panel: the accuracy-vs-labels chart, the per-class dialog (`e`)
// and the Report button, wired to the server. app.js calls `showStatus` with every status and
// `pointsChanged` when new weights reach the page.
import { renderAccuracyChart } from "./accuracy_chart.js";
import { createConfusionDialog } from "./confusion.js";
import { createReportButton } from "./report.js";

/**
 * @param {object} deps  {api, $: (id) => Element}
 */
export function createEvaluationPanel({ api, $ }) {
  const dialog = createConfusionDialog({
    dialog: $("eval-dialog"), body: $("eval-dialog-body"), summary: $("eval-dialog-summary"),
    close: $("eval-dialog-close"), fetchEvaluation: api.evaluation,
  });
  createReportButton({
    button: $("report-write"), note: $("report-note"), writeReport: api.writeReport,
    openTab: () => window.open("", "_blank"),
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
