// The accuracy-vs-labels chart's geometry and the confusion table's rows
// (static/js/accuracy_chart.js, confusion.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  accuracyRange, chartGeometry, labelsAxis, tickText,
} from "../../static/js/accuracy_chart.js";
import { cellColor, confusionRows } from "../../static/js/confusion.js";

test("the accuracy range is whole tenths around the data, at least a tenth wide", () => {
  assert.deepEqual(accuracyRange([0.61, 0.78]), [0.6, 0.8]);
  assert.deepEqual(accuracyRange([0.95, null]), [0.9, 1]);
  assert.deepEqual(accuracyRange([0.5]), [0.4, 0.5]);
  assert.deepEqual(accuracyRange([]), [0, 1]);
});

test("more labels go right and better accuracy goes up; unevaluated sessions are left out", () => {
  const evaluations = [
    { session: 1, n_labeled: 20, test_accuracy: 0.6, blind_accuracy: 0.5, blind_n: 20 },
    { session: 2, n_labeled: 50, test_accuracy: 0.7, blind_accuracy: null, blind_n: 0 },
    { session: 3, n_labeled: null, test_accuracy: 0.8, blind_accuracy: 0.8, blind_n: 5 },
  ];
  const g = chartGeometry(evaluations, { width: 240, height: 120 });
  assert.equal(g.test.length, 2);
  assert.equal(g.blind.length, 1, "dashed: blind accuracy (your-label accuracy is not drawn)");
  assert.ok(g.test[1].x > g.test[0].x && g.test[1].y < g.test[0].y);
  assert.equal(g.test[0].x, g.box.left);
  assert.equal(g.test[1].x, g.box.right);
  for (const p of [...g.test, ...g.blind]) assert.ok(p.y >= g.box.top && p.y <= g.box.bottom);
  const one = chartGeometry([evaluations[0]], { width: 240, height: 120 });
  assert.ok(one.test[0].x >= one.box.left && one.test[0].x < one.box.right);
});

test("the labels axis is logarithmic: 20 to 60,000 reads, with a tick at 100", () => {
  const wide = labelsAxis(20, 60_000);
  assert.deepEqual(wide.ticks.map(tickText), ["20", "100", "1k", "10k", "100k"]);
  assert.deepEqual(labelsAxis(20, 100).ticks, [20, 50, 100]);
  assert.deepEqual(labelsAxis(30, 30).domain, [20, 50], "one session: the 1-2-5 step around it");
  const g = chartGeometry([{ session: 1, n_labeled: 50, test_accuracy: 0.5 },
    { session: 2, n_labeled: 100, test_accuracy: 0.6 },
    { session: 3, n_labeled: 60_000, test_accuracy: 0.9 }], { width: 240, height: 120 });
  // 50 and 100 are a factor 2 apart: a fair share of the width, not squashed together.
  assert.ok(g.test[1].x - g.test[0].x > 0.05 * (g.box.right - g.box.left));
  assert.ok(g.xTicks.includes(100));
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
