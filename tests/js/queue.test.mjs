// The labeling queue's pure parts (static/js/queue.js): which sample comes next, what the
// thumbnails show and the one-line summary.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createQueue, nextFrom, queueLine, upcoming } from "../../static/js/queue.js";

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

/** createQueue over plain objects: the DOM calls it makes, and a head the test answers. */
function queueSetup() {
  const node = () => ({ hidden: false, textContent: "", disabled: false, dataset: {}, checked: true,
    value: "typical", addEventListener() {}, blur() {}, append() {}, replaceChildren() {} });
  globalThis.document = { createElement: node };
  const fetches = [];
  const picks = [];
  const skipped = [];
  const state = { user: new Int8Array(20).fill(-1), selected: null };
  const queue = createQueue({
    fetchHead: () => new Promise((resolve) => fetches.push(resolve)),
    state,
    els: { next: node(), strategy: node(), auto: node(), line: node(), note: node(), thumbs: node() },
    thumbnailUrl: (s) => `/t/${s}`,
    pick: (serial) => {
      picks.push(serial);
      state.selected = serial;
    },
    prefetch: () => {},
    onError: (message) => assert.fail(message),
    onSkip: (serial) => skipped.push(serial),
  });
  const head = (serials) => ({ strategy: "typical", pool: 20, items: serials.map((serial) => ({
    serial, pred: 0, certainty: 0.5, score: 0.5 })) });
  return { queue, fetches, picks, skipped, state, head };
}

test("n after new predictions goes to the head of the new order, not the old one", async () => {
  const { queue, fetches, picks, head } = queueSetup();
  const first = queue.refresh();
  fetches[0](head([1, 2, 3]));
  await first;
  const reranked = queue.reorder(); // a session ended: the pool is ranked again
  const pressed = queue.next();
  fetches[1](head([9, 1, 2]));
  await Promise.all([reranked, pressed]);
  assert.deepEqual(picks, [9]);
});

test("n says which unlabeled, queued sample on screen it left", async () => {
  const { queue, fetches, picks, skipped, state, head } = queueSetup();
  const first = queue.refresh();
  fetches[0](head([1, 2, 3]));
  await first;
  await queue.next();
  await queue.next(); // #1 on screen, never labeled
  assert.deepEqual([picks, skipped], [[1, 2], [1]]);
  state.user[2] = 4; // labeled: leaving it is no skip
  await queue.next();
  assert.deepEqual([picks, skipped], [[1, 2, 1], [1]], "the skipped one is still the head");
});
