// Level of detail (static/js/detail.js): a moving view of a very large scatter draws a sample
// that keeps the selected point; the whole set comes back once the view rests.
import assert from "node:assert/strict";
import { mock, test } from "node:test";

import { DETAIL_ABOVE, createLevelOfDetail } from "../../static/js/detail.js";

function fakePlot() {
  const calls = [];
  return {
    calls,
    filter: (indices) => calls.push(["filter", indices.length, indices.at(-1)]),
    unfilter: () => calls.push(["unfilter"]),
  };
}

test("small scatters are always drawn whole", () => {
  const plot = fakePlot();
  const detail = createLevelOfDetail(plot, () => null, () => {});
  detail.setCount(DETAIL_ABOVE);
  detail.moving();
  assert.deepEqual(plot.calls, []);
  assert.equal(detail.reduced, false);
});

test("a moving view draws one sample with the selection, then everything at rest", () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    const plot = fakePlot();
    let wakes = 0;
    const detail = createLevelOfDetail(plot, () => 999_999, () => wakes++);
    detail.setCount(1_000_000);
    detail.moving();
    detail.moving(); // still moving: no second filter
    assert.equal(plot.calls.length, 1);
    const [kind, size, last] = plot.calls[0];
    assert.equal(kind, "filter");
    assert.ok(size > 50_000 && size <= 100_001, `sample of ${size}`);
    assert.equal(last, 999_999, "the selected point stays drawn");
    mock.timers.tick(200);
    detail.moving(); // movement goes on: rest is pushed back
    mock.timers.tick(200);
    assert.equal(detail.reduced, true);
    mock.timers.tick(200);
    assert.deepEqual(plot.calls.at(-1), ["unfilter"]);
    assert.equal(detail.reduced, false);
    assert.equal(wakes, 2, "each change wakes the frame loop");
  } finally {
    mock.timers.reset();
  }
});
