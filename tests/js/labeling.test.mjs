// The ordered label queue of static/js/labeling.js: optimistic on the page, written one at a
// time in key-press order, kept while the server is away, rolled back only when refused. The server is replaced by an
// object whose answers the test releases one by one.
import assert from "node:assert/strict";
import { test } from "node:test";

import { RETRY_TOPIC, createLabeler } from "../../static/js/labeling.js";
import { encode } from "../../static/js/palette.js";

function heldServer() {
  const calls = [];
  const call = (kind, args) => new Promise((resolve, reject) => {
    calls.push({ kind, args, resolve, reject });
  });
  return {
    calls,
    api: {
      putLabel: (serial, label) => call("put", [serial, label]),
      deleteLabel: (serial) => call("delete", [serial]),
      postLabels: (labels) => call("post", [labels]),
    },
  };
}

function setup(n = 5) {
  const server = heldServer();
  const state = {
    user: new Int8Array(n).fill(-1),
    confirmed: new Int8Array(n).fill(-1),
    code: new Uint16Array(n).map(() => encode(-1, 0, 0)),
    classNames: Array.from({ length: 10 }, (_, i) => `class ${i}`),
  };
  const changes = [];
  const errors = [];
  const pending = [];
  const journal = [];
  const labeler = createLabeler({
    api: server.api,
    state,
    onChange: (serials) => changes.push(serials),
    onStats: () => {},
    onError: (message, topic) => errors.push(topic ? [message, topic] : message),
    onPending: (p) => pending.push(p),
    journal: { save: (entries) => journal.push(entries) },
  });
  return { server, state, labeler, changes, errors, pending, journal };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test("labels show at once and reach the server one at a time, in order", async () => {
  const { server, state, labeler } = setup();
  const first = labeler.apply([1], 3);
  const second = labeler.apply([2], 4);
  const third = labeler.apply([1], null);
  assert.equal(state.user[1], -1, "the last key wins on the page at once");
  assert.equal(state.user[2], 4);
  assert.equal(labeler.pending, 2);
  await tick();
  assert.deepEqual(server.calls.map((c) => c.kind), ["put"], "one write in flight");
  server.calls[0].resolve({ stats: { version: 1 } });
  await tick();
  assert.deepEqual(server.calls.map((c) => [c.kind, ...c.args]), [["put", 1, 3], ["put", 2, 4]]);
  server.calls[1].resolve({ stats: { version: 2 } });
  await tick();
  server.calls[2].resolve({ stats: { version: 3 } });
  assert.deepEqual(server.calls.map((c) => [c.kind, ...c.args]),
    [["put", 1, 3], ["put", 2, 4], ["delete", 1]]);
  const results = await Promise.all([first, second, third]);
  assert.ok(results.every((r) => r.ok));
  assert.equal(results[0].previous.get(1), null);
  assert.equal(results[2].previous.get(1), 3);
  assert.equal(labeler.pending, 0);
  assert.deepEqual([state.user[1], state.confirmed[1], state.user[2]], [-1, -1, 4]);
});

test("a failed write rolls back to the saved label and the queue goes on", async () => {
  const { server, state, labeler, errors } = setup();
  const failing = labeler.apply([0], 5);
  const next = labeler.apply([3], 1);
  assert.equal(state.user[0], 5);
  await tick();
  server.calls[0].reject(new Error("Disk full."));
  const result = await failing;
  assert.equal(result.ok, false);
  assert.equal(state.user[0], -1, "rolled back");
  assert.match(errors[0], /Could not save label 5 \(class 5\) for sample #0: Disk full\./);
  await tick();
  server.calls[1].resolve({ stats: { version: 1 } });
  assert.equal((await next).ok, true);
  assert.equal(state.confirmed[3], 1);
});

test("several serials go as one batch write", async () => {
  const { server, labeler } = setup();
  const done = labeler.apply([1, 2, 4], 7);
  await tick();
  assert.deepEqual(server.calls[0].args[0], { 1: 7, 2: 7, 4: 7 });
  server.calls[0].resolve({ stats: { version: 1 } });
  assert.equal((await done).ok, true);
});

const timedOut = () => Object.assign(new Error("No answer within 3 s."), { timedOut: true });

test("a write with no answer is sent again before the next one, then the queue goes on", async () => {
  const { server, state, labeler, errors } = setup();
  const hung = labeler.apply([1], 2);
  const next = labeler.apply([1], 6);
  await tick();
  server.calls[0].reject(timedOut()); // the api aborted it at its deadline
  await tick();
  const sent = () => server.calls.map((c) => [c.kind, ...c.args]);
  assert.deepEqual(sent(), [["put", 1, 2], ["put", 1, 2]], "the same write again, first");
  server.calls[1].resolve({ stats: { version: 1 } });
  await tick();
  assert.deepEqual(sent(), [["put", 1, 2], ["put", 1, 2], ["put", 1, 6]]);
  server.calls[2].resolve({ stats: { version: 2 } });
  assert.ok((await hung).ok && (await next).ok);
  assert.equal(labeler.retries, 1);
  assert.deepEqual([state.user[1], state.confirmed[1], errors.length], [6, 6, 0]);
});

test("a write that never answers is never given up: it waits, pending, in order", async () => {
  const { server, state, labeler, errors } = setup();
  const hung = labeler.apply([2], 3);
  const after = labeler.apply([3], 1);
  for (let attempt = 0; attempt < 6; attempt++) {
    await tick();
    server.calls[attempt].reject(timedOut());
  }
  await tick();
  assert.equal(server.calls.length, 7, "sent again after every deadline");
  assert.ok(server.calls.every((c) => c.args[0] === 2), "nothing overtakes it");
  assert.deepEqual([state.user[2], labeler.pending, errors.length], [3, 2, 0]);
  server.calls[6].resolve({ stats: { version: 1 } });
  assert.equal((await hung).ok, true);
  await tick();
  server.calls[7].resolve({ stats: { version: 2 } });
  assert.equal((await after).ok, true);
  assert.deepEqual([state.confirmed[2], state.confirmed[3]], [3, 1]);
});

const unreachable = () => Object.assign(new Error("Cannot reach the alctl server."), { status: 0 });
const answered = (status) => Object.assign(new Error(`The server answered ${status}.`), { status });

test("with the server away a label stays pending, counted, and goes when it is back", async () => {
  const { server, state, labeler, errors, pending } = setup();
  const first = labeler.apply([1], 4);
  const second = labeler.apply([1], 5);
  await tick();
  server.calls[0].reject(unreachable());
  await tick();
  assert.deepEqual(pending.at(-1), { count: 1, waiting: true, reason: "Cannot reach the alctl server." });
  assert.equal(state.user[1], 5, "kept on the page");
  assert.equal(server.calls.length, 1, "it waits before trying again");
  labeler.resume(); // the connection is back
  await tick();
  assert.deepEqual(server.calls.map((c) => c.args), [[1, 4], [1, 4]]);
  server.calls[1].resolve({ stats: { version: 1 } });
  await tick();
  server.calls[2].resolve({ stats: { version: 2 } });
  assert.ok((await first).ok && (await second).ok);
  assert.deepEqual(pending.at(-1), { count: 0, waiting: false, reason: null });
  assert.deepEqual([state.confirmed[1], errors.length], [5, 0]);
});

test("only a refusal (4xx) rolls back; a server failure (5xx) is said once and retried", async () => {
  const { server, state, labeler, errors } = setup();
  const refused = labeler.apply([0], 7);
  await tick();
  server.calls[0].reject(answered(409));
  assert.equal((await refused).ok, false);
  assert.equal(state.user[0], -1, "rolled back");
  const failing = labeler.apply([4], 2);
  await tick();
  server.calls[1].reject(answered(500));
  await tick();
  labeler.resume();
  await tick();
  server.calls[2].reject(answered(500));
  await tick();
  labeler.resume();
  await tick();
  server.calls[3].resolve({ stats: { version: 1 } });
  assert.equal((await failing).ok, true);
  assert.equal(errors.length, 2, "one rollback message, one for the 500 (not one per try)");
  assert.deepEqual(errors[1], ["Could not save label 2 (class 2) for sample #4 yet: The server"
    + " answered 500. Kept on the page; it is sent again until the server takes it.", RETRY_TOPIC]);
});

test("unacknowledged writes go to the journal with what the server had, and leave it once taken", async () => {
  const { server, labeler, journal } = setup();
  const done = labeler.apply([1, 2], 6);
  assert.deepEqual(journal.at(-1), [{ serials: [1, 2], label: 6, base: [[1, null], [2, null]] }]);
  await tick();
  server.calls[0].resolve({ stats: { version: 1 } });
  await done;
  assert.deepEqual(journal.at(-1), []);
});

test("an earlier page's writes are sent again unless the label changed elsewhere", async () => {
  const { server, state, labeler } = setup();
  state.confirmed[3] = 8; // someone set #3 to 8 after the earlier page typed 2 over nothing
  state.user[3] = 8;
  const result = labeler.resend([{ serials: [1, 3], label: 2, base: [[1, null], [3, null]] }]);
  assert.deepEqual(result, { written: 1, conflicts: [{ serial: 3, yours: 2, theirs: 8 }] });
  await tick();
  assert.deepEqual(server.calls.map((c) => [c.kind, ...c.args]), [["put", 1, 2]]);
});
