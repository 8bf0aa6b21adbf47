// Training curves per epoch (total, reconstruction, KL and classification loss, and
// classification accuracy; train and validation), one uPlot each, under the plot. A key
// tells train (solid) from validation (dashed) without relying on colour; hovering any
// chart shows that epoch's values in every chart; "Expand" gives the curves most of the
// column. Dotted verticals mark where a new training session began. A line that has no
// values (validation classification: the validation images train unlabeled, so it has
// none; no session boundary yet) gets no key entry and no hover value.
import uPlot from "../vendor/uPlot.js";
import { formatTick, linearTicks, logRange, logTicks } from "./chart_ticks.js";

const CHARTS = [
  { key: "loss", title: "total loss (log)", log: true },
  { key: "reconstruction_loss", title: "reconstruction" },
  { key: "kl_loss", title: "KL" },
  { key: "classification_loss", title: "classification" },
  { key: "accuracy", title: "accuracy", percent: true },
];
const TRAIN = "#5b8ff9";
const VAL = "#f6bd16";
const VAL_DASH = [5, 4];
const AXIS = "#8b93a1";
const GRID = "rgba(255, 255, 255, 0.06)";
const COMPACT_MIN_HEIGHT = 72; // the plot's height follows the strip's (CSS), down to this
const EXPANDED_MIN_HEIGHT = 140;
const TICK_SPACE = 20; // px at least between two y ticks
const MIN_CHART_WIDTH = 120;
const EXPANDED_CHART_WIDTH = 220;
const SVG = "http://www.w3.org/2000/svg";

// Records come as EpochRecord dicts ({train: {loss}}); flat CSV-style keys also work.
function metric(record, split, key) {
  const v = record[split]?.[key] ?? record[`${split}_${key}`];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** A value as the chart heads show it: accuracy in %, losses to 3 significant digits. */
export function formatValue(v, percent = false) {
  if (v === null || v === undefined) return "–";
  if (percent) return `${(v * 100).toFixed(1)}%`;
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(3);
}

/**
 * Columns and rows of the chart grid for `count` charts in `width` px: compact puts them in
 * one row; expanded, as many of EXPANDED_CHART_WIDTH px as fit.
 */
export function chartGrid(count, width, expanded) {
  const columns = expanded
    ? Math.max(1, Math.min(count, Math.floor(width / EXPANDED_CHART_WIDTH)))
    : count;
  return { columns, rows: Math.ceil(count / columns) };
}

function sessionLines(u, boundaries) {
  const { ctx, bbox } = u;
  ctx.save();
  ctx.strokeStyle = "rgba(255, 255, 255, 0.35)";
  ctx.setLineDash([2, 3]);
  ctx.lineWidth = devicePixelRatio;
  for (const x of boundaries) {
    const px = Math.round(u.valToPos(x, "x", true));
    if (px < bbox.left || px > bbox.left + bbox.width) continue;
    ctx.beginPath();
    ctx.moveTo(px, bbox.top);
    ctx.lineTo(px, bbox.top + bbox.height);
    ctx.stroke();
  }
  ctx.restore();
}

/** A short line sample for the key: solid, dashed or dotted, in `color`. */
function lineSample(color, dash) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("width", "22");
  svg.setAttribute("height", "8");
  const line = document.createElementNS(SVG, "line");
  for (const [k, v] of [["x1", 1], ["y1", 4], ["x2", 21], ["y2", 4], ["stroke", color],
    ["stroke-width", 2]]) line.setAttribute(k, String(v));
  if (dash) line.setAttribute("stroke-dasharray", dash.join(" "));
  svg.append(line);
  return svg;
}

