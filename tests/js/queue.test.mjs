// The labeling queue's pure parts (static/js/queue.js): which sample comes next, what the
// thumbnails show and the one-line summary.
import assert from "node:assert/strict";
import { test } from "node:test";

import { nextFrom, queueLine, upcoming } from "../../static/js/queue.js";

const items = [5, 2, 9, 7].map((serial) => ({ serial, pred: 1, certainty: 0.3, score: 0.7 }));

test("next skips labeled samples and the current one", () => {
  const user = new Int8Array(10).fill(-1);
  assert.equal(nextFrom(items, user), 5);
  assert.equal(nextFrom(items, user, 5), 2);
  user[2] = 4;
  assert.equal(nextFrom(items, user, 5), 9);
  user[9] = 1;
  user[7] = 0;
  assert.equal(nextFrom(items, user, 5), null);
});

test("the thumbnails are the unlabeled head after the current sample", () => {
  const user = new Int8Array(10).fill(-1);
  user[9] = 3;
  assert.deepEqual(upcoming(items, user, 2, 5).map((i) => i.serial), [2, 7]);
  assert.deepEqual(upcoming(items, user, 10).map((i) => i.serial), [5, 2, 7]);
});

test("the summary names the order, and says random when it is", () => {
  assert.equal(queueLine(null, 0), "queue: loading…");
  assert.equal(queueLine({ strategy: "margin" }, 59943), "queue: 59,943 by margin");
  assert.equal(queueLine({ strategy: "least_confidence" }, 12), "queue: 12 by least confidence");
  assert.equal(queueLine({ strategy: "random" }, 600), "queue: 600 in random order");
});
