// Screen pixels <-> page coordinates (those of /api/points, in [-1, 1]) for the scatter's
// current camera. regl-scatterplot draws a point at clip = P · V · M · [x, y, 0, 1] with
// P = scale(1 / (width / height), 1), M = scale(dataAspect, 1) and V the camera's 4×4 view
// (column-major); clip space maps to the canvas as x: [-1, 1] -> [0, width], y: [1, -1] ->
// [0, height]. Pure functions: the node tests check the round trip.

/**
 * @param {ArrayLike<number>} view  the camera's view matrix (plot.get("cameraView"))
 * @param {number} width   the plot's CSS width
 * @param {number} height  the plot's CSS height
 * @param {number} [dataAspect]  plot.get("aspectRatio")
 */
export function viewport(view, width, height, dataAspect = 1) {
  const aspect = width / height;
  const a = view[0] * dataAspect;
  const b = view[4];
  const c = view[1] * dataAspect;
  const d = view[5];
  const det = a * d - b * c;
  return {
    width,
    height,
    /** Page coordinates -> CSS pixels from the canvas's top-left corner. */
    toScreen(x, y) {
      const ndcX = (a * x + b * y + view[12]) / aspect;
      const ndcY = c * x + d * y + view[13];
      return [(width * (ndcX + 1)) / 2, height * (0.5 - ndcY / 2)];
    },
    /** CSS pixels -> page coordinates (the inverse of toScreen). */
    toPage(sx, sy) {
      const u = ((2 * sx) / width - 1) * aspect - view[12];
      const v = 1 - (2 * sy) / height - view[13];
      return [(d * u - b * v) / det, (a * v - c * u) / det];
    },
    /** The page-space box the canvas shows now: [x0, x1, y0, y1]. */
    visible() {
      const [x0, y1] = this.toPage(0, 0);
      const [x1, y0] = this.toPage(width, height);
      return [Math.min(x0, x1), Math.max(x0, x1), Math.min(y0, y1), Math.max(y0, y1)];
    },
  };
}

/** The viewport of a live regl-scatterplot instance drawn on `canvas`. */
export function plotViewport(plot, canvas) {
  const rect = canvas.getBoundingClientRect();
  return viewport(plot.get("cameraView"), rect.width, rect.height, plot.get("aspectRatio") || 1);
}

// How far the wheel zooms, as the camera's scale (1: the whole [-1, 1] page square fills
// the plot's height). In: about 40 notches of the default wheel already leave a few points
// on screen at 60,000 points; out: the cloud never shrinks below a third of the plot.
export const ZOOM_LIMITS = [0.5, 40];

/** [x0, x1, y0, y1] of the finite points (the page square when there are none). */
export function pointBounds(xs, ys) {
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    const y = ys[i];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return x0 <= x1 ? [x0, x1, y0, y1] : [-1, 1, -1, 1];
}

/**
 * Whether new points must be refit after a refresh: true when any part of `bounds` lies
 * outside `visible` shrunk by `margin` (a fraction of its size); a view that still holds
 * every point is the person's and is kept.
 */
export function refitNeeded(bounds, visible, margin = 0.02) {
  const [x0, x1, y0, y1] = bounds;
  const [v0, v1, w0, w1] = visible;
  const mx = (v1 - v0) * margin;
  const my = (w1 - w0) * margin;
  return x0 < v0 + mx || x1 > v1 - mx || y0 < w0 + my || y1 > w1 - my;
}

/** The area to zoom to for `bounds`: padded by `pad` of its longer side, never empty. */
export function fitArea(bounds, pad = 0.06) {
  const [x0, x1, y0, y1] = bounds;
  const side = Math.max(x1 - x0, y1 - y0, 0.02);
  const p = side * pad;
  const width = Math.max(x1 - x0, 0.02) + 2 * p;
  const height = Math.max(y1 - y0, 0.02) + 2 * p;
  return { x: (x0 + x1) / 2 - width / 2, y: (y0 + y1) / 2 - height / 2, width, height };
}

/**
 * The point drawn nearest to the screen position (sx, sy) and at most `radius` CSS pixels
 * from it, or null: whether the cursor is on the data. One pass over the points (60,000 in
 * well under a millisecond); non-finite points are skipped.
 */
export function pointNear(vp, xs, ys, sx, sy, radius = 6) {
  let best = null;
  let bestD2 = radius * radius;
  for (let i = 0; i < xs.length; i++) {
    const [px, py] = vp.toScreen(xs[i], ys[i]);
    const d2 = (px - sx) ** 2 + (py - sy) ** 2;
    if (d2 <= bestD2) {
      best = i;
      bestD2 = d2;
    }
  }
  return best;
}
