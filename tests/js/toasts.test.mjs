// The toast cap of static/js/toasts.js: at most three, oldest dropped, repeats counted.
import assert from "node:assert/strict";
import { test } from "node:test";

import { MAX_VISIBLE, admit } from "../../static/js/toasts.js";

const push = (entries, kind, message) => admit(entries, { kind, message });
const shown = (entries) => entries.map((e) => `${e.message}${e.count > 1 ? ` ×${e.count}` : ""}`);

test("at most three are shown; a fourth drops the oldest", () => {
  assert.equal(MAX_VISIBLE, 3);
  let entries = [];
  for (const message of ["a", "b", "c"]) ({ entries } = push(entries, "error", message));
  const { entries: after, dropped } = push(entries, "error", "d");
  assert.deepEqual(shown(after), ["b", "c", "d"]);
  assert.deepEqual(dropped.map((e) => e.message), ["a"]);
});

test("an identical message is counted and moves to the newest place, dropping nothing", () => {
  let entries = [];
  for (const message of ["a", "b", "c"]) ({ entries } = push(entries, "error", message));
  const { entries: after, dropped } = push(entries, "error", "a");
  assert.deepEqual(shown(after), ["b", "c", "a ×2"]);
  assert.deepEqual(dropped, []);
  assert.deepEqual(shown(push(after, "error", "a").entries), ["b", "c", "a ×3"]);
});

test("the same text as another kind is another toast; other fields ride along", () => {
  const node = { id: 1 };
  const { entries } = admit([], { kind: "note", message: "x", node });
  const { entries: after } = push(entries, "error", "x");
  assert.deepEqual(after.map((e) => e.kind), ["note", "error"]);
  assert.equal(after[0].node, node);
});

test("a smaller cap is honoured", () => {
  const { entries, dropped } = admit([{ kind: "e", message: "a", count: 1 }],
    { kind: "e", message: "b" }, 1);
  assert.deepEqual(shown(entries), ["b"]);
  assert.equal(dropped.length, 1);
});
