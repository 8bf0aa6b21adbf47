// The accuracy-vs-labels chart's geometry and the confusion table's rows
// (static/js/accuracy_chart.js, confusion.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { accuracyRange, chartGeometry } from "../../static/js/accuracy_chart.js";
import { cellColor, confusionRows } from "../../static/js/confusion.js";

test("the accuracy range is whole tenths around the data, at least a tenth wide", () => {
  assert.deepEqual(accuracyRange([0.61, 0.78]), [0.6, 0.8]);
  assert.deepEqual(accuracyRange([0.95, null]), [0.9, 1]);
  assert.deepEqual(accuracyRange([0.5]), [0.4, 0.5]);
  assert.deepEqual(accuracyRange([]), [0, 1]);
});

test("more labels go right and better accuracy goes up; unevaluated sessions are left out", () => {
  const evaluations = [
    { session: 1, n_labeled: 20, test_accuracy: 0.6, labeled_accuracy: 0.9 },
    { session: 2, n_labeled: 40, test_accuracy: 0.7, labeled_accuracy: null },
    { session: 3, n_labeled: null, test_accuracy: 0.8, labeled_accuracy: 0.8 },
  ];
  const g = chartGeometry(evaluations, { width: 240, height: 120 });
  assert.equal(g.test.length, 2);
  assert.equal(g.labeled.length, 1);
  assert.ok(g.test[1].x > g.test[0].x && g.test[1].y < g.test[0].y);
  assert.equal(g.test[0].x, g.box.left);
  assert.equal(g.test[1].x, g.box.right);
  for (const p of [...g.test, ...g.labeled]) assert.ok(p.y >= g.box.top && p.y <= g.box.bottom);
  const one = chartGeometry([evaluations[0]], { width: 240, height: 120 });
  assert.equal(one.test[0].x, (one.box.left + one.box.right) / 2); // one x: in the middle
});

test("confusion rows carry each cell's share of its row", () => {
  const rows = confusionRows([[3, 1], [0, 0]]);
  assert.equal(rows[0].total, 4);
  assert.deepEqual(rows[0].cells.map((c) => c.share), [0.75, 0.25]);
  assert.ok(rows[0].cells[0].diagonal && !rows[0].cells[1].diagonal);
  assert.deepEqual(rows[1].cells.map((c) => c.share), [0, 0]); // an empty row: no division
  assert.equal(cellColor(rows[1].cells[0]), "transparent");
  assert.match(cellColor(rows[0].cells[0]), /^rgba\(91, 143, 249/); // right: blue
  assert.match(cellColor(rows[0].cells[1]), /^rgba\(240, 96, 77/); // mistaken: red
});
