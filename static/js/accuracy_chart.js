// Accuracy against the number of labels, one point per evaluated session
// (status.evaluations, saved with the sessions, so it covers every session of the workspace).
// Solid: test split; dashed: blind accuracy (the labels given since the model was last saved,
// as the model predicted them before training on them). The labels axis is logarithmic, so
// 20, 100 and 60,000 labels all read. A point's title gives its numbers.
import { blindText, pct, testChange } from "./evaluation.js";
import { plural } from "./plural.js";

const SVG = "http://www.w3.org/2000/svg";
const MAX_TICKS = 6; // labels-axis ticks that fit under a side-column chart
const TICK_GAP = 0.12; // of the axis: a 1-2-5 end tick closer than this to another is dropped

/** The accuracy range shown: whole tenths around the data, at least a tenth wide. */
export function accuracyRange(values) {
  const finite = values.filter((v) => typeof v === "number" && Number.isFinite(v));
  if (!finite.length) return [0, 1];
  let low = Math.floor(Math.min(...finite) * 10) / 10;
  let high = Math.ceil(Math.max(...finite) * 10) / 10;
  if (high - low < 0.1) [low, high] = [Math.max(0, high - 0.1), Math.max(0.1, high)];
  return [Math.max(0, low), Math.min(1, high)];
}

/** 1, 2, 5, 10, 20, 50, ... from the one at or below `low` to the one at or above `high`. */
function steps125(low, high) {
  const out = [];
  for (let decade = 10 ** Math.floor(Math.log10(low)); decade <= high * 10; decade *= 10) {
    for (const m of [1, 2, 5]) out.push(m * decade);
  }
  const first = out.findLastIndex((v) => v <= low);
  const last = out.findIndex((v) => v >= high);
  return out.slice(Math.max(0, first), last + 1);
}

/**
 * The labels axis for label counts `low`..`high` (≥ 1): a log domain from the 1-2-5 value at or
 * below `low` to the one at or above `high` (at least one step wide), and its ticks: every
 * 1-2-5 value when few, else the powers of ten plus the ends that do not crowd them.
 */
export function labelsAxis(low, high) {
  const lo = Math.max(1, low);
  const hi = Math.max(lo, high);
  let values = steps125(lo, hi);
  if (values.length < 2) values = steps125(lo, hi * 2);
  const domain = [values[0], values.at(-1)];
  if (values.length <= MAX_TICKS) return { domain, ticks: values };
  const span = Math.log10(domain[1] / domain[0]);
  const at = (v) => Math.log10(v / domain[0]) / span;
  const ticks = values.filter((v) => Number.isInteger(Math.log10(v)));
  for (const end of [domain[0], domain[1]]) {
    if (!ticks.includes(end) && ticks.every((t) => Math.abs(at(t) - at(end)) >= TICK_GAP)) {
      ticks.push(end);
    }
  }
  return { domain, ticks: ticks.sort((a, b) => a - b) };
}

/** "20", "100", "1k", "60k": tick text that fits. */
export function tickText(value) {
  return value >= 1000 && value % 1000 === 0 ? `${value / 1000}k` : value.toLocaleString("en-US");
}

/**
 * Screen positions of the two series in a box of `width`×`height` with `pad` pixels for axes.
 * Sessions with the same number of labels share an x.
 */
export function chartGeometry(evaluations, { width, height, pad = 24 }) {
  const points = evaluations.filter((e) => typeof e.n_labeled === "number" && e.n_labeled > 0
    && (typeof e.test_accuracy === "number" || typeof e.blind_accuracy === "number"));
  const xs = points.map((e) => e.n_labeled);
  const axis = xs.length ? labelsAxis(Math.min(...xs), Math.max(...xs)) : labelsAxis(1, 1);
  const [x0, x1] = axis.domain;
  const [y0, y1] = accuracyRange(points.flatMap((e) => [e.test_accuracy, e.blind_accuracy]));
  const left = pad + 8;
  const right = width - 8;
  const top = 8;
  const bottom = height - pad;
  const sx = (x) => left + (Math.log10(x / x0) / Math.log10(x1 / x0)) * (right - left);
  const sy = (y) => bottom - ((y - y0) / (y1 - y0)) * (bottom - top);
  const series = (key) => points
    .filter((e) => typeof e[key] === "number")
    .map((e) => ({ x: sx(e.n_labeled), y: sy(e[key]), value: e[key], e }));
  return {
    test: series("test_accuracy"),
    blind: series("blind_accuracy"),
    box: { left, right, top, bottom },
    xTicks: axis.ticks,
    xAt: sx,
    yTicks: [y0, y1],
    yAt: sy,
  };
}

function node(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** A point's title: "session 3: 120 labels → test 61.0 % (−1.7), blind 70.0 %…". */
export function pointTitle(e) {
  const change = testChange(e);
  const test = `test ${pct(e.test_accuracy)}${change ? ` (${change.text})` : ""}`;
  return `session ${e.session}: ${plural(e.n_labeled, "label")} → ${test}, ${blindText(e)}`;
}

/** Draws the chart into `svg` (its size from its viewBox); hidden while nothing is evaluated. */
export function renderAccuracyChart(svg, evaluations) {
  const [width, height] = [svg.viewBox.baseVal.width || 240, svg.viewBox.baseVal.height || 120];
  const g = chartGeometry(Array.isArray(evaluations) ? evaluations : [], { width, height });
  svg.replaceChildren();
  const empty = g.test.length + g.blind.length === 0;
  svg.toggleAttribute("hidden", empty); // an SVG element has no `hidden` property
  svg.dataset.points = String(g.test.length);
  svg.dataset.blindPoints = String(g.blind.length);
  if (empty) return;
  const { left, right, top, bottom } = g.box;
  svg.append(node("path", { d: `M${left},${top}V${bottom}H${right}`, class: "axis" }));
  for (const y of g.yTicks) {
    svg.append(node("text", { x: left - 4, y: g.yAt(y) + 3, class: "tick", "text-anchor": "end" },
      `${Math.round(y * 100)}%`));
  }
  for (const x of g.xTicks) {
    const at = g.xAt(x);
    svg.append(node("path", { d: `M${at.toFixed(1)},${bottom}v3`, class: "axis" }));
    svg.append(node("text",
      { x: at, y: bottom + 12, class: "tick x-tick", "text-anchor": "middle" }, tickText(x)));
  }
  svg.append(node("text", { x: right, y: bottom + 22, class: "tick", "text-anchor": "end" },
    "labels (log scale)"));
  for (const [name, pts] of [["blind", g.blind], ["test", g.test]]) {
    if (pts.length > 1) {
      const d = pts.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join("");
      svg.append(node("path", { d, class: `line ${name}` }));
    }
    for (const p of pts) {
      const dot = node("circle", { cx: p.x.toFixed(1), cy: p.y.toFixed(1), r: 3, class: `dot ${name}` });
      dot.append(node("title", {}, pointTitle(p.e)));
      svg.append(dot);
    }
  }
}
