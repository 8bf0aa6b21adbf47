// The manifold overlay (key o): a grid of about 400 decoded images (columns × rows follow the
// view's shape, so each tile is square) tiled semi-transparently over the part of the latent
// plane on screen. One POST /api/decode grid per view (one forward pass
// on the server); recomputed once a pan or zoom has settled. Between answers the last grid
// is moved with the camera, so it stays over the points it belongs to.
import { decodeImage } from "./api.js";
import { createLatestOnly, viewNote } from "./decoder.js";
import { plotViewport } from "./viewport.js";

export const TILES = 400; // about; columns × rows follow the view's shape (tiles stay square)
const SETTLE_MS = 150;
const TILE = 28;

/** [columns, rows] of about `tiles` square cells over a box of this width and height. */
export function gridShape(width, height, tiles = TILES, max = 32) {
  const aspect = width > 0 && height > 0 ? width / height : 1;
  const columns = Math.min(max, Math.max(1, Math.round(Math.sqrt(tiles * aspect))));
  const rows = Math.min(max, Math.max(1, Math.round(tiles / columns)));
  return [columns, rows];
}

/** The decoded grid (row-major, columns × rows) as one RGBA bitmap: bright strokes opaque,
 * the dark ground faint. */
export function tileBitmap(pixels, columns, rows) {
  const width = columns * TILE;
  const rgba = new Uint8ClampedArray(width * rows * TILE * 4);
  for (let k = 0; k < columns * rows; k++) {
    const ox = (k % columns) * TILE;
    const oy = Math.floor(k / columns) * TILE;
    for (let r = 0; r < TILE; r++) {
      for (let c = 0; c < TILE; c++) {
        const v = pixels[k * 784 + r * TILE + c];
        const o = ((oy + r) * width + ox + c) * 4;
        rgba[o] = v;
        rgba[o + 1] = v;
        rgba[o + 2] = v;
        rgba[o + 3] = 70 + (v * 185) / 255;
      }
    }
  }
  return new ImageData(rgba, width, rows * TILE);
}

/**
 * @param {object} deps
 * @param {object} deps.api   createApi(): decodeGrid(grid)
 * @param {() => object} deps.plot
 * @param {HTMLCanvasElement} deps.scatterCanvas
 * @param {HTMLCanvasElement} deps.canvas   the overlay canvas (pointer-events: none)
 * @param {object} deps.els   {button, note}
 * @param {(name: string, ms: number) => void} deps.onTiming  "manifoldServer", "manifoldPaint"
 * @param {(message: string) => void} deps.onError
 */
export function createManifold({ api, plot, scatterCanvas, canvas, els, onTiming, onError }) {
  let on = false;
  let grid = null; // {box: [x0, x1, y0, y1], bitmap: canvas}
  let timer = null;
  let subscribed = false;

  function draw() {
    const rect = scatterCanvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const w = Math.round(rect.width * ratio);
    const h = Math.round(rect.height * ratio);
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    if (!on || !grid) return;
    const vp = plotViewport(plot(), scatterCanvas);
    const [x0, x1, y0, y1] = grid.box;
    const [left, top] = vp.toScreen(x0, y1);
    const [right, bottom] = vp.toScreen(x1, y0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(grid.bitmap, left * ratio, top * ratio, (right - left) * ratio,
      (bottom - top) * ratio);
  }

  // One grid request at a time; a view that changes meanwhile is asked for next, once.
  const requests = createLatestOnly({
    maxInFlight: 1,
    request: ({ box, shape }) => {
      const [x0, x1, y0, y1] = box;
      return api.decodeGrid({ x0, x1, y0, y1, n: shape });
    },
    onAnswer(answer, { box, shape, started }, seq) {
      onTiming("manifoldServer", answer.decode_ms);
      const [columns, rows] = shape;
      const bitmap = document.createElement("canvas");
      bitmap.width = columns * TILE;
      bitmap.height = rows * TILE;
      const pixels = decodeImage(answer.images);
      bitmap.getContext("2d").putImageData(tileBitmap(pixels, columns, rows), 0, 0);
      grid = { box, bitmap };
      draw();
      els.note.textContent = viewNote(answer);
      canvas.dataset.seq = String(seq);
      canvas.dataset.box = box.map((v) => v.toFixed(4)).join(",");
      onTiming("manifoldPaint", performance.now() - started);
    },
    onError: (error) => onError(`Could not draw the manifold: ${error.message}`),
  });

  function recompute() {
    if (!on) return;
    const box = plotViewport(plot(), scatterCanvas).visible();
    const shape = gridShape(box[1] - box[0], box[3] - box[2]);
    requests.push({ box, shape, started: performance.now() });
  }

  /** Asks for the grid once nothing has changed for SETTLE_MS (a pan, a refit, new points). */
  function settle() {
    clearTimeout(timer);
    timer = setTimeout(recompute, SETTLE_MS);
  }

  function viewChanged() {
    if (!on) return;
    draw(); // follow the camera at once with the grid we have
    settle();
  }

  function set(next) {
    on = next;
    els.button.setAttribute("aria-pressed", String(on));
    canvas.hidden = !on;
    if (!subscribed) {
      plot().subscribe("view", viewChanged);
      subscribed = true;
    }
    if (on) recompute();
    else {
      clearTimeout(timer);
      requests.clear();
      grid = null;
      els.note.textContent = "";
      draw();
    }
  }

  return {
    get on() {
      return on;
    },
    toggle: () => set(!on),
    /**
     * New points are drawn (a new model): the same view means other latent points now. Call
     * it once they are on screen: a refit of the view moves the camera first, and its view
     * events and this call then settle into one request for the view the person sees.
     */
    refresh: () => {
      if (on) settle();
    },
  };
}
