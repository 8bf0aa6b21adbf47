// The page's pluraliser (static/js/plural.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { plural } from "../../static/js/plural.js";

test("one is singular, every other count plural", () => {
  assert.equal(plural(1, "epoch"), "1 epoch");
  assert.equal(plural(0, "epoch"), "0 epochs");
  assert.equal(plural(2, "label"), "2 labels");
  assert.equal(plural(1.5, "epoch"), "1.5 epochs");
});

test("thousands separators, irregular nouns and a given plural", () => {
  assert.equal(plural(60000, "image"), "60,000 images");
  assert.equal(plural(3, "batch"), "3 batches");
  assert.equal(plural(1, "batch"), "1 batch");
  assert.equal(plural(2, "person", "people"), "2 people");
});

test("a missing count reads as a question mark, never as a number", () => {
  assert.equal(plural(undefined, "epoch"), "? epochs");
  assert.equal(plural(null, "epoch"), "? epochs");
  assert.equal(plural(Number.NaN, "epoch"), "NaN epochs");
  assert.equal(plural("7", "epoch"), "7 epochs");
});
