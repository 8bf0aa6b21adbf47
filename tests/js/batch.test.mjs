// The batch selection's set logic (static/js/batch.js): Shift+click toggles, lasso merges.
import assert from "node:assert/strict";
import { test } from "node:test";

import { merged, toggled } from "../../static/js/batch.js";

test("shift+click adds a new sample and removes a chosen one, keeping the order", () => {
  assert.deepEqual(toggled([4, 9], 2), [4, 9, 2]);
  assert.deepEqual(toggled([4, 9, 2], 9), [4, 2]);
  assert.deepEqual(toggled([], 7), [7]);
});

test("a lasso adds what it caught, without duplicates", () => {
  assert.deepEqual(merged([4, 9], [9, 1, 4, 3]), [4, 9, 1, 3]);
  assert.deepEqual(merged([], [5, 5]), [5]);
});
