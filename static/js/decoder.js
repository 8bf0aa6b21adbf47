// The decoder view (key m): moving over any place of the plot, empty or not, shows what the
// decoder draws at that latent point, beside the cursor, with the classifier's reading there.
// A classifier that reads the encoder's features has no reading at a bare point of the
// plane; on the data the caption then gives the prediction of the image under the cursor,
// off it, says that there is none.
// Requests go out on every move (no frame wait: software WebGL frames are slow); at most
// two are in flight, the newest move waits for a free slot, and an answer older than the
// one on screen is dropped, so a stale image never replaces a newer one (createLatestOnly).
import { decodeImage } from "./api.js";
import { CLASS_COLORS } from "./palette.js";
import { placeCard } from "./placement.js";
import { plotViewport, pointNear } from "./viewport.js";

const OFFSET_PX = 18; // the preview sits this far right/below the cursor

/** Paints 28×28 grey pixels into a canvas of that size. */
export function paintGrey(canvas, pixels) {
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = pixels[i];
    image.data[4 * i] = v;
    image.data[4 * i + 1] = v;
    image.data[4 * i + 2] = v;
    image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

/** "other components at the mean" text for a latent of more than 2 dimensions, else "". */
export function viewNote(answer) {
  if (!answer || !(answer.latent_dim > 2)) return "";
  return `The plot shows the first two principal components of a ${answer.latent_dim}-D latent; `
    + "decoded with every other component at the data's mean.";
}

/**
 * Newest-wins requests: `push(item)` sends at once while fewer than `maxInFlight` are out,
 * else keeps only the newest waiting item for the next free slot. `onAnswer` runs only for
 * an answer newer than the last one shown; `clear()` drops the waiting item and every answer
 * still out.
 */
export function createLatestOnly({ request, onAnswer, onError, maxInFlight = 2 }) {
  let sent = 0; // sequence number of the last request sent
  let shown = 0; // sequence number of the answer on screen
  let floor = 0; // answers at or below this were cleared
  let inFlight = 0;
  let waiting = null;

  async function send(item) {
    const seq = ++sent;
    inFlight++;
    try {
      const answer = await request(item);
      if (seq > shown && seq > floor) {
        shown = seq;
        onAnswer(answer, item, seq);
      }
    } catch (error) {
      if (seq > floor) onError(error, item);
    } finally {
      inFlight--;
      if (waiting && inFlight < maxInFlight) {
        const next = waiting;
        waiting = null;
        send(next);
      }
    }
  }

  return {
    push(item) {
      if (inFlight < maxInFlight) send(item);
      else waiting = item;
    },
    clear() {
      waiting = null;
      floor = sent;
    },
  };
}

/** The caption's parts: "3 · Dress" with its swatch, then `muted` (certainty, whose it is). */
function reading(cls, classNames, muted) {
  const swatch = document.createElement("span");
  swatch.className = "swatch";
  swatch.style.background = CLASS_COLORS[cls];
  const note = document.createElement("span");
  note.className = "muted";
  note.textContent = muted;
  return [swatch, `${cls} · ${classNames[cls] ?? ""} `, note];
}

/**
 * @param {object} deps  {api, plot(), canvas, els: {preview, image, caption, note, button},
 *   classNames, onPainted(ms), onError(message), avoid(): boxes the preview must not cover
 *   (the legend), points: {x, y, pred, certainty} (the page's columns, read at each move),
 *   onShow(): the view was switched on (the page closes its hover card)}
 */
export function createDecoderView({
  api, plot, canvas, els, classNames, onPainted, onError, avoid = () => [], points = null,
  onShow = () => {},
}) {
  let on = false;
  let painted = false; // the preview holds an image from this decoder session
  let lastError = "";

  /** The caption for an answer at a place where image `near` lies (or null: none). */
  function caption(answer, near) {
    if (answer.pred !== null) {
      const pct = Math.round(answer.certainty[0] * 100);
      return reading(answer.pred[0], classNames, `${pct}%`);
    }
    if (near === null || !points) return ["no prediction off the data"];
    const pct = Math.round(points.certainty[near] * 100);
    return [`#${near} here: `, ...reading(points.pred[near], classNames, `${pct}%`)];
  }

  const requests = createLatestOnly({
    request: (move) => api.decodePoint(move.x, move.y),
    onAnswer(answer, move, seq) {
      paintGrey(els.image, decodeImage(answer.images));
      els.caption.replaceChildren(...caption(answer, move.near));
      els.note.textContent = viewNote(answer);
      els.preview.dataset.seq = String(seq);
      painted = true;
      els.preview.hidden = false;
      onPainted(performance.now() - move.t);
      lastError = "";
    },
    onError(error) {
      if (error.message !== lastError) onError(`Could not decode here: ${error.message}`);
      lastError = error.message;
    },
  });

  function onMove(event) {
    if (!on) return;
    const rect = canvas.getBoundingClientRect();
    const sx = event.clientX - rect.left;
    const sy = event.clientY - rect.top;
    if (sx < 0 || sy < 0 || sx > rect.width || sy > rect.height) return;
    const viewport = plotViewport(plot(), canvas);
    const [x, y] = viewport.toPage(sx, sy);
    const near = points ? pointNear(viewport, points.x, points.y, sx, sy) : null;
    // Beside the cursor, flipped near the edges, never over the legend.
    const size = { width: els.preview.offsetWidth || 120, height: els.preview.offsetHeight || 140 };
    const [left, top] = placeCard([sx, sy], size, rect, avoid(), OFFSET_PX);
    els.preview.style.transform = `translate(${left}px, ${top}px)`;
    els.preview.hidden = !painted; // no empty frame before the first image
    requests.push({ x, y, near, t: event.timeStamp || performance.now() });
  }

  canvas.addEventListener("pointermove", onMove);
  // In the decoder view the preview replaces the scatter's hover: a hover highlight redraws
  // every point (~100 ms a frame in software WebGL) and would hold up the preview's paint.
  // Only button-less moves over the plot are kept from the scatter, so dragging still pans.
  window.addEventListener("mousemove", (event) => {
    if (on && event.buttons === 0 && event.target === canvas) event.stopImmediatePropagation();
  }, true);
  canvas.addEventListener("pointerleave", () => {
    els.preview.hidden = true;
  });

  function set(next) {
    on = next;
    els.button.setAttribute("aria-pressed", String(on));
    document.body.classList.toggle("decoder-on", on);
    if (on) onShow();
    else {
      els.preview.hidden = true;
      painted = false;
      requests.clear();
    }
  }

  return {
    get on() {
      return on;
    },
    toggle: () => set(!on),
    /** New model outputs: the preview on screen was decoded by the old model. */
    refresh() {
      els.preview.hidden = true;
      painted = false;
      requests.clear();
    },
  };
}
