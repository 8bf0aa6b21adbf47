// Screen pixels <-> page coordinates of static/js/viewport.js: the decoder and the manifold
// overlay read the cursor and the visible box with it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { viewport } from "../../static/js/viewport.js";

// A 2-D camera's view: scale s, translation (tx, ty), column-major 4×4.
const camera = (s, tx, ty) => [s, 0, 0, 0, 0, s, 0, 0, 0, 0, 1, 0, tx, ty, 0, 1];

test("the identity camera maps the page's [-1, 1] square onto the canvas height", () => {
  const vp = viewport(camera(1, 0, 0), 800, 400);
  assert.deepEqual(vp.toScreen(0, 0), [400, 200]);
  assert.deepEqual(vp.toScreen(-1, 1), [200, 0]); // aspect kept: 1 page unit = 200 px
  assert.deepEqual(vp.toPage(600, 400), [1, -1]);
});

test("toPage inverts toScreen under zoom, pan and a data aspect", () => {
  for (const [s, tx, ty, aspect] of [[2.5, 0.3, -0.7, 1], [0.4, -1.2, 0.9, 1.5]]) {
    const vp = viewport(camera(s, tx, ty), 640, 480, aspect);
    for (const [x, y] of [[0, 0], [0.25, -0.9], [-3, 2]]) {
      const [sx, sy] = vp.toScreen(x, y);
      const [bx, by] = vp.toPage(sx, sy);
      assert.ok(Math.abs(bx - x) < 1e-9 && Math.abs(by - y) < 1e-9, `${x},${y} -> ${bx},${by}`);
    }
  }
});

test("visible() is the page box under the canvas corners", () => {
  const vp = viewport(camera(2, 0.5, 0), 400, 400);
  const [x0, x1, y0, y1] = vp.visible();
  assert.deepEqual([x0, x1, y0, y1], [-0.75, 0.25, -0.5, 0.5]);
});
