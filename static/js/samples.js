// The sample panel: original and reconstruction painted pixel-exact, plus the facts.
// Samples are cached (and prefetched on hover) so a click paints from memory.
import { decodeImage } from "./api.js";
import { CLASS_COLORS } from "./palette.js";

const CACHE_SIZE = 400;

function paint(canvas, pixels) {
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(28, 28);
  const rgba = image.data;
  for (let i = 0; i < pixels.length; i++) {
    const v = pixels[i];
    rgba[4 * i] = v;
    rgba[4 * i + 1] = v;
    rgba[4 * i + 2] = v;
    rgba[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

function blank(canvas) {
  canvas.getContext("2d").clearRect(0, 0, 28, 28);
}

/** "3 · Dress" with a colour swatch, or a dash. */
function classText(cell, state, cls, suffix = "") {
  cell.textContent = "";
  if (cls === null || cls < 0) {
    cell.textContent = "–";
    return;
  }
  const swatch = document.createElement("span");
  swatch.className = "swatch";
  swatch.style.background = CLASS_COLORS[cls];
  cell.append(swatch, `${cls} · ${state.classNames[cls] ?? ""}${suffix}`);
}

/**
 * @param {object} deps
 * @param {object} deps.api
 * @param {object} deps.state     typed columns (truth, pred, certainty, user)
 * @param {object} deps.els       {index, original, recon, truth, pred, label}
 * @param {(ms: number) => void} deps.onPainted  click-to-paint time, for the timings hook
 */
export function createSamplePanel({ api, state, els, onPainted }) {
  const cache = new Map(); // serial -> {promise, ready}; insertion order = LRU
  let current = null;
  let request = 0;

  function load(serial) {
    let entry = cache.get(serial);
    if (entry) {
      cache.delete(serial); // re-inserted below: most recently used last
    } else {
      entry = { ready: false };
      entry.promise = api.sample(serial).then((body) => {
        entry.ready = true;
        return {
          original: decodeImage(body.original),
          recon: body.recon ? decodeImage(body.recon) : null,
        };
      });
      entry.promise.catch(() => cache.delete(serial));
    }
    cache.set(serial, entry);
    if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value);
    return entry.promise;
  }

  function renderFacts() {
    if (current === null) {
      els.index.textContent = "none selected";
      for (const cell of [els.truth, els.pred, els.label]) cell.textContent = "–";
      return;
    }
    const i = current;
    els.index.textContent = `#${i}`;
    classText(els.truth, state, state.truth[i]);
    const certainty = ` (${(state.certainty[i] * 100).toFixed(1)}%)`;
    classText(els.pred, state, state.pred[i], certainty);
    classText(els.label, state, state.user[i] >= 0 ? state.user[i] : null);
    els.label.classList.toggle("unlabeled", state.user[i] < 0);
  }

  async function show(serial, startedAt = performance.now()) {
    current = serial;
    const mine = ++request;
    const box = els.original.closest(".images");
    renderFacts();
    delete box.dataset.painted;
    if (serial === null) {
      blank(els.original);
      blank(els.recon);
      return;
    }
    box.classList.add("loading");
    try {
      const sample = await load(serial);
      if (mine !== request) return;
      paint(els.original, sample.original);
      if (sample.recon) paint(els.recon, sample.recon);
      else blank(els.recon);
      box.dataset.painted = String(serial); // which sample the images show (tests read it)
      onPainted(performance.now() - startedAt);
    } catch (error) {
      if (mine === request) {
        blank(els.original);
        blank(els.recon);
        throw error;
      }
    } finally {
      if (mine === request) box.classList.remove("loading");
    }
  }

  return {
    show,
    prefetch(serial) {
      if (serial !== null && !cache.has(serial)) load(serial).catch(() => {});
    },
    /** Whether the images of `serial` are in memory (a click paints them at once). */
    has(serial) {
      return cache.get(serial)?.ready === true;
    },
    /** Labels or predictions changed: redraw the text, keep the images. */
    refreshFacts: renderFacts,
    /** New model outputs: reconstructions are stale. */
    invalidate() {
      cache.clear();
      if (current !== null) show(current).catch(() => {});
    },
    get current() {
      return current;
    },
  };
}
