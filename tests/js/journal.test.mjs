// What the page keeps in the browser's storage per labels file (static/js/journal.js): label
// writes not acknowledged yet, taken over by the next page only once their page is gone.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  ORPHAN_AFTER_MS, createPendingJournal, memoryStorage, reconcile, resentText, scopeKey,
  storedSet,
} from "../../static/js/journal.js";

const scope = { workspace: "/w", dataset: "mnist", labelsFile: "/w/data/mnist/labels.csv" };
const entry = { serials: [4], label: 2, base: [[4, null]] };

test("a released page's writes go to the next page of the same labels file, once", () => {
  const storage = memoryStorage();
  const first = createPendingJournal({ storage, scope, writer: "a" });
  first.save([entry]);
  const other = createPendingJournal({ storage, scope: { ...scope, workspace: "/v" }, writer: "c" });
  const second = createPendingJournal({ storage, scope, writer: "b" });
  assert.deepEqual(second.claim(), [], "its page still lives");
  first.release(); // pagehide: a reload or a closed tab
  assert.deepEqual(other.claim(), [], "another workspace never sees them");
  assert.deepEqual(second.claim(), [entry]);
  assert.deepEqual(createPendingJournal({ storage, scope, writer: "d" }).claim(), []);
});

test("a page that went silent (a crashed tab) is taken over after a while; empty pages leave nothing", () => {
  const storage = memoryStorage();
  let clock = 1000;
  const now = () => clock;
  const crashed = createPendingJournal({ storage, scope, writer: "a", now });
  crashed.save([entry]);
  const next = createPendingJournal({ storage, scope, writer: "b", now });
  clock += ORPHAN_AFTER_MS - 1;
  assert.deepEqual(next.claim(), []);
  clock += 2;
  assert.deepEqual(next.claim(), [entry]);
  const idle = createPendingJournal({ storage, scope, writer: "e", now });
  idle.save([entry]);
  idle.save([]);
  assert.equal(storage.length, 0);
});

test("writes are reconciled against the server's labels: a label changed elsewhere stays", () => {
  const server = new Map([[1, null], [2, 7], [3, 5], [4, 2]]);
  const entries = [
    { serials: [1, 2], label: 3, base: [[1, null], [2, null]] }, // #2 changed elsewhere to 7
    { serials: [3], label: 5, base: [[3, null]] }, // #3 already written (the ack was lost)
    { serials: [3], label: null, base: [[3, null]] }, // ...then deleted
    { serials: [4], label: 6, base: [[4, 2]] },
  ];
  const { writes, conflicts } = reconcile(entries, (s) => server.get(s) ?? null);
  assert.deepEqual(writes, [[3, [1]], [null, [3]], [6, [4]]]);
  assert.deepEqual(conflicts, [{ serial: 2, yours: 3, theirs: 7 }]);
  assert.equal(resentText({ written: 3, conflicts }),
    "Sending 3 labels typed before the page was reloaded (the server had not received them)."
    + " Kept the labels of 1 sample changed elsewhere since they were typed: #2 (you: 3, now: 7).");
});

test("keys name the workspace, the dataset and the labels file; a stored set outlives the page", () => {
  assert.equal(scopeKey("undo", scope), "alctl:undo:/w|mnist|/w/data/mnist/labels.csv");
  const storage = memoryStorage();
  storedSet(storage, "k").add(3);
  assert.ok(storedSet(storage, "k").has(3));
  storedSet(storage, "k").clear();
  assert.ok(!storedSet(storage, "k").has(3));
});
