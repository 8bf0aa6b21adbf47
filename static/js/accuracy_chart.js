// Test accuracy against the number of labels, one point per evaluated session
// (status.evaluations, saved with the sessions, so it covers every session of the workspace).
// Solid: test split; dashed: the person's own labels. A point's title gives its numbers.
import { plural } from "./plural.js";

const SVG = "http://www.w3.org/2000/svg";
const pct = (x) => `${(x * 100).toFixed(1)} %`;

/** The accuracy range shown: whole tenths around the data, at least a tenth wide. */
export function accuracyRange(values) {
  const finite = values.filter((v) => typeof v === "number" && Number.isFinite(v));
  if (!finite.length) return [0, 1];
  let low = Math.floor(Math.min(...finite) * 10) / 10;
  let high = Math.ceil(Math.max(...finite) * 10) / 10;
  if (high - low < 0.1) [low, high] = [Math.max(0, high - 0.1), Math.max(0.1, high)];
  return [Math.max(0, low), Math.min(1, high)];
}

/**
 * Screen positions of the two series in a box of `width`×`height` with `pad` pixels for axes.
 * Sessions with the same number of labels share an x; a single x sits in the middle.
 */
export function chartGeometry(evaluations, { width, height, pad = 24 }) {
  const points = evaluations.filter((e) => typeof e.n_labeled === "number"
    && (typeof e.test_accuracy === "number" || typeof e.labeled_accuracy === "number"));
  const xs = points.map((e) => e.n_labeled);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = accuracyRange(points.flatMap((e) => [e.test_accuracy, e.labeled_accuracy]));
  const left = pad + 8;
  const right = width - 8;
  const top = 8;
  const bottom = height - pad;
  const sx = (x) => (x1 === x0 ? (left + right) / 2 : left + ((x - x0) / (x1 - x0)) * (right - left));
  const sy = (y) => bottom - ((y - y0) / (y1 - y0)) * (bottom - top);
  const series = (key) => points
    .filter((e) => typeof e[key] === "number")
    .map((e) => ({ x: sx(e.n_labeled), y: sy(e[key]), value: e[key], e }));
  return {
    test: series("test_accuracy"),
    labeled: series("labeled_accuracy"),
    box: { left, right, top, bottom },
    xTicks: x0 === x1 ? [x0] : [x0, x1],
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

function title(e) {
  const labels = plural(e.n_labeled, "label");
  const yours = typeof e.labeled_accuracy === "number" ? `, your labels ${pct(e.labeled_accuracy)}` : "";
  const test = typeof e.test_accuracy === "number" ? `test ${pct(e.test_accuracy)}` : "test –";
  return `session ${e.session}: ${labels} → ${test}${yours}`;
}

/** Draws the chart into `svg` (its size from its viewBox); hidden while nothing is evaluated. */
export function renderAccuracyChart(svg, evaluations) {
  const [width, height] = [svg.viewBox.baseVal.width || 240, svg.viewBox.baseVal.height || 120];
  const g = chartGeometry(Array.isArray(evaluations) ? evaluations : [], { width, height });
  svg.replaceChildren();
  const empty = g.test.length + g.labeled.length === 0;
  svg.toggleAttribute("hidden", empty); // an SVG element has no `hidden` property
  svg.dataset.points = String(g.test.length);
  if (empty) return;
  const { left, right, top, bottom } = g.box;
  svg.append(node("path", { d: `M${left},${top}V${bottom}H${right}`, class: "axis" }));
  for (const y of g.yTicks) {
    svg.append(node("text", { x: left - 4, y: g.yAt(y) + 3, class: "tick", "text-anchor": "end" },
      `${Math.round(y * 100)}%`));
  }
  for (const x of g.xTicks) {
    svg.append(node("text", { x: g.xAt(x), y: bottom + 12, class: "tick", "text-anchor": "middle" },
      x.toLocaleString("en-US")));
  }
  svg.append(node("text", { x: right, y: bottom + 22, class: "tick", "text-anchor": "end" },
    "labels"));
  for (const [name, pts] of [["labeled", g.labeled], ["test", g.test]]) {
    if (pts.length > 1) {
      const d = pts.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join("");
      svg.append(node("path", { d, class: `line ${name}` }));
    }
    for (const p of pts) {
      const dot = node("circle", { cx: p.x.toFixed(1), cy: p.y.toFixed(1), r: 3, class: `dot ${name}` });
      dot.append(node("title", {}, title(p.e)));
      svg.append(dot);
    }
  }
}
