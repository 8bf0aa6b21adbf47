// The pure parts of the training curves (static/js/charts.js): value text and chart grid.
// charts.js imports uPlot from static/vendor/, which the page's install copies there.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";

// Without static/vendor these tests fail with the fix, rather than skip: a green run must have
// tested the charts. ALCTL_JS_WITHOUT_VENDOR=1 skips them on purpose.
const vendored = existsSync(new URL("../../static/vendor/uPlot.js", import.meta.url));
const { chartGrid, formatValue } = vendored ? await import("../../static/js/charts.js") : {};
const skip = !vendored && process.env.ALCTL_JS_WITHOUT_VENDOR === "1"
  && "static/vendor/ is not installed (ALCTL_JS_WITHOUT_VENDOR=1)";

function needVendor() {
  assert.ok(vendored, "static/vendor/ is missing: run `make js-deps` (npm ci), "
    + "or skip the tests that need it with ALCTL_JS_WITHOUT_VENDOR=1");
}

test("values: accuracy in percent, losses to three digits, missing as a dash",
  { skip }, () => {
    needVendor();
    assert.equal(formatValue(0.8766, true), "87.7%");
    assert.equal(formatValue(1, true), "100.0%");
    assert.equal(formatValue(0.012345), "0.0123");
    assert.equal(formatValue(123.456), "123.5");
    assert.equal(formatValue(null), "–");
    assert.equal(formatValue(undefined, true), "–");
  });

test("compact curves sit in one row; expanded ones wrap into columns of ~220 px",
  { skip }, () => {
    needVendor();
    assert.deepEqual(chartGrid(5, 700, false), { columns: 5, rows: 1 });
    assert.deepEqual(chartGrid(5, 700, true), { columns: 3, rows: 2 });
    assert.deepEqual(chartGrid(5, 450, true), { columns: 2, rows: 3 });
    assert.deepEqual(chartGrid(5, 2000, true), { columns: 5, rows: 1 });
    assert.deepEqual(chartGrid(5, 100, true), { columns: 1, rows: 5 });
  });
