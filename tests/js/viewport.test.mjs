// Screen pixels <-> page coordinates of static/js/viewport.js: the decoder and the manifold
// overlay read the cursor and the visible box with it.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  fitArea, pointBounds, pointNear, refitNeeded, viewport,
} from "../../static/js/viewport.js";

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

test("pointBounds skips points that are not finite", () => {
  const xs = new Float32Array([0.5, -0.25, Number.NaN, 0.75]);
  const ys = new Float32Array([0.1, 0.9, 5, Number.POSITIVE_INFINITY]);
  assert.deepEqual(pointBounds(xs, ys), [-0.25, 0.5, ys[0], ys[1]]);
  assert.deepEqual(pointBounds([], []), [-1, 1, -1, 1]);
});

test("a refresh keeps a view that holds every new point and refits one that does not", () => {
  const whole = viewport(camera(1, 0, 0), 400, 400).visible(); // [-1, 1] both ways
  assert.equal(refitNeeded([-0.9, 0.9, -0.5, 0.5], whole), false);
  // The new latent reaches the top edge: it would sit under the plot's edge.
  assert.equal(refitNeeded([-0.9, 0.9, -0.5, 1], whole), true);
  assert.equal(refitNeeded([-0.9, 0.9, -1.2, 0.5], whole), true);
  // Zoomed in: the view shows part of the cloud only, so new points are refit.
  const zoomed = viewport(camera(4, 0, 0), 400, 400).visible();
  assert.equal(refitNeeded([-0.9, 0.9, -0.9, 0.9], zoomed), true);
  // Zoomed out: everything fits, the view stays.
  const far = viewport(camera(0.5, 0, 0), 400, 400).visible();
  assert.equal(refitNeeded([-1, 1, -1, 1], far), false);
});

test("fitArea pads the bounds by a share of their longer side and is never empty", () => {
  const area = fitArea([-1, 1, -0.5, 0.5], 0.1);
  assert.deepEqual(area, { x: -1.2, y: -0.7, width: 2.4, height: 1.4 });
  const point = fitArea([0.3, 0.3, 0.3, 0.3], 0);
  assert.ok(point.width > 0 && point.height > 0);
  assert.ok(Math.abs(point.x + point.width / 2 - 0.3) < 1e-12);
});

test("the point under the cursor is the nearest within the radius, in screen pixels", () => {
  const vp = viewport(camera(2, 0, 0), 800, 400); // 1 page unit = 400 px
  const xs = Float32Array.from([0, 0.01, 0.5, NaN]);
  const ys = Float32Array.from([0, 0, 0.5, 0]);
  const [sx, sy] = vp.toScreen(0.012, 0);
  assert.equal(pointNear(vp, xs, ys, sx, sy), 1); // 0.8 px from #1, 4.8 px from #0
  assert.equal(pointNear(vp, xs, ys, sx + 3, sy), 1);
  assert.equal(pointNear(vp, xs, ys, sx + 8, sy), null); // nothing within 6 px
  assert.equal(pointNear(vp, xs, ys, sx + 8, sy, 12), 1);
  assert.equal(pointNear(vp, xs, ys, ...vp.toScreen(0.5, 0.5)), 2);
  assert.equal(pointNear(vp, new Float32Array(0), new Float32Array(0), 10, 10), null);
});
