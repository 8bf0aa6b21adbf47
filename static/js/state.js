// The page's state: one object of typed columns (no per-point objects, so 1M points fit)
// plus a few scalars. Modules read it; only the owners named in app.js write to it.
import { certaintyValue, encode } from "./palette.js";

const TIMINGS_KEPT = 200;

function columns(n) {
  return {
    n,
    x: new Float32Array(n),
    y: new Float32Array(n),
    certainty: new Float32Array(n),
    pred: new Int8Array(n),
    truth: new Int8Array(n),
    user: new Int8Array(n).fill(-1), // what the page shows (optimistic)
    confirmed: new Int8Array(n).fill(-1), // what the server acknowledged
    code: new Uint16Array(n), // palette.js category code, uploaded as valueA
    valueB: new Float32Array(n), // rescaled certainty, uploaded as valueB
  };
}

export function createState(config) {
  const state = {
    ...columns(config.n_samples),
    classNames: config.class_names,
    dataset: config.dataset,
    mode: "user",
    selected: null,
    labelsVersion: null,
    latentVersion: null,
    stats: null,
    connection: "connecting",
    // Recent interaction times in ms (bounded), read by benchmarks through window.alctl.
    timings: { modeSwitch: [], samplePaint: [], labelRecolor: [], pointsLoad: [],
      pointsFetch: [], pointsAdopt: [],
      decodePreview: [], manifoldServer: [], manifoldPaint: [],
      queueNext: [] },
  };

  /** Takes a decoded /api/points payload; labels already on the page are kept. */
  state.adoptPoints = (points) => {
    if (points.n !== state.n) Object.assign(state, columns(points.n));
    state.x = points.x;
    state.y = points.y;
    state.certainty = points.certainty;
    state.pred = points.pred;
    state.truth = points.truth;
    for (let i = 0; i < state.n; i++) {
      state.code[i] = encode(state.user[i], points.pred[i], points.truth[i]);
      state.valueB[i] = certaintyValue(points.certainty[i]);
    }
  };
  return state;
}

export function recordTiming(state, name, ms) {
  const list = state.timings[name];
  list.push(ms);
  if (list.length > TIMINGS_KEPT) list.splice(0, list.length - TIMINGS_KEPT);
}

/** Versions may arrive as numbers or strings (the X-Latent-Version header). */
export function sameVersion(a, b) {
  return a !== null && a !== undefined && b !== null && b !== undefined && String(a) === String(b);
}
