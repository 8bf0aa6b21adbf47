// Colour modes. Every point carries one category code in valueA,
//   code = (user label + 1) * 100 + predicted * 10 + truth   (0 ... 1099),
// and its rescaled certainty in valueB, so switching modes only swaps the colour lookup
// table on the GPU: positions and values are never uploaded again.

// The colours live in static/palette.json, which the static report reads too.
import palette from "../palette.json" with { type: "json" };

export const CLASS_COLORS = Object.freeze([...palette.classes]);
export const UNLABELED_COLOR = palette.unlabeled;
export const BACKGROUND = palette.background;
export const CODE_COUNT = 1100;

// Uncertain points are the interesting ones for labeling, so they get the bright end.
const CERTAINTY_STOPS = [
  [0.0, [255, 226, 110]],
  [0.35, [240, 120, 70]],
  [0.7, [150, 70, 140]],
  [1.0, [52, 66, 110]],
];
const CERTAINTY_STEPS = 64;
// Max-softmax over 10 classes never falls below 0.1; stretch [0.1, 1] over the scale.
export const CERTAINTY_MIN = 0.1;

export const MODES = {
  user: { title: "User labels", key: "u" },
  pred: { title: "Predicted class", key: "p" },
  certainty: { title: "Prediction certainty", key: "c" },
  truth: { title: "Ground truth", key: "g" },
};

export function encode(user, pred, truth) {
  const p = pred >= 0 && pred <= 9 ? pred : 0;
  const t = truth >= 0 && truth <= 9 ? truth : 0;
  return (user >= 0 && user <= 9 ? user + 1 : 0) * 100 + p * 10 + t;
}

export function withUser(code, user) {
  return (user >= 0 ? user + 1 : 0) * 100 + (code % 100);
}

export function certaintyValue(certainty) {
  const v = (certainty - CERTAINTY_MIN) / (1 - CERTAINTY_MIN);
  return v > 0 ? (v < 1 ? v : 1) : 0;
}

/** The class a code shows in a categorical mode; -1 for "unlabeled". */
export function classOf(mode, code) {
  if (mode === "user") return Math.floor(code / 100) - 1;
  if (mode === "pred") return Math.floor(code / 10) % 10;
  return code % 10;
}

function hex(rgb) {
  return `#${rgb.map((c) => Math.round(c).toString(16).padStart(2, "0")).join("")}`;
}

export function certaintyColor(value) {
  for (let i = 1; i < CERTAINTY_STOPS.length; i++) {
    const [t1, c1] = CERTAINTY_STOPS[i];
    if (value <= t1) {
      const [t0, c0] = CERTAINTY_STOPS[i - 1];
      const f = (value - t0) / (t1 - t0);
      return hex(c0.map((c, k) => c + (c1[k] - c) * f));
    }
  }
  return hex(CERTAINTY_STOPS.at(-1)[1]);
}

function categorical(mode) {
  const colors = new Array(CODE_COUNT);
  for (let code = 0; code < CODE_COUNT; code++) {
    const cls = classOf(mode, code);
    colors[code] = cls < 0 ? UNLABELED_COLOR : CLASS_COLORS[cls];
  }
  return colors;
}

/**
 * regl-scatterplot settings per mode, built once. In user mode labeled points are larger
 * and opaque so a few labels stand out among 60k grey points.
 */
export function buildModeSettings(pointSize) {
  const userSizes = new Array(CODE_COUNT);
  const userOpacity = new Array(CODE_COUNT);
  for (let code = 0; code < CODE_COUNT; code++) {
    const labeled = code >= 100;
    userSizes[code] = labeled ? pointSize * 2.2 : pointSize;
    userOpacity[code] = labeled ? 1 : 0.45;
  }
  const certainty = Array.from({ length: CERTAINTY_STEPS }, (_, i) =>
    certaintyColor(i / (CERTAINTY_STEPS - 1)));
  const flat = { sizeBy: null, opacityBy: null, pointSize, opacity: 0.8 };
  return {
    user: { colorBy: "valueA", pointColor: categorical("user"), sizeBy: "valueA",
      pointSize: userSizes, opacityBy: "valueA", opacity: userOpacity },
    pred: { colorBy: "valueA", pointColor: categorical("pred"), ...flat },
    truth: { colorBy: "valueA", pointColor: categorical("truth"), ...flat },
    certainty: { colorBy: "valueB", pointColor: certainty, ...flat },
  };
}

/** The colour a point shows in a mode (what the GPU picks), for tooltips and tests. */
export function pointColor(mode, code, certaintyValue01) {
  if (mode === "certainty") {
    const step = Math.floor(certaintyValue01 * (CERTAINTY_STEPS - 1));
    return certaintyColor(step / (CERTAINTY_STEPS - 1));
  }
  const cls = classOf(mode, code);
  return cls < 0 ? UNLABELED_COLOR : CLASS_COLORS[cls];
}
