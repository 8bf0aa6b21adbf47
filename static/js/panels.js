// Small read-only views: header facts, label statistics, legend and the hover tooltip.
import {
  CERTAINTY_MIN, CLASS_COLORS, MODES, UNLABELED_COLOR, certaintyColor,
} from "./palette.js";
import { placeCard, shownBox, within } from "./placement.js";
import { plural } from "./plural.js";

const DATASET_TITLES = { mnist: "MNIST", "fashion-mnist": "Fashion-MNIST" };

export function datasetTitle(name) {
  return DATASET_TITLES[name] ?? name;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function renderCheckpoint(node, checkpoint, device) {
  if (!checkpoint) return;
  const parts = [];
  if (checkpoint.exists) {
    parts.push(`checkpoint: ${plural(checkpoint.epochs_trained ?? 0, "epoch")} trained`);
    if (typeof checkpoint.test_accuracy === "number") {
      parts.push(`test accuracy ${(checkpoint.test_accuracy * 100).toFixed(1)}%`);
    }
  } else {
    parts.push(`fresh model (${plural(checkpoint.epochs_trained ?? 0, "epoch")}, no checkpoint saved yet)`);
  }
  // A session whose save failed: its epochs exist only in the server's memory.
  const unsaved = checkpoint.unsaved?.epochs;
  if (unsaved) parts.push(`${plural(unsaved, "epoch")} not saved`);
  if (device) parts.push(device);
  node.textContent = parts.join(" · ");
  node.title = [checkpoint.path ? `Checkpoint file: ${checkpoint.path}` : "",
    unsaved ? `Not saved: ${checkpoint.unsaved.error ?? "no reason given"}` : ""]
    .filter(Boolean).join("\n");
}

function formatPercent(pct) {
  if (pct === 0) return "0";
  if (pct < 0.1) return pct.toPrecision(2);
  return pct < 10 ? pct.toFixed(2) : pct.toFixed(1);
}

/** The label statistics panel; `update(stats)` takes the server's `stats` object. */
export function createDatasetPanel({ labeled, coverage, bars }, classNames, total) {
  const rows = classNames.map((name, cls) => {
    const row = el("li", "class-bar");
    row.title = `${cls} · ${name}`;
    const label = el("span", "class-name");
    const swatch = el("span", "swatch");
    swatch.style.background = CLASS_COLORS[cls];
    label.append(swatch, `${cls} ${name}`);
    const track = el("span", "track");
    const fill = el("span", "fill");
    fill.style.background = CLASS_COLORS[cls];
    track.append(fill);
    const count = el("span", "count", "0");
    row.append(label, track, count);
    bars.append(row);
    return { fill, count };
  });

  return {
    update(stats) {
      const perClass = stats.per_class ?? [];
      labeled.textContent = `${stats.labeled.toLocaleString()} / ${total.toLocaleString()}`;
      const pct = total > 0 ? (100 * stats.labeled) / total : 0;
      coverage.textContent = `${formatPercent(pct)}%`;
      const most = Math.max(1, ...perClass);
      rows.forEach(({ fill, count }, cls) => {
        const n = perClass[cls] ?? 0;
        count.textContent = String(n);
        fill.style.width = `${(100 * n) / most}%`;
      });
    },
  };
}

/** The legend for `mode`; its title folds it away and back (the state is the node's class). */
export function renderLegend(node, mode, classNames) {
  node.textContent = "";
  const title = el("button", "legend-title", MODES[mode].title);
  title.type = "button";
  title.id = "legend-toggle";
  title.title = "Fold the legend away (or back)";
  title.setAttribute("aria-expanded", String(!node.classList.contains("collapsed")));
  title.addEventListener("click", () => {
    const collapsed = node.classList.toggle("collapsed");
    title.setAttribute("aria-expanded", String(!collapsed));
  });
  node.append(title);
  if (mode === "certainty") {
    const bar = el("div", "legend-gradient");
    const stops = Array.from({ length: 11 }, (_, i) => certaintyColor(i / 10));
    bar.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
    const scale = el("div", "legend-scale");
    scale.append(el("span", "", `${CERTAINTY_MIN} uncertain`), el("span", "", "certain 1.0"));
    node.append(bar, scale);
    return;
  }
  const list = el("ul", "legend-items");
  classNames.forEach((name, cls) => {
    const item = el("li");
    const swatch = el("span", "swatch");
    swatch.style.background = CLASS_COLORS[cls];
    item.append(swatch, `${cls} ${name}`);
    list.append(item);
  });
  if (mode === "user") {
    const item = el("li", "unlabeled");
    const swatch = el("span", "swatch");
    swatch.style.background = UNLABELED_COLOR;
    item.append(swatch, "unlabeled");
    list.append(item);
  }
  node.append(list);
}

/**
 * Hover card: thumbnail, index, truth, prediction and label; follows the pointer, never
 * covers the legend. `refresh()` redraws it from the state (new labels); `hide()` closes
 * it (new predictions move the point from under the pointer).
 */
export function createTooltip(node, wrap, state, thumbnailUrl, legend) {
  let pointer = [0, 0];
  let shown = null;
  wrap.addEventListener("pointermove", (event) => {
    const rect = wrap.getBoundingClientRect();
    pointer = [event.clientX - rect.left, event.clientY - rect.top];
    if (shown !== null) place();
  });

  function place() {
    const avoid = shownBox(legend);
    // Over the legend the person reads the legend: no card on top of it.
    node.hidden = within(pointer, avoid);
    if (node.hidden) return;
    const { width, height } = wrap.getBoundingClientRect();
    const [x, y] = placeCard(pointer, { width: node.offsetWidth, height: node.offsetHeight },
      { width, height }, avoid);
    node.style.transform = `translate(${x}px, ${y}px)`;
  }

  function line(label, cls, extra = "") {
    const row = el("div", "tip-row");
    row.append(el("span", "tip-key", label));
    const value = el("span", "tip-value");
    if (cls >= 0) {
      const swatch = el("span", "swatch");
      swatch.style.background = CLASS_COLORS[cls];
      value.append(swatch, `${cls} ${state.classNames[cls] ?? ""}${extra}`);
    } else {
      value.textContent = "–";
    }
    row.append(value);
    return row;
  }

  function show(index) {
    shown = index;
    if (index === null) {
      node.hidden = true;
      return;
    }
    node.textContent = "";
    node.dataset.index = String(index);
    const img = el("img", "tip-thumb");
    img.alt = "";
    img.width = 56;
    img.height = 56;
    img.src = thumbnailUrl(index);
    const facts = el("div", "tip-facts");
    facts.append(el("div", "tip-index", `#${index}`), line("truth", state.truth[index]),
      line("pred", state.pred[index], ` ${(state.certainty[index] * 100).toFixed(0)}%`),
      line("label", state.user[index]));
    node.append(img, facts);
    node.hidden = false;
    place();
  }

  return {
    show,
    refresh() {
      if (shown !== null) show(shown);
    },
    hide: () => show(null),
  };
}