function keyItem(color, dash, text) {
  const item = document.createElement("span");
  item.hidden = true; // until its line has values
  item.className = "charts-key";
  item.dataset.series = text;
  item.append(lineSample(color, dash), text);
  return item;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function makeChart(spec, host, boundaries, onCursor) {
  const box = el("div", "chart");
  box.dataset.metric = spec.key;
  const head = el("div", "chart-head");
  const title = el("span", "chart-title", spec.title);
  // The latest epoch's values, or the hovered one's.
  const values = el("span", "chart-latest");
  values.title = "train / validation";
  head.append(title, values);
  const plotHost = document.createElement("div");
  box.append(head, plotHost);
  host.append(box);

  const chart = { spec, values, head, hasVal: false, ticks: [] };
  const axis = { stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { show: false },
    font: "10px system-ui, sans-serif", size: 28, gap: 2 };
  // Round y ticks inside the scale, as many as the plot's height holds (chart_ticks.js);
  // a log axis otherwise gets ticks at whole decades only.
  const y = {
    ...axis,
    size: spec.percent ? 38 : 42,
    splits: (u, _axis, min, max) => {
      const count = Math.max(2, Math.floor(u.bbox.height / devicePixelRatio / TICK_SPACE));
      chart.ticks = spec.log ? logTicks(min, max, count) : linearTicks(min, max, count);
      return chart.ticks;
    },
    filter: (u, ticks) => ticks, // uPlot's own log filter would blank all but decades
    values: (u, ticks) => ticks.map((t) => (spec.percent ? `${Math.round(t * 100)}%`
      : formatTick(t))),
  };
  chart.plot = new uPlot({
    width: MIN_CHART_WIDTH,
    height: COMPACT_MIN_HEIGHT,
    legend: { show: false },
    padding: [7, 6, 0, 0], // room for the top tick label; uPlot's own is wider
    cursor: { drag: { x: false, y: false }, points: { size: 5 }, sync: { key: "alctl-epochs" } },
    scales: {
      x: { time: false },
      y: spec.log ? { distr: 3, log: 10, range: (u, min, max) => logRange(min, max) }
        : spec.percent ? { range: [0, 1] } : { auto: true },
    },
    // Epochs are whole numbers: no 1.5 ticks.
    axes: [{ ...axis, size: 18, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }, y],
    series: [
      {},
      { label: "train", stroke: TRAIN, width: 1.5, spanGaps: true, points: { size: 4 } },
      { label: "validation", stroke: VAL, width: 1.5, dash: VAL_DASH, spanGaps: true,
        points: { size: 4 } },
    ],
    hooks: {
      draw: [(u) => sessionLines(u, boundaries)],
      setCursor: [(u) => onCursor(u.cursor.idx ?? null)],
    },
  }, [[], [], []], plotHost);
  return chart;
}

export function createCharts(host, column) {
  const boundaries = [];
  let records = [];
  let expanded = false;
  let hovered = null; // index into records under the cursor, or null: the latest
  let headHeight = 0; // the chart heads' height the plots were sized for

  const bar = el("div", "charts-bar");
  const expand = el("button", "charts-expand", "Expand ▴");
  expand.type = "button";
  expand.id = "charts-expand";
  expand.setAttribute("aria-expanded", "false");
  expand.title = "Give the training curves most of the column";
  const keys = { train: keyItem(TRAIN, null, "train"), val: keyItem(VAL, VAL_DASH, "validation"),
    session: keyItem("rgba(255,255,255,0.6)", [2, 3], "new session") };
  bar.append(el("span", "charts-heading", "Training curves"), keys.train, keys.val, keys.session,
    expand);
  const grid = el("div", "charts-grid");
  const empty = el("div", "charts-empty",
    "No epochs yet: the training curves appear here once training runs.");
  host.append(bar, grid, empty);

  function showValues() {
    const at = hovered ?? records.length - 1;
    const record = records[at];
    for (const { spec, values, hasVal } of charts) {
      values.textContent = "";
      values.title = hasVal ? "train / validation" : "train";
      if (!record) continue;
      if (hovered !== null) values.append(el("span", "chart-epoch", `#${record.global_epoch} `));
      const train = el("span", "", formatValue(metric(record, "train", spec.key), spec.percent));
      train.style.color = TRAIN;
      values.append(train);
      if (!hasVal) continue;
      const val = el("span", "", formatValue(metric(record, "val", spec.key), spec.percent));
      val.style.color = VAL;
      values.append(" / ", val);
    }
  }

  const charts = CHARTS.map((spec) => makeChart(spec, grid, boundaries, (idx) => {
    if (idx === hovered) return;
    hovered = idx;
    showValues();
  }));

  function render() {
    empty.hidden = records.length > 0;
    boundaries.length = 0;
    for (let i = 1; i < records.length; i++) {
      if (records[i].session !== records[i - 1].session) {
        boundaries.push((records[i].global_epoch + records[i - 1].global_epoch) / 2);
      }
    }
    const xs = records.map((r) => r.global_epoch);
    for (const chart of charts) {
      const { spec, plot } = chart;
      // A log axis cannot show zero or negative values.
      const clean = (v) => (spec.log && v !== null && v <= 0 ? null : v);
      const train = records.map((r) => clean(metric(r, "train", spec.key)));
      const val = records.map((r) => clean(metric(r, "val", spec.key)));
      chart.hasVal = val.some((v) => v !== null);
      if (plot.series[2].show !== chart.hasVal) plot.setSeries(2, { show: chart.hasVal });
      plot.setData([xs, train, val]);
    }
    keys.train.hidden = records.length === 0;
    keys.val.hidden = !charts.some((c) => c.hasVal);
    keys.session.hidden = boundaries.length === 0;
    hovered = null;
    showValues();
    // Values that wrap under their title take height from the plots.
    const head = Math.max(...charts.map((c) => c.head.offsetHeight));
    if (head !== headHeight) resize();
  }

  function resize() {
    const width = grid.clientWidth;
    if (width <= 0) return;
    const { columns, rows } = chartGrid(charts.length, width, expanded);
    grid.style.gridTemplateColumns = `repeat(${columns}, minmax(0, 1fr))`;
    const gap = 12;
    const chartWidth = Math.max(MIN_CHART_WIDTH, Math.floor((width - gap * (columns - 1)) / columns));
    // The rows share the strip's height (each row: a head, then the plot); the strip's
    // height is the stylesheet's, a share of the window's.
    const style = getComputedStyle(host);
    const padding = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
    const head = Math.max(...charts.map((c) => c.head.offsetHeight));
    headHeight = head;
    const free = host.clientHeight - padding - bar.offsetHeight - 2 - 4 * (rows - 1);
    const height = Math.max(expanded ? EXPANDED_MIN_HEIGHT : COMPACT_MIN_HEIGHT,
      Math.floor(free / rows) - head - 1);
    for (const { plot } of charts) plot.setSize({ width: chartWidth, height });
  }

  function setExpanded(next) {
    expanded = next;
    column.classList.toggle("curves-open", expanded);
    expand.textContent = expanded ? "Collapse ▾" : "Expand ▴";
    expand.setAttribute("aria-expanded", String(expanded));
    resize();
  }
  expand.addEventListener("click", () => setExpanded(!expanded));

  new ResizeObserver(resize).observe(host);

  return {
    /**
     * Takes /api/history's records. With `merge`, epochs newer than the list (events that
     * overtook the request) are kept.
     */
    setHistory(list, { merge = false } = {}) {
      const sorted = [...list].sort((a, b) => a.global_epoch - b.global_epoch);
      const newest = sorted.at(-1)?.global_epoch ?? -Infinity;
      const newer = merge ? records.filter((r) => r.global_epoch > newest) : [];
      records = [...sorted, ...newer];
      render();
    },
    /** Appends one train_epoch record (ignores a repeat of an epoch already shown). */
    add(record) {
      const last = records.at(-1);
      if (last && record.global_epoch <= last.global_epoch) {
        const at = records.findIndex((r) => r.global_epoch === record.global_epoch);
        if (at < 0) return;
        records[at] = record;
      } else {
        records.push(record);
      }
      render();
    },
    toggleExpanded: () => setExpanded(!expanded),
    /** What each chart shows, for tests: its plot area's CSS height and its y ticks. */
    describe: () => charts.map(({ spec, plot, ticks, hasVal }) => ({ metric: spec.key,
      height: plot.bbox.height / devicePixelRatio, ticks: [...ticks], validation: hasVal })),
    get expanded() {
      return expanded;
    },
    get count() {
      return records.length;
    },
  };
}
