// Guards on big label actions (static/js/guards.js): a batch's make-up, when it needs Enter,
// and the one-time note about a lopsided label set.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  confirmationReason, confirmationText, createBalanceWatch, lopsided, makeup, makeupText,
} from "../../static/js/guards.js";

const names = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
  "Bag", "Boot"];

test("a batch's make-up by predicted class, largest first", () => {
  const pred = Int8Array.from([3, 3, 4, 3, 6, 4, 8, 9]);
  const parts = makeup([0, 1, 2, 3, 4, 5, 6, 7], pred);
  assert.deepEqual(parts.slice(0, 2), [{ cls: 3, count: 3 }, { cls: 4, count: 2 }]);
  assert.equal(makeupText(parts, names), "predicted: Dress: 3 · Coat: 2 · Shirt: 1 · other: 2");
  const digits = names.map((_, i) => String(i));
  assert.equal(makeupText(parts.slice(0, 1), digits), "predicted: 3: 3");
  assert.equal(confirmationText(60, 4, "that is 60 samples", digits),
    "Label all 60 samples as 4? That is 60 samples.");
});

test("a batch above 50, or mostly predicted another class, needs Enter; deleting many too", () => {
  const pred = new Int8Array(1000).fill(3);
  const small = Array.from({ length: 50 }, (_, i) => i);
  const opts = { trained: true, classNames: names };
  assert.equal(confirmationReason(small, 3, pred, opts), null);
  assert.equal(confirmationReason([...small, 50], 3, pred, opts), "that is 51 samples");
  assert.equal(confirmationReason(small, 4, pred, opts), "only 0 of them are predicted Coat");
  assert.equal(confirmationReason(small, 4, pred, { ...opts, trained: false }), null,
    "an untrained model's predictions say nothing");
  assert.equal(confirmationReason([...small, 50], null, pred, opts), "that is 51 samples");
  const big = Array.from({ length: 857 }, (_, i) => i);
  assert.equal(confirmationText(857, 4, confirmationReason(big, 4, pred, opts), names),
    "Label all 857 samples as 4 Coat? That is 857 samples, and only 0 of them are predicted Coat.");
});

test("one class over half of 40 or more labels is pointed out once, again after it was balanced", () => {
  assert.equal(lopsided({ labeled: 39, per_class: [39, 0, 0, 0, 0, 0, 0, 0, 0, 0] }), null);
  const heavy = { labeled: 968, per_class: [10, 10, 10, 867, 10, 10, 10, 11, 10, 20] };
  assert.deepEqual(lopsided(heavy), { cls: 3, count: 867, labeled: 968, share: 867 / 968 });
  const warned = [];
  const seen = new Set();
  const watch = createBalanceWatch({ seen, classNames: names, onWarn: (m) => warned.push(m) });
  watch.check(heavy);
  watch.check({ ...heavy, labeled: 969 });
  assert.equal(warned.length, 1);
  assert.match(warned[0], /^867 of your 968 labels \(90 %\) are 3 Dress: .*answer Dress/);
  watch.check({ labeled: 100, per_class: [10, 10, 10, 10, 10, 10, 10, 10, 10, 10] });
  watch.check(heavy);
  assert.equal(warned.length, 2);
});
