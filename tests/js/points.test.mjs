// decodePoints (static/js/api.js) against the /api/points layout in docs/api.md.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, decodeImage, decodePoints, sentence } from "../../static/js/api.js";

function payload(points) {
  const n = points.length;
  const buffer = new ArrayBuffer(15 * n);
  const xy = new Float32Array(buffer, 0, 2 * n);
  const certainty = new Float32Array(buffer, 8 * n, n);
  const [pred, truth, user] = [12, 13, 14].map((k) => new Int8Array(buffer, k * n, n));
  points.forEach((p, i) => {
    xy[2 * i] = p.x;
    xy[2 * i + 1] = p.y;
    certainty[i] = p.certainty;
    pred[i] = p.pred;
    truth[i] = p.truth;
    user[i] = p.user;
  });
  return buffer;
}

test("columns come back as typed arrays, point by point", () => {
  const points = [
    { x: -1, y: 0.5, certainty: 0.25, pred: 3, truth: 4, user: -1 },
    { x: 0.75, y: -0.125, certainty: 1, pred: 9, truth: 9, user: 9 },
    { x: 0, y: 1, certainty: 0.5, pred: 0, truth: 1, user: 0 },
  ];
  const out = decodePoints(payload(points), 3, 7);
  assert.equal(out.n, 3);
  assert.equal(out.version, 7);
  assert.deepEqual(Array.from(out.x), points.map((p) => p.x));
  assert.deepEqual(Array.from(out.y), points.map((p) => p.y));
  assert.deepEqual(Array.from(out.certainty), points.map((p) => p.certainty));
  assert.deepEqual(Array.from(out.pred), [3, 9, 0]);
  assert.deepEqual(Array.from(out.truth), [4, 9, 1]);
  assert.deepEqual(Array.from(out.user), [-1, 9, 0]);
  assert.ok(out.x instanceof Float32Array && out.user instanceof Int8Array);
});

test("the count may be missing; a size that does not fit is an ApiError", () => {
  assert.equal(decodePoints(payload([{ x: 0, y: 0, certainty: 0, pred: 0, truth: 0, user: 0 }]),
    Number.NaN, null).n, 1);
  assert.throws(() => decodePoints(new ArrayBuffer(31), 2, 1), ApiError);
  assert.throws(() => decodePoints(new ArrayBuffer(30), 3, 1), /does not match 3 points/);
});

test("images and messages", () => {
  assert.deepEqual(Array.from(decodeImage(Buffer.from([0, 127, 255]).toString("base64"))),
    [0, 127, 255]);
  assert.equal(sentence("label must be an integer 0-9"), "Label must be an integer 0-9.");
  assert.equal(sentence("Done!"), "Done!");
  assert.equal(sentence(null), "");
});
