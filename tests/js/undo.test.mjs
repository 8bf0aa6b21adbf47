// Undo / redo of label actions (static/js/undo.js) over a fake labeler that records writes.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createHistory, describeAction, groupByLabel } from "../../static/js/undo.js";

function setup() {
  const labels = new Map([[1, 4]]); // serial 1 starts labeled 4
  const writes = [];
  const history = createHistory({
    apply: async (serials, label) => {
      writes.push([serials, label]);
      for (const s of serials) {
        if (label === null) labels.delete(s);
        else labels.set(s, label);
      }
      return { ok: true };
    },
    onChange: () => {},
  });
  const act = async (serials, label) => {
    const previous = new Map(serials.map((s) => [s, labels.get(s) ?? null]));
    for (const s of serials) labels.set(s, label);
    history.record(serials, label, previous, Promise.resolve({ ok: true }));
  };
  return { labels, writes, history, act };
}

test("undo of a batch restores every previous label, one write per previous value", async () => {
  const { labels, writes, history, act } = setup();
  await act([1, 2, 3], 7);
  assert.ok(await history.undo());
  assert.deepEqual([...labels].sort(), [[1, 4]]);
  assert.deepEqual(writes, [[[1], 4], [[2, 3], null]]);
  assert.ok(await history.redo());
  assert.deepEqual([...labels].sort(), [[1, 7], [2, 7], [3, 7]]);
  assert.equal(history.canRedo, false);
});

test("a new action clears redo; the list shows newest first with undone ones marked", async () => {
  const { history, act } = setup();
  await act([5], 1);
  await act([6], 2);
  await history.undo();
  assert.deepEqual(history.recent().map((r) => [r.action.serials[0], r.undone]), [[6, true], [5, false]]);
  await act([8], 3);
  assert.equal(history.canRedo, false);
  assert.equal(await history.redo(), false);
});

test("a refused write leaves nothing to undo", async () => {
  const history = createHistory({ apply: async () => ({ ok: true }), onChange: () => {} });
  history.record([1], 2, new Map([[1, null]]), Promise.resolve({ ok: false }));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(history.canUndo, false);
});

test("grouping and wording", () => {
  assert.deepEqual(groupByLabel(new Map([[1, null], [2, 3], [4, null]])), [[null, [1, 4]], [3, [2]]]);
  assert.equal(describeAction({ serials: [12], label: 3 }, ["a", "b", "c", "Dress"]), "#12 → 3 Dress");
  assert.equal(describeAction({ serials: [1, 2], label: null }, []), "2 samples → unlabeled");
});
