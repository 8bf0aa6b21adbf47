// The training curves' log axis (static/js/chart_ticks.js): before, uPlot gave a loss between
// 240 and 420 one tick ("1,000") on a scale widened to whole decades.
import assert from "node:assert/strict";
import { test } from "node:test";

import { formatTick, linearTicks, logRange, logTicks } from "../../static/js/chart_ticks.js";

test("the log scale hugs the data instead of widening to whole decades", () => {
  const [lo, hi] = logRange(240, 420);
  assert.ok(lo < 240 && lo > 220 && hi > 420 && hi < 460, `${lo} ${hi}`);
  assert.deepEqual(logRange(null, 5), [1, 10]); // no data yet
  const [a, b] = logRange(3, 3);
  assert.ok(a < 3 && b > 3);
});

test("a loss within one decade gets several round ticks, never more than asked", () => {
  for (const [min, max] of [[240, 420], [250, 330], [240, 275], [0.01, 3], [150, 1100]]) {
    const [lo, hi] = logRange(min, max);
    for (const count of [3, 4, 6]) {
      const ticks = logTicks(lo, hi, count);
      assert.ok(ticks.length >= 2, `${min}-${max} (${count}): ${ticks}`);
      assert.ok(ticks.length <= count + 1, `${min}-${max} (${count}): ${ticks}`);
      assert.ok(ticks.every((t) => t >= lo && t <= hi), `${ticks} outside ${lo}-${hi}`);
      assert.deepEqual(ticks, [...ticks].sort((x, y) => x - y));
    }
  }
  assert.deepEqual(logTicks(133, 1240, 4), [200, 500, 1000]);
  assert.deepEqual(logTicks(66, 151_000, 5), [100, 1000, 10_000, 100_000]);
});

test("evenly stepped ticks are round and survive floating-point steps", () => {
  assert.deepEqual(linearTicks(235, 276, 4), [240, 250, 260, 270]);
  assert.deepEqual(linearTicks(0.0001, 0.0002, 3), [0.0001, 0.00015, 0.0002]);
  assert.deepEqual(linearTicks(253, 335, 3), [275, 300, 325]);
  assert.deepEqual(linearTicks(1.4, 2.4, 4), [1.5, 1.75, 2, 2.25]); // before: 1.5, 2
  assert.deepEqual(linearTicks(0, 1, 4), [0, 0.5, 1]);
  assert.deepEqual(linearTicks(5, 5, 3), []);
});

test("tick labels are short", () => {
  assert.equal(formatTick(1000), "1,000");
  assert.equal(formatTick(250), "250");
  assert.equal(formatTick(0.15000000000000002), "0.15");
  assert.equal(formatTick(null), "");
});
