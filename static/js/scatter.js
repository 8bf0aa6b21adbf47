// The latent scatter: a thin wrapper over regl-scatterplot that owns the GPU-side columns
// (x, y, category code, certainty), serialises draw calls (the library rejects a draw while
// another one runs) and keeps a DOM ring on the selected point.
import createScatterplot, { createRegl, createRenderer } from "../vendor/regl-scatterplot.js";
import { createLevelOfDetail } from "./detail.js";
import { createDemandFrames } from "./frames.js";
import { BACKGROUND, buildModeSettings } from "./palette.js";
import {
  ZOOM_LIMITS, fitArea, plotViewport, pointBounds, refitNeeded,
} from "./viewport.js";

const POINT_SIZE = 3;
// From here on, squares without alpha blending (the library's performance mode).
const LARGE = 500_000;
const TRANSITION_MS = 700;
const DIMMED = 0.35; // opacity of the points outside a batch selection
// Drawing labeled points last costs O(N) per label change; beyond this it is skipped.
const POINT_ORDER_LIMIT = 250_000;
const FIT_MS = 300;

/**
 * @param {object} opts
 * @param {HTMLCanvasElement} opts.canvas
 * @param {HTMLElement} opts.ring  overlay marking the selected point
 * @param {number} opts.count  expected number of points (picks the rendering mode)
 * @param {(index: number|null, points?: number[]) => void} opts.onSelect  user clicked a
 *   point or the background, or closed a lasso (`points`: everything it caught)
 * @param {(index: number|null) => void} opts.onHover
 */
