// The page's key table (static/js/keys.js): the handler dispatches through it and the help
// dialog (static/js/key_help.js) lists it, so every key handled is a key listed.
import assert from "node:assert/strict";
import { test } from "node:test";

import { helpRows } from "../../static/js/key_help.js";
import { KEYS, keyEntry } from "../../static/js/keys.js";

const press = (key, mods = {}) => ({ key, ...mods });

test("every key of the table reaches its entry, and the help lists every entry", () => {
  const rows = helpRows();
  assert.equal(rows.length, KEYS.length);
  KEYS.forEach((entry, i) => {
    assert.deepEqual(rows[i], [entry.label, entry.help]);
    assert.ok(entry.label && entry.help.length > 10, entry.action);
    for (const key of entry.keys) {
      const event = press(key, { ctrlKey: Boolean(entry.ctrl), shiftKey: Boolean(entry.shift) });
      assert.equal(keyEntry(event, Boolean(entry.inField)), entry, `${entry.label}: ${key}`);
    }
  });
  // The keys the page is known for are all there.
  const handled = new Set(KEYS.flatMap((e) => e.keys));
  for (const key of ["0", "9", "n", "u", "p", "c", "g", "r", "/", "m", "o", "e", "?", "Escape",
    "Delete", "Backspace", "z"]) assert.ok(handled.has(key), key);
});

test("what the keys do: classes, modes, undo and redo", () => {
  const arg = (event, typing = false) => {
    const entry = keyEntry(event, typing);
    return entry && [entry.action, entry.arg ? entry.arg(event.key) : undefined];
  };
  assert.deepEqual(arg(press("7")), ["label", 7]);
  assert.deepEqual(arg(press("p")), ["mode", "pred"]);
  assert.deepEqual(arg(press("?", { shiftKey: true })), ["help", undefined]);
  assert.deepEqual(arg(press("z", { ctrlKey: true })), ["undo", undefined]);
  assert.deepEqual(arg(press("Z", { metaKey: true, shiftKey: true })), ["redo", undefined]);
  assert.deepEqual(arg(press("Enter")), ["confirm", undefined]); // a batch that asked first
});

test("keys typed into a field stay there, and unknown keys are nobody's", () => {
  assert.equal(keyEntry(press("3"), true), null);
  assert.equal(keyEntry(press("z", { ctrlKey: true }), true), null); // the field's own undo
  assert.equal(keyEntry(press("Escape"), true).action, "leaveField");
  assert.equal(keyEntry(press("Escape")).action, "deselect");
  assert.equal(keyEntry(press("x")), null);
  assert.equal(keyEntry(press("n", { altKey: true })), null);
  assert.equal(keyEntry(press("n", { ctrlKey: true })), null); // the browser's new window
  assert.equal(keyEntry(press("N")), null);
});
