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
