// Loss curves per epoch (total, reconstruction, KL, classification; train and validation),
// one small uPlot each. Dashed verticals mark where a new training session began.
import uPlot from "../vendor/uPlot.js";

const CHARTS = [
  { key: "loss", title: "total", log: true },
  { key: "reconstruction_loss", title: "reconstruction" },
  { key: "kl_loss", title: "KL" },
  { key: "classification_loss", title: "classification" },
];
const TRAIN = "#5b8ff9";
const VAL = "#f6bd16";
const AXIS = "#8b93a1";
const GRID = "rgba(255, 255, 255, 0.06)";
const HEIGHT = 118;

// Records come as EpochRecord dicts ({train: {loss}}); flat CSV-style keys also work.
function metric(record, split, key) {
  const v = record[split]?.[key] ?? record[`${split}_${key}`];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

const short = (v) => (v === null ? "–" : Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(3));

function sessionLines(u, boundaries) {
  const { ctx, bbox } = u;
  ctx.save();
  ctx.strokeStyle = "rgba(255, 255, 255, 0.35)";
  ctx.setLineDash([3, 3]);
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

function makeChart(spec, host, boundaries) {
  const box = document.createElement("div");
  box.className = "chart";
  const head = document.createElement("div");
  head.className = "chart-head";
  const title = document.createElement("span");
  title.className = "chart-title";
  title.textContent = spec.log ? `${spec.title} (log)` : spec.title;
  // The latest values, in the series colours: they double as the line key.
  const latest = document.createElement("span");
  latest.className = "chart-latest";
  latest.title = "latest epoch: train (solid) / validation (dashed)";
  const trainValue = document.createElement("span");
  trainValue.style.color = TRAIN;
  const valValue = document.createElement("span");
  valValue.style.color = VAL;
  latest.append(trainValue, " ", valValue);
  head.append(title, latest);
  const plotHost = document.createElement("div");
  box.append(head, plotHost);
  host.append(box);

  const axis = { stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { show: false },
    font: "10px system-ui, sans-serif", size: 28, gap: 2 };
  const plot = new uPlot({
    width: Math.max(120, host.clientWidth / CHARTS.length - 12),
    height: HEIGHT,
    legend: { show: false },
    cursor: { drag: { x: false, y: false }, points: { size: 5 } },
    scales: { x: { time: false }, y: spec.log ? { distr: 3, log: 10 } : { auto: true } },
    // Epochs are whole numbers: no 1.5 ticks.
    axes: [{ ...axis, size: 20, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] },
      { ...axis, size: 42 }],
    series: [
      {},
      { label: "train", stroke: TRAIN, width: 1.5, spanGaps: true, points: { size: 4 } },
      { label: "val", stroke: VAL, width: 1.5, dash: [4, 3], spanGaps: true, points: { size: 4 } },
    ],
    hooks: { draw: [(u) => sessionLines(u, boundaries)] },
  }, [[], [], []], plotHost);
  return { spec, plot, trainValue, valValue };
}

export function createCharts(host) {
  const boundaries = [];
  let records = [];
  const empty = document.createElement("div");
  empty.className = "charts-empty";
  empty.textContent = "No epochs yet: loss curves appear here once training runs.";
  host.append(empty);
  const charts = CHARTS.map((spec) => makeChart(spec, host, boundaries));

  function render() {
    empty.hidden = records.length > 0;
    boundaries.length = 0;
    for (let i = 1; i < records.length; i++) {
      if (records[i].session !== records[i - 1].session) {
        boundaries.push((records[i].global_epoch + records[i - 1].global_epoch) / 2);
      }
    }
    const xs = records.map((r) => r.global_epoch);
    for (const { spec, plot, trainValue, valValue } of charts) {
      // A log axis cannot show zero or negative values.
      const clean = (v) => (spec.log && v !== null && v <= 0 ? null : v);
      const train = records.map((r) => clean(metric(r, "train", spec.key)));
      const val = records.map((r) => clean(metric(r, "val", spec.key)));
      plot.setData([xs, train, val]);
      const last = records.at(-1);
      trainValue.textContent = last ? short(metric(last, "train", spec.key)) : "";
      valValue.textContent = last ? short(metric(last, "val", spec.key)) : "";
    }
  }

  const resize = new ResizeObserver(() => {
    const width = Math.max(120, Math.floor(host.clientWidth / CHARTS.length) - 12);
    for (const { plot } of charts) plot.setSize({ width, height: HEIGHT });
  });
  resize.observe(host);

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
    get count() {
      return records.length;
    },
  };
}
