// Wiring: builds the page's parts, loads the initial data, then follows the event stream.
import { createApi } from "./api.js";
import { createCharts } from "./charts.js";
import { connectEvents } from "./events.js";
import { bindKeys } from "./keys.js";
import { createLabeler } from "./labeling.js";
import { CLASS_COLORS, MODES, UNLABELED_COLOR, pointColor } from "./palette.js";
import {
  createDatasetPanel, createTooltip, datasetTitle, renderCheckpoint, renderLegend,
} from "./panels.js";
import { createSamplePanel } from "./samples.js";
import { createScatter } from "./scatter.js";
import { createState, recordTiming, sameVersion } from "./state.js";
import { createToasts } from "./toasts.js";
import { createTrainingPanel } from "./training.js";

const $ = (id) => document.getElementById(id);

function boot(config) {
  const api = createApi(config.token);
  const state = createState(config);
  const toasts = createToasts($("toasts"));
  let markReady;
  const ready = new Promise((resolve) => {
    markReady = resolve;
  });
  let serverStartedAt = null;
  let pointsLoading = null;
  let pointsStale = false;

  const scatter = createScatter({
    canvas: $("scatter"),
    ring: $("selection-ring"),
    onSelect: (index) => select(index),
    onHover: (index) => {
      tooltip.show(index);
      if (index !== null) samples.prefetch(index);
    },
  });
  const tooltip = createTooltip($("tooltip"), $("scatter-wrap"), state, api.thumbnailUrl);
  const samples = createSamplePanel({
    api, state,
    els: { index: $("sample-index"), original: $("img-original"), recon: $("img-recon"),
      truth: $("fact-truth"), pred: $("fact-pred"), label: $("fact-label") },
    onPainted: (ms) => recordTiming(state, "samplePaint", ms),
  });
  const datasetPanel = createDatasetPanel(
    { labeled: $("stat-labeled"), coverage: $("stat-coverage"), bars: $("class-bars") },
    state.classNames, state.n);
  const training = createTrainingPanel({
    api,
    els: { form: $("train-form"), start: $("train-start"), stop: $("train-stop"),
      error: $("train-error"), state: $("train-state"), progress: $("train-progress"),
      epoch: $("progress-epoch"), eta: $("progress-eta"), fill: $("progress-fill"),
      losses: $("latest-losses"), result: $("train-result") },
  });
  const charts = createCharts($("charts"));
  const labelButtons = [...document.querySelectorAll(".label-btn")];

  function refreshLabelButtons() {
    const current = state.selected === null ? -2 : state.user[state.selected];
    for (const button of labelButtons) {
      button.disabled = state.selected === null;
      button.classList.toggle("current", Number(button.dataset.label) === current);
    }
    $("label-delete").disabled = state.selected === null || current < 0;
  }

  const labeler = createLabeler({
    api, state,
    onChange: () => {
      scatter.valuesChanged(state.user);
      samples.refreshFacts();
      refreshLabelButtons();
    },
    onStats: (stats) => applyStats(stats),
    onError: (message) => toasts.error(message),
  });

  function applyStats(stats) {
    const seen = state.stats?.version;
    if (typeof stats.version === "number" && typeof seen === "number" && stats.version < seen) return;
    state.stats = stats;
    datasetPanel.update(stats);
  }

  function select(index, startedAt = performance.now()) {
    state.selected = index;
    scatter.select(index);
    refreshLabelButtons();
    samples.show(index, startedAt).catch((error) => {
      toasts.error(`Could not load sample #${index}: ${error.message}`);
    });
  }

  function setMode(mode) {
    if (!MODES[mode]) return;
    const started = performance.now();
    state.mode = mode;
    scatter.setMode(mode);
    for (const button of document.querySelectorAll(".mode")) {
      button.setAttribute("aria-checked", String(button.dataset.mode === mode));
    }
    renderLegend($("legend"), mode, state.classNames);
    if (state.latentVersion !== null) {
      scatter.nextFrame().then(() => recordTiming(state, "modeSwitch", performance.now() - started));
    }
  }

  function labelSelected(label) {
    if (state.selected === null) {
      toasts.note("Select a sample first: click a point or type its index in “Go to index”.");
      return null;
    }
    const started = performance.now();
    const result = labeler.apply([state.selected], label);
    scatter.valuesChanged(null).then(() => recordTiming(state, "labelRecolor", performance.now() - started));
    return result;
  }

  /** Loads /api/points; later calls while one runs coalesce into one more load. */
  async function loadPoints({ transition }) {
    if (pointsLoading) {
      pointsStale = true;
      return pointsLoading;
    }
    const started = performance.now();
    pointsLoading = (async () => {
      const points = await api.points();
      state.adoptPoints(points);
      const drawn = scatter.setColumns(
        { x: state.x, y: state.y, valueA: state.code, valueB: state.valueB },
        { transition, user: state.user });
      state.latentVersion = points.version;
      $("scatter-info").textContent = `${state.n.toLocaleString()} points · latent v${points.version ?? "?"}`;
      samples.invalidate();
      refreshLabelButtons();
      await drawn;
      recordTiming(state, "pointsLoad", performance.now() - started);
    })();
    try {
      await pointsLoading;
    } finally {
      pointsLoading = null;
    }
    if (pointsStale) {
      pointsStale = false;
      await loadPoints({ transition });
    }
  }

  function applyStatus(status) {
    renderCheckpoint($("checkpoint"), status.checkpoint, status.device);
    training.setHparams(status.hparams);
    if (status.training) training.sync(status.training);
    if (status.labels) applyStats(status.labels);
    if (status.dataset_source) $("dataset-source").textContent = status.dataset_source;
  }

  async function loadLabels() {
    const body = await api.labels();
    labeler.reset(body.labels, body.version);
  }

  // Labels events that arrive while the full set is being refetched are replayed after it.
  let labelBuffer = null;
  async function refetchLabels() {
    labelBuffer = [];
    try {
      await loadLabels();
      for (const event of labelBuffer) labeler.applyEvent(event);
    } finally {
      labelBuffer = null;
    }
  }

  async function loadHistory({ merge }) {
    const body = await api.history();
    charts.setHistory(body.records ?? [], { merge });
  }

  function failed(what) {
    return (error) => toasts.error(`${what}: ${error.message}`);
  }

  const handlers = {
    snapshot(status) {
      const restarted = serverStartedAt !== null && status.server?.started_at !== serverStartedAt;
      serverStartedAt = status.server?.started_at ?? null;
      applyStatus(status);
      if (restarted || !sameVersion(status.labels?.version, state.labelsVersion)) {
        refetchLabels().catch(failed("Could not reload the labels"));
      }
      if (restarted || !sameVersion(status.latent?.version, state.latentVersion)) {
        loadPoints({ transition: $("animate").checked }).catch(failed("Could not reload the latent points"));
      }
      loadHistory({ merge: !restarted }).catch(failed("Could not reload the loss history"));
    },
    labels(event) {
      if (labelBuffer) labelBuffer.push(event);
      labeler.applyEvent(event);
      if (event.stats?.version !== undefined) state.labelsVersion = event.stats.version;
    },
    train_started(event) {
      training.started(event);
    },
    train_progress: (event) => training.progress(event),
    train_epoch(record) {
      training.epoch(record);
      charts.add(record);
    },
    train_ended(result) {
      const problem = training.ended(result);
      if (problem) toasts.error(problem);
      else toasts.note(`Training ${result.status.replace("_", " ")} after ${result.epochs_run} epochs.`);
      api.status().then(applyStatus).catch(() => {});
    },
    latent_refreshed() {
      loadPoints({ transition: $("animate").checked }).catch(failed("Could not load the new latent points"));
      // The checkpoint is saved by now: refresh its facts in the header.
      api.status().then(applyStatus).catch(() => {});
    },
    error: ({ message }) => toasts.error(message ?? "The server reported a problem."),
  };

  function connectionChanged(next) {
    const previous = state.connection;
    state.connection = next;
    $("conn").dataset.state = next;
    $("conn-text").textContent = next;
    if (next === "down") {
      toasts.error("Lost the connection to the alctl server; retrying. Labels made now may fail.");
    } else if (next === "live" && (previous === "down" || previous === "reconnecting")) {
      toasts.note("Reconnected to the server; the page is up to date again.");
    }
  }

  function bindControls() {
    for (const button of document.querySelectorAll(".mode")) {
      button.addEventListener("click", () => setMode(button.dataset.mode));
    }
    for (const button of labelButtons) {
      button.addEventListener("click", () => labelSelected(Number(button.dataset.label)));
    }
    $("label-delete").addEventListener("click", () => labelSelected(null));
    $("reset-view").addEventListener("click", () => scatter.resetView());
    $("jump-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const raw = $("jump-input").value.trim();
      const index = Number(raw);
      if (raw === "" || !Number.isInteger(index) || index < 0 || index >= state.n) {
        $("jump-error").textContent = `Type a whole number from 0 to ${state.n - 1}.`;
        return;
      }
      $("jump-error").textContent = "";
      select(index);
      scatter.reveal(index);
      $("jump-input").blur();
    });
    bindKeys({
      label: (n) => labelSelected(n),
      unlabel: () => labelSelected(null),
      deselect: () => select(null),
      mode: setMode,
      resetView: () => scatter.resetView(),
      focusJump: () => $("jump-input").focus(),
    });
  }

  async function start() {
    document.title = `alctl · ${datasetTitle(config.dataset)}`;
    $("dataset-name").textContent = datasetTitle(config.dataset);
    bindControls();
    setMode("user");
    try {
      const [status, , history] = await Promise.all([
        api.status(), loadPoints({ transition: false }), api.history(), loadLabels()]);
      serverStartedAt = status.server?.started_at ?? null;
      applyStatus(status);
      charts.setHistory(history.records ?? [], { merge: false });
    } catch (error) {
      $("scatter-loading").textContent = `Could not load the dashboard: ${error.message} Reload the page once the server runs.`;
      $("scatter-loading").classList.add("failed");
      throw error;
    }
    $("scatter-loading").hidden = true;
    document.body.dataset.ready = "1";
    markReady();
    connectEvents("/api/events", handlers, connectionChanged);
  }

  window.alctl = Object.freeze({
    ready,
    state,
    get scatter() {
      return scatter.plot;
    },
    colors: Object.freeze({ classes: CLASS_COLORS, unlabeled: UNLABELED_COLOR }),
    /** The colour point `i` shows now, as "#rrggbb". */
    pointColor: (i) => pointColor(state.mode, state.code[i], state.valueB[i]),
    get pendingWrites() {
      return labeler.pending;
    },
  });
  start().catch((error) => console.warn("alctl start-up failed:", error.message));
}

boot(JSON.parse($("alctl-config").textContent));
