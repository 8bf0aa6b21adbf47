// Undo / redo of label actions (static/js/undo.js) over a fake labeler that records writes.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  createHistory, describeAction, groupByLabel, storedHistory,
} from "../../static/js/undo.js";

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

/** A history over `labels` whose store is a plain object, as a reloaded page would find it. */
function stored(labels, store) {
  const notes = [];
  const history = createHistory({
    apply: async (serials, label) => {
      for (const s of serials) {
        if (label === null) labels.delete(s);
        else labels.set(s, label);
      }
      return { ok: true };
    },
    current: (serial) => labels.get(serial) ?? null,
    onChange: () => {},
    onNote: (message) => notes.push(message),
    store: { load: () => store.data ?? null, save: (text) => { store.data = JSON.parse(text); } },
  });
  return { history, notes };
}

test("the history outlives the page: a new page on the same store undoes a big batch", async () => {
  const labels = new Map([[0, 1]]);
  const store = {};
  const batch = Array.from({ length: 857 }, (_, i) => i);
  const before = new Map(batch.map((s) => [s, labels.get(s) ?? null]));
  for (const s of batch) labels.set(s, 3);
  const first = stored(labels, store).history;
  first.record(batch, 3, before, Promise.resolve({ ok: true }));
  first.flush(); // the page goes (pagehide); otherwise written a moment after the action
  const { history } = stored(labels, store); // the reloaded page
  assert.ok(history.canUndo);
  assert.ok(await history.undo());
  assert.deepEqual([...labels], [[0, 1]]);
  history.flush();
  assert.ok(stored(labels, store).history.canRedo, "the undone action is kept too");
});

test("undo and redo leave alone a label someone else changed since, and say so", async () => {
  const labels = new Map();
  const store = {};
  const { history, notes } = stored(labels, store);
  for (const s of [1, 2, 3]) labels.set(s, 7);
  history.record([1, 2, 3], 7, new Map([[1, null], [2, null], [3, null]]), null);
  labels.set(2, 5); // the shell relabels #2 meanwhile
  assert.ok(await history.undo());
  assert.deepEqual([...labels], [[2, 5]], "#2 keeps the newer label");
  assert.match(notes[0], /^Undo left 1 label as it is: changed since by someone else \(#2\)\.$/);
  labels.set(3, 9); // and #3 gets a label before the redo
  assert.ok(await history.redo());
  assert.deepEqual([...labels].sort(), [[1, 7], [2, 5], [3, 9]]);
  assert.match(notes[1], /^Redo left 2 labels as they are: .*\(#2, #3\)\.$/);
});

test("the stored history drops its oldest actions to stay within its size", () => {
  const action = (i) => ({ serials: [i], label: 1, previous: new Map([[i, null]]) });
  const done = Array.from({ length: 10 }, (_, i) => action(i));
  const text = storedHistory(done, [action(10)], 200);
  assert.ok(text.length <= 200);
  const out = JSON.parse(text);
  assert.ok(out.done.length < 10 && out.done.at(-1).serials[0] === 9, "the newest are kept");
  assert.deepEqual(out.undone[0], { serials: [10], label: 1, previous: [[10, null]] });
  const all = JSON.parse(storedHistory(done, []));
  assert.equal(all.done.length, 10);
});
