// The evaluation dialog (key `e`): per-class accuracy and the confusion matrix on the test
// split, from GET /api/evaluation (the model the page shows; the server caches it per version).
// Rows are the true class, columns the prediction; each cell is shaded by its share of the row,
// the diagonal in blue and mistakes in red, so a weak class and what it is taken for stand out.

import { plural } from "./plural.js";

const pct = (x) => (typeof x === "number" ? `${(x * 100).toFixed(1)} %` : "–");

/** Each row's cells with their share of the row (0 for an empty row) and the row's total. */
export function confusionRows(matrix) {
  return matrix.map((counts, truth) => {
    const total = counts.reduce((a, b) => a + b, 0);
    return {
      truth,
      total,
      cells: counts.map((count, pred) => ({
        count, pred, share: total ? count / total : 0, diagonal: pred === truth,
      })),
    };
  });
}

/** Background for a cell: blue on the diagonal, red off it, as strong as its share. */
export function cellColor({ share, diagonal }) {
  const alpha = (0.12 + 0.78 * share).toFixed(3);
  if (share === 0) return "transparent";
  return diagonal ? `rgba(91, 143, 249, ${alpha})` : `rgba(240, 96, 77, ${alpha})`;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** The matrix and per-class columns as one table (`data-total`: the sum of its cells). */
export function confusionTable(answer) {
  const names = answer.class_names;
  const table = el("table", undefined, "confusion");
  const head = el("tr");
  head.append(el("th", "truth \\ prediction", "corner"));
  names.forEach((name, c) => {
    const th = el("th", String(c));
    th.title = name;
    head.append(th);
  });
  head.append(el("th", "n"), el("th", "accuracy"));
  table.append(head);
  let sum = 0;
  for (const row of confusionRows(answer.confusion)) {
    const tr = el("tr");
    tr.append(el("th", `${row.truth} ${names[row.truth]}`, "name"));
    for (const cell of row.cells) {
      sum += cell.count;
      const td = el("td", String(cell.count), cell.diagonal ? "diagonal" : "");
      td.style.background = cellColor(cell);
      td.title = `true ${names[row.truth]}, predicted ${names[cell.pred]}: `
        + `${cell.count} (${pct(cell.share)} of the row)`;
      tr.append(td);
    }
    const acc = answer.per_class[row.truth]?.accuracy;
    tr.append(el("td", String(row.total), "n"), el("td", pct(acc), "acc"));
    table.append(tr);
  }
  table.dataset.total = String(sum);
  return table;
}

/**
 * @param {object} deps  {dialog, body, summary, close, fetchEvaluation(): Promise}
 */
export function createConfusionDialog({ dialog, body, summary, close, fetchEvaluation }) {
  let request = 0;
  close.addEventListener("click", () => dialog.close());
  // The page's keys stay out of the dialog (keys.js); its own key closes it, like Esc.
  dialog.addEventListener("keydown", (event) => {
    if (event.key !== "e" || event.ctrlKey || event.metaKey || event.altKey) return;
    event.preventDefault();
    event.stopPropagation();
    dialog.close();
  });

  async function load() {
    const mine = ++request;
    summary.textContent = "computing on the test split…";
    body.replaceChildren();
    try {
      const answer = await fetchEvaluation();
      if (mine !== request) return;
      summary.textContent = `test split: ${answer.n.toLocaleString("en-US")} images · accuracy `
        + `${pct(answer.accuracy)} · ${plural(answer.epochs_trained, "epoch")} trained · latent v`
        + `${answer.latent_version}${answer.cached ? "" : ` · computed in ${answer.seconds} s`}`;
      body.replaceChildren(confusionTable(answer));
    } catch (error) {
      if (mine === request) summary.textContent = error.message;
    }
  }

  return {
    get open() {
      return dialog.open;
    },
    /** Opens the dialog (or closes it when open) and loads the current model's numbers. */
    toggle() {
      if (dialog.open) {
        dialog.close();
        return;
      }
      dialog.showModal();
      load();
    },
    /** New weights: an open dialog shows their numbers. */
    refresh() {
      if (dialog.open) load();
    },
  };
}
