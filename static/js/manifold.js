// The manifold overlay (key o): a grid of decoded images tiled semi-transparently over the
// part of the latent plane on screen. One POST /api/decode grid per view (one forward pass
// on the server); recomputed once a pan or zoom has settled. Between answers the last grid
// is moved with the camera, so it stays over the points it belongs to.
import { decodeImage } from "./api.js";
import { createLatestOnly, viewNote } from "./decoder.js";
import { plotViewport } from "./viewport.js";

export const GRID = 20; // 400 tiles
const SETTLE_MS = 150;
const TILE = 28;

/** The decoded grid as one RGBA bitmap: bright strokes opaque, the dark ground faint. */
export function tileBitmap(pixels, n) {
  const side = n * TILE;
  const rgba = new Uint8ClampedArray(side * side * 4);
  for (let k = 0; k < n * n; k++) {
    const ox = (k % n) * TILE;
    const oy = Math.floor(k / n) * TILE;
    for (let r = 0; r < TILE; r++) {
      for (let c = 0; c < TILE; c++) {
        const v = pixels[k * 784 + r * TILE + c];
        const o = ((oy + r) * side + ox + c) * 4;
        rgba[o] = v;
        rgba[o + 1] = v;
        rgba[o + 2] = v;
        rgba[o + 3] = 70 + (v * 185) / 255;
      }
    }
  }
  return new ImageData(rgba, side, side);
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
    request: ({ box }) => {
      const [x0, x1, y0, y1] = box;
      return api.decodeGrid({ x0, x1, y0, y1, n: GRID });
    },
    onAnswer(answer, { box, started }, seq) {
      onTiming("manifoldServer", answer.decode_ms);
      const bitmap = document.createElement("canvas");
      bitmap.width = bitmap.height = GRID * TILE;
      bitmap.getContext("2d").putImageData(tileBitmap(decodeImage(answer.images), GRID), 0, 0);
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
    requests.push({ box: plotViewport(plot(), scatterCanvas).visible(), started: performance.now() });
  }

  function viewChanged() {
    if (!on) return;
    draw(); // follow the camera at once with the grid we have
    clearTimeout(timer);
    timer = setTimeout(recompute, SETTLE_MS);
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
    /** The points moved (a new model): the same view means other latent points now. */
    refresh: () => {
      if (on) recompute();
    },
  };
}