export function createScatter({ canvas, ring, count, onSelect, onHover }) {
  const container = canvas.parentElement;
  const { width, height } = container.getBoundingClientRect();
  // The library's default renderer is window-sized; in software WebGL every pixel of its
  // float framebuffer costs time each frame, so ours matches the plot area instead.
  const offscreen = document.createElement("canvas");
  const frames = createDemandFrames(createRegl(offscreen));
  const glRenderer = rendererName(frames.regl._gl);
  const renderer = createRenderer({ canvas: offscreen, regl: frames.regl });
  renderer.resize(Math.max(1, width), Math.max(1, height));
  renderer.refresh();
  // The library copies each frame onto this 2-D canvas (clearRect, then drawImage of the
  // points on a transparent background). Claimed opaque first (the library then gets the
  // same context), the compositor need not blend it over, or draw, what lies under it: a
  // quarter less CPU for every frame of the page in software compositing. An opaque canvas
  // clears to black, so here clearing paints the plot's background instead.
  const ctx = canvas.getContext("2d", { alpha: false });
  ctx.clearRect = (x, y, w, h) => {
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(x, y, w, h);
  };
  const plot = createScatterplot({
    canvas,
    renderer,
    width: Math.max(1, width),
    height: Math.max(1, height),
    backgroundColor: BACKGROUND,
    pointSize: POINT_SIZE,
    pointSizeSelected: 5,
    pointOutlineWidth: 2,
    opacityInactiveScale: 1,
    // Shift+drag draws a lasso (static/js/batch.js); no rotation: a plain click picks one.
    actionKeyMap: { lasso: "shift" },
    deselectOnDblClick: false,
    deselectOnEscape: false, // the page's own keys decide (Escape in a field only leaves it)
    performanceMode: count >= LARGE,
    // Deliver select/hover at once rather than after the next (in software WebGL ~100 ms)
    // frame, so the sample panel can paint before the scatter redraws.
    syncEvents: true,
  });
  const modes = buildModeSettings(count >= LARGE ? 1 : POINT_SIZE);
  // Zooming further in than this shows an empty plot; further out, a dot.
  plot.get("camera").setScaleBounds([ZOOM_LIMITS, ZOOM_LIMITS]);

  let columns = null; // { x, y, valueA (Uint16 codes), valueB (Float32) }
  let spatialIndex = null;
  let mode = "user";
  let selected = null;
  let transitioning = false;
  let labeledDrawnLast = ""; // signature of the labeled set the draw order puts on top
  let orderFrom = null; // user labels whose draw order is still to be applied
  let pending = null;
  let busy = false;
  let fitted = false; // the first points are fit to the plot once drawn
  let refits = 0;

  async function runDraws() {
    busy = true;
    while (pending) {
      const job = pending;
      pending = null;
      const options = { zDataType: "categorical", wDataType: "continuous",
        preventFilterReset: true };
      if (!job.positions && spatialIndex) options.spatialIndex = spatialIndex;
      if (job.transition) {
        options.transition = true;
        options.transitionDuration = TRANSITION_MS;
      }
      try {
        // Applied between draws: during one the library would drop the new order.
        if (orderFrom) setPointOrder(orderFrom);
        orderFrom = null;
        const release = frames.hold(); // the library finishes a draw in later frames
        try {
          await plot.draw(columns, options);
        } finally {
          release();
        }
        if (job.positions) {
          spatialIndex = plot.get("spatialIndex");
          // New positions (a training session moved every point): refit the view when
          // they leave it, keep it when they fit.
          if (!fitted || refitNeeded(bounds(), plotViewport(plot, canvas).visible())) {
            await fit(fitted);
          }
          fitted = true;
        }
      } catch (error) {
        console.error("scatter draw failed", error);
      }
      for (const resolve of job.done) resolve();
    }
    busy = false;
  }

  /** Queues a draw; jobs that wait merge into one. Resolves once it is on screen. */
  function schedule(positions, transition) {
    return new Promise((resolve) => {
      if (pending) {
        pending.positions ||= positions;
        pending.transition ||= transition;
        pending.done.push(resolve);
      } else {
        pending = { positions, transition, done: [resolve] };
      }
      if (!busy) runDraws();
    });
  }

  const bounds = () => pointBounds(columns.x, columns.y);

  /** Zooms to every point, with a margin (animated unless it is the first view). */
  async function fit(transition) {
    if (!columns) return;
    refits++;
    detail.moving();
    const release = frames.hold(); // the camera moves over the next frames
    try {
      await plot.zoomToArea(fitArea(bounds()),
        transition ? { transition: true, transitionDuration: FIT_MS } : {});
    } finally {
      release();
    }
  }

  function placeRing() {
    if (selected === null || transitioning || !columns) {
      ring.hidden = true;
      return;
    }
    const pos = plot.getScreenPosition(selected);
    if (!pos) return;
    ring.hidden = false;
    ring.style.transform = `translate(${pos[0]}px, ${pos[1]}px)`;
  }

  // Labeled points are drawn last (on top). The library draws the listed indices first and
  // needs a plain Array, so the order lists every point: unlabeled, then labeled.
  function setPointOrder(user) {
    if (!columns || columns.x.length > POINT_ORDER_LIMIT) return;
    const n = user.length;
    let labeled = 0;
    let signature = 0; // count and index sum: changes whenever the labeled set does
    for (let i = 0; i < n; i++) {
      if (user[i] >= 0) {
        labeled++;
        signature += i + 1;
      }
    }
    const key = `${labeled}:${signature}`;
    if (key === labeledDrawnLast) return;
    labeledDrawnLast = key;
    const order = new Array(n);
    let front = 0;
    let back = n - labeled;
    for (let i = 0; i < n; i++) {
      if (user[i] >= 0) order[back++] = i;
      else order[front++] = i;
    }
    plot.set({ pointOrder: order });
  }

  // Input on the plot, and every draw (transitions and camera animations draw frame after
  // frame), keep the frame loop running; otherwise it rests.
  for (const type of ["pointerdown", "pointermove", "pointerup", "pointerleave", "wheel"]) {
    container.addEventListener(type, () => frames.wake(), { capture: true, passive: true });
  }
  plot.subscribe("draw", () => frames.wake());
  // The camera pans, once a frame, by how far the pointer moved since the frame before while
  // the button is down. A move no frame has seen yet when the button goes down (a tap; a quick
  // move and click while a frame takes long; the first click after the loop rested) would pan
  // the view by that whole move, and the click would pick the point carried under the pointer
  // (often the one clicked before). Ticking the camera before its own mousedown handler runs
  // starts the drag at the press; a view change that tick takes is handed on to the next frame.
  container.addEventListener("mousedown", () => {
    const camera = plot.get("camera");
    if (camera.tick()) camera.setView(camera.view);
  }, { capture: true, passive: true });
  // A drag or the wheel moves the view: very large scatters draw a sample meanwhile.
  const detail = createLevelOfDetail(plot, () => selected, () => frames.wake());
  const options = { capture: true, passive: true };
  container.addEventListener("pointermove", (event) => {
    if (event.buttons & 1) detail.moving();
  }, options);
  container.addEventListener("wheel", () => detail.moving(), options);

  // A click selects inside the library (which redraws by itself); remember it so that the
  // app's echo through select() does not cost another frame.
  plot.subscribe("select", ({ points }) => {
    if (!points.length) return;
    selected = points[points.length - 1];
    placeRing();
    onSelect(selected, points);
  });
  plot.subscribe("deselect", () => {
    if (selected === null) return;
    selected = null;
    placeRing();
    onSelect(null);
  });
  plot.subscribe("pointover", (index) => onHover(index));
  plot.subscribe("pointout", () => onHover(null));
  plot.subscribe("view", placeRing);
  plot.subscribe("draw", placeRing);
  plot.subscribe("transitionStart", () => {
    frames.wake(TRANSITION_MS);
    transitioning = true;
    placeRing();
  });
  plot.subscribe("transitionEnd", () => {
    transitioning = false;
    placeRing();
  });

  const resize = new ResizeObserver(() => {
    const rect = container.getBoundingClientRect();
    if (rect.width > 0 && rect.height > 0) {
      renderer.resize(rect.width, rect.height);
      renderer.refresh();
      frames.wake();
      plot.set({ width: rect.width, height: rect.height });
      placeRing();
    }
  });
  resize.observe(container);

  return {
    plot,
    get mode() {
      return mode;
    },
    get selected() {
      return selected;
    },
    /** Uploads new columns; resolves once they are drawn (after the transition, if any). */
    setColumns(next, { transition = false, user = null } = {}) {
      const sameSize = columns !== null && columns.x.length === next.x.length;
      columns = next;
      detail.setCount(next.x.length);
      if (!sameSize) {
        selected = null;
        labeledDrawnLast = "";
        plot.set(modes[mode]);
      }
      if (user) orderFrom = user;
      return schedule(true, transition && sameSize);
    },
    /** Re-uploads the category codes after labels changed; positions stay indexed. */
    valuesChanged(user) {
      if (!columns) return Promise.resolve();
      if (user) orderFrom = user;
      return schedule(false, false);
    },
    setMode(next) {
      mode = next;
      frames.wake();
      plot.set(modes[next]);
    },
    select(index) {
      if (index === selected || !columns) return;
      selected = index;
      if (plot.get("opacityInactiveScale") !== 1) plot.set({ opacityInactiveScale: 1 });
      frames.wake();
      if (index === null) plot.deselect({ preventEvent: true });
      else plot.select([index], { preventEvent: true });
      placeRing();
    },
    /** Highlights a batch and dims the other points (1 or 0 points: back to normal). */
    selectMany(indices) {
      if (!columns) return;
      selected = indices.length ? indices[indices.length - 1] : null;
      plot.set({ opacityInactiveScale: indices.length > 1 ? DIMMED : 1 });
      if (indices.length) plot.select(indices, { preventEvent: true });
      else plot.deselect({ preventEvent: true });
      placeRing();
      frames.wake();
    },
    /** Pans (keeping the zoom) when the point is outside the visible area. */
    reveal(index) {
      if (!columns) return;
      const pos = plot.getScreenPosition(index);
      const rect = container.getBoundingClientRect();
      const margin = 24;
      if (pos && pos[0] > margin && pos[1] > margin && pos[0] < rect.width - margin
        && pos[1] < rect.height - margin) return;
      frames.wake();
      detail.moving();
      plot.zoomToLocation([columns.x[index], columns.y[index]], plot.get("cameraDistance"),
        { transition: true, transitionDuration: 300 });
    },
    /** Back to every point in view, with a margin (key r). */
    resetView() {
      return fit(true);
    },
    /** How often the view was fit to the points (the first view counts). */
    get refits() {
      return refits;
    },
    /** Resolves at the next frame the library draws (after a mode switch, say). */
    nextFrame() {
      frames.wake();
      return new Promise((resolve) => plot.subscribe("draw", () => resolve(), 1));
    },
    get busy() {
      return busy;
    },
    /** True while a moving view draws only a sample of the points. */
    get reduced() {
      return detail.reduced;
    },
    /** True while the frame loop runs (it rests when nothing changes). */
    get animating() {
      return frames.awake;
    },
    /** The WebGL renderer's name ("… SwiftShader …" without a GPU), or null if hidden. */
    glRenderer,
  };
}

function rendererName(gl) {
  const info = gl?.getExtension("WEBGL_debug_renderer_info");
  return info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : null;
}
