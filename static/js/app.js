// Wiring: builds the page's parts, loads the initial data, then follows the event stream.
import { UNREACHABLE, createApi, randomId } from "./api.js";
import { createBatch, merged, toggled } from "./batch.js";
import { createCharts } from "./charts.js";
import { createEvaluationPanel } from "./evaluation_panel.js";
import { createDecoderView } from "./decoder.js";
import { connectEvents } from "./events.js";
import {
  confirmationReason, confirmationText, createBalanceWatch, makeup, makeupText,
} from "./guards.js";
import { createFirstHint } from "./hint.js";
import { createKeyHelp } from "./key_help.js";
import { bindKeys } from "./keys.js";
import {
  BEAT_MS, browserStorage, createPendingJournal, readJson, resentText, scopeKey, storedSet,
  writeText,
} from "./journal.js";
import { RETRY_TOPIC, createLabeler } from "./labeling.js";
import { bindLayout } from "./layout.js";
import { createManifold } from "./manifold.js";
import { CLASS_COLORS, MODES, UNLABELED_COLOR, pointColor } from "./palette.js";
import {
  createDatasetPanel, createTooltip, datasetTitle, renderCheckpoint, renderLegend,
} from "./panels.js";
import { shownBox } from "./placement.js";
import { createQueue } from "./queue.js";
import { createSamplePanel } from "./samples.js";
import { createSessionSummary } from "./session_summary.js";
import { createScatter } from "./scatter.js";
import { watchClicks } from "./selection.js";
import { createHistory, describeAction } from "./undo.js";
import { renderPending } from "./pending_view.js";
import { createState, recordTiming } from "./state.js";
import { createSync, eventsUrl } from "./sync.js";
import { createToasts } from "./toasts.js";
import { createTrainingPanel } from "./training.js";

const $ = (id) => document.getElementById(id);
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const HIGHLIGHT_WAIT_MS = 150;
// Resting on a point this long fetches its images (sweeping across points fetches nothing).
const PREFETCH_REST_MS = 40;

// Messages that only say the server is unreachable go once the connection is back; those that
// say the model is still loading, once it has loaded.
const CONNECTION_TOPIC = "connection";
const LOADING_TOPIC = "loading";

function boot(config) {
  const api = createApi(config.token);
  const state = createState(config);
  const toasts = createToasts($("toasts"));
  const reportError = (message, error = null) => {
    if (message.includes(UNREACHABLE)) toasts.error(message, CONNECTION_TOPIC);
    else toasts.error(message, error?.status === 503 ? LOADING_TOPIC : undefined);
  };
  // Pending label writes and the undo history outlive the page, per labels file.
  const storage = browserStorage();
  const scope = { workspace: config.workspace, dataset: config.dataset,
    labelsFile: config.labels_file };
  const journal = createPendingJournal({ storage, scope, writer: randomId() });
  const undoKey = scopeKey("undo", scope);
  let markReady;
  const ready = new Promise((resolve) => {
    markReady = resolve;
  });

  let prefetchTimer = null;
  const scatter = createScatter({
    canvas: $("scatter"),
    ring: $("selection-ring"),
    count: state.n,
    onSelect: (index, points = []) => {
      if (index !== null) clicks.picked();
      if (clicks.shift) {
        // A lasso adds what it caught; the point of a Shift+click is toggled by
        // clicks.shiftClick once the click is over (the library also ends an empty lasso).
        if (clicks.moved && points.length) batch.set(merged(batchBase(), points));
        else if (!clicks.moved && index !== null) shiftPick = index;
        return;
      }
      batch.reset();
      select(index);
    },
    onHover: (index) => {
      tooltip.show(index);
      clearTimeout(prefetchTimer);
      if (index !== null) prefetchTimer = setTimeout(() => samples.prefetch(index), PREFETCH_REST_MS);
    },
  });
  let shiftPick = null; // the point the library found under a Shift+click
  const clicks = watchClicks($("scatter"), {
    background() {
      if (batch.serials.length) batch.set([]);
      else if (state.selected !== null) select(null);
    },
    shiftClick() {
      const serial = shiftPick;
      shiftPick = null;
      if (serial !== null) batch.set(toggled(batchBase(), serial));
    },
  });
  /** The batch to extend: the batch, else the one selected sample, else nothing. */
  const batchBase = () => (batch.serials.length ? batch.serials
    : (state.selected !== null ? [state.selected] : []));
  const batch = createBatch({
    els: { panel: $("batch-panel"), count: $("batch-count"), grid: $("batch-grid"),
      clear: $("batch-clear"), makeup: $("batch-makeup"), ask: $("batch-ask"),
      question: $("batch-question"), confirm: $("batch-confirm") },
    thumbnailUrl: api.thumbnailUrl,
    describe: (serials) => makeupText(makeup(serials, state.pred), state.classNames),
    onConfirm: (label) => labelBatch(label),
    onChange(serials) {
      scatter.selectMany([]); // back to one highlighted point, nothing dimmed
      if (serials.length > 1) {
        scatter.selectMany(serials);
        state.selected = serials[serials.length - 1];
        refreshLabelButtons();
        queue.selectionChanged();
        samples.show(state.selected).catch(() => {});
      } else {
        select(serials.length ? serials[0] : null);
      }
    },
  });
  const tooltip = createTooltip($("tooltip"), $("scatter-wrap"), state, api.thumbnailUrl,
    $("legend"));
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
      losses: $("latest-losses") },
  });
  const summary = createSessionSummary(
    { result: $("train-result"), line: $("eval-line"), curve: $("eval-curve") });
  const charts = createCharts($("charts"), $("charts").parentElement);
  const firstHint = createFirstHint($("first-hint"), $("first-hint-close"));
  const evaluationPanel = createEvaluationPanel({ api, $ });
  const keyHelp = createKeyHelp({ dialog: $("keys-dialog"), list: $("keys-list"),
    open: $("keys-open"), close: $("keys-dialog-close") });
  const decoder = createDecoderView({
    api, plot: () => scatter.plot, canvas: $("scatter"), classNames: state.classNames,
    els: { preview: $("decoder-preview"), image: $("decoder-image"),
      caption: $("decoder-caption"), note: $("decoder-note"), button: $("decoder-toggle") },
    onPainted: (ms) => recordTiming(state, "decodePreview", ms),
    onError: reportError,
    avoid: () => shownBox($("legend")),
    points: state,
    onShow: () => tooltip.hide(), // the preview takes the hover's place; no card stays under it
  });
  const manifold = createManifold({
    api, plot: () => scatter.plot, scatterCanvas: $("scatter"), canvas: $("manifold"),
    els: { button: $("manifold-toggle"), note: $("decoder-note") },
    onTiming: (name, ms) => recordTiming(state, name, ms),
    onError: reportError,
  });
  const labelButtons = [...document.querySelectorAll(".label-btn")];

  function refreshLabelButtons() {
    const current = state.selected === null ? -2 : state.user[state.selected];
    for (const button of labelButtons) {
      button.disabled = state.selected === null;
      button.classList.toggle("current", Number(button.dataset.label) === current);
    }
    $("label-delete").disabled = state.selected === null || current < 0;
  }

  let labelsDrawn = Promise.resolve(); // the scatter draw showing the latest label change
  const labeler = createLabeler({
    api, state,
    onChange: () => {
      labelsDrawn = scatter.valuesChanged(state.user);
      samples.refreshFacts();
      tooltip.refresh();
      refreshLabelButtons();
      queue.labelsChanged();
    },
    onStats: (stats) => applyStats(stats),
    onError: (message, topic) => toasts.error(message, topic),
    onPending(pending) {
      renderPending($("pending-labels"), pending);
      if (!pending.waiting) toasts.clear(RETRY_TOPIC);
    },
    journal,
  });

  const history = createHistory({
    apply: (serials, label) => labeler.apply(serials, label),
    current: (serial) => (state.user[serial] < 0 ? null : state.user[serial]),
    onChange: renderHistory,
    onNote: (message) => toasts.note(message),
    store: {
      load: () => readJson(storage, undoKey),
      save: (text) => writeText(storage, undoKey, text),
    },
  });

  function renderHistory() {
    $("undo").disabled = !history.canUndo;
    $("redo").disabled = !history.canRedo;
    $("history-list").replaceChildren(...history.recent().map(({ action, undone }) => {
      const item = document.createElement("li");
      item.textContent = describeAction(action, state.classNames);
      item.classList.toggle("undone", undone);
      return item;
    }));
  }

  /** The one label action of the page: writes, and remembers it for undo. */
  function labelSamples(serials, label) {
    const previous = new Map(serials.map((s) => [s, state.user[s] < 0 ? null : state.user[s]]));
    const result = labeler.apply(serials, label);
    if (serials.some((s) => previous.get(s) !== label)) {
      history.record(serials, label, previous, result);
    }
    return result;
  }

  const balance = createBalanceWatch({
    seen: storedSet(storage, scopeKey("lopsided", scope)), classNames: state.classNames,
    onWarn: (message) => toasts.warn(message),
  });

  function applyStats(stats) {
    const seen = state.stats?.version;
    if (typeof stats.version === "number" && typeof seen === "number" && stats.version < seen) return;
    state.stats = stats;
    datasetPanel.update(stats);
    balance.check(stats);
  }

  let modelProblem = null;
  let trained = false; // whether the predictions mean anything yet
  function applyStatus(status) {
    if (status.checkpoint) trained = (status.checkpoint.epochs_trained ?? 0) > 0;
    renderCheckpoint($("checkpoint"), status.checkpoint, status.device);
    firstHint.update(status.checkpoint);
    training.setHparams(status.hparams);
    if (status.training) training.sync(status.training);
    summary.status(status);
    evaluationPanel.showStatus(status);
    if (status.labels) applyStats(status.labels);
    if (status.dataset_source) $("dataset-source").textContent = status.dataset_source;
    const problem = status.model?.state === "failed" ? status.model.error : null;
    if (problem && problem !== modelProblem) {
      toasts.error(`The model could not be loaded: ${problem}. Browsing and labeling still work.`,
        "model");
    }
    if (!problem) toasts.clear("model");
    if (status.model?.state === "ready") toasts.clear(LOADING_TOPIC);
    modelProblem = problem;
  }

  const sync = createSync(
    { api, state, scatter, samples, labeler, charts, training, summary,
      toasts: { ...toasts, error: reportError } },
    {
      applyStatus,
      animate: () => $("animate").checked,
      restarted() {
        training.serverRestarted();
        toasts.note("The server restarted: the page now follows the new one.");
      },
      reload(fresh) {
        // Another dataset behind the same address: nothing on the page applies any more.
        if (fresh.dataset === config.dataset && fresh.n_samples === config.n_samples
          && fresh.labels_file === config.labels_file) return false;
        window.location.reload();
        return true;
      },
      pointsShown(points) {
        $("scatter-info").textContent =
          `${state.n.toLocaleString()} points · latent v${points.version ?? "?"}`;
        // Hover facts were the old model's, and the point has moved from under the pointer.
        tooltip.hide();
        decoder.refresh();
        refreshLabelButtons();
        queue.reorder(); // new predictions: the whole pool is ranked again
        evaluationPanel.pointsChanged();
      },
      // The overlay asks for its grid once the view has settled on the new points.
      pointsDrawn: () => manifold.refresh(),
    },
  );

  const queue = createQueue({
    fetchHead: api.queue,
    state,
    els: { next: $("queue-next"), strategy: $("queue-strategy"), auto: $("queue-auto"),
      line: $("queue-line"), note: $("queue-note"), thumbs: $("queue-thumbs") },
    thumbnailUrl: api.thumbnailUrl,
    pick: (serial, startedAt) => select(serial, { reveal: true, startedAt, timing: "queueNext" }),
    prefetch: (serial) => samples.prefetch(serial),
    onError: reportError,
    onSkip: (serial) => toasts.note(`Skipped #${serial}: still unlabeled, it stays in the queue.`),
  });

  /**
   * Selects a sample (null clears). `reveal` pans to it when off-screen (the jump box).
   * Software WebGL blocks the page for a whole frame, so when the images are not in memory
   * yet they are painted first and the scatter highlights the point right after.
   */
  function select(index, { reveal = false, startedAt = performance.now(), timing = null } = {}) {
    state.selected = index;
    refreshLabelButtons();
    queue.selectionChanged();
    const inMemory = index === null || samples.has(index);
    const shown = samples.show(index, startedAt).then(() => {
      if (timing && state.selected === index) {
        recordTiming(state, timing, performance.now() - startedAt);
      }
    }).catch((error) => {
      reportError(`Could not load sample #${index}: ${error.message}`, error);
    });
    const highlight = () => {
      if (state.selected !== index) return;
      scatter.select(index);
      if (reveal && index !== null) scatter.reveal(index);
    };
    if (inMemory) highlight();
    else Promise.race([shown, delay(HIGHLIGHT_WAIT_MS)]).then(highlight);
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

  /** Labels (or with null, unlabels) the selected sample; the queue and undo can reuse apply. */
  function labelSelected(label) {
    if (batch.active) {
      const reason = confirmationReason(batch.serials, label, state.pred,
        { trained, classNames: state.classNames });
      if (reason) {
        batch.ask(label, confirmationText(batch.serials.length, label, reason, state.classNames));
        return null;
      }
      return labelBatch(label);
    }
    if (state.selected === null) {
      toasts.note("Select a sample first: press n for the next one in the queue, click a point, "
        + "or type its index in “Go to index”.");
      return null;
    }
    const started = performance.now();
    const before = labelsDrawn;
    const serial = state.selected;
    const result = labelSamples([serial], label);
    if (labelsDrawn !== before) {
      labelsDrawn.then(() => recordTiming(state, "labelRecolor", performance.now() - started));
    }
    // Labeling from the queue is one key per sample: the next one comes up by itself.
    if (label !== null && queue.shouldAdvance(serial)) queue.next(started);
    return result;
  }

  /** Labels the whole batch in one write (after its guard), and clears it. */
  function labelBatch(label) {
    const result = labelSamples(batch.serials, label);
    batch.set([]);
    return result;
  }

  function connectionChanged(next) {
    const previous = state.connection;
    state.connection = next;
    $("conn").dataset.state = next;
    $("conn-text").textContent = next;
    if (next === "down") {
      toasts.error("Lost the connection to the alctl server; retrying. Labels typed now are kept"
        + " on this page and written once it is back.", CONNECTION_TOPIC);
    } else if (next === "live") {
      toasts.clear(CONNECTION_TOPIC);
      labeler.resume(); // a write waiting for the server goes now
      if (previous === "down" || previous === "reconnecting") {
        toasts.note("Reconnected to the server; the page is up to date again.");
      }
    }
  }

  function jump(event) {
    event.preventDefault();
    const raw = $("jump-input").value.trim();
    const index = Number(raw);
    if (raw === "" || !Number.isInteger(index) || index < 0 || index >= state.n) {
      $("jump-error").textContent = `Type a whole number from 0 to ${state.n - 1}.`;
      return;
    }
    $("jump-error").textContent = "";
    select(index, { reveal: true });
    $("jump-input").blur();
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
    $("decoder-toggle").addEventListener("click", () => decoder.toggle());
    $("manifold-toggle").addEventListener("click", () => manifold.toggle());
    // Fetch while the person types, so Enter finds the images in memory.
    $("jump-input").addEventListener("input", () => {
      const index = Number($("jump-input").value.trim());
      if (Number.isInteger(index) && index >= 0 && index < state.n) samples.prefetch(index);
    });
    $("jump-form").addEventListener("submit", jump);
    bindKeys({
      // The digit keys are the keyboard's; which are labels is the server's (its class names).
      label: (n) => (n < state.classNames.length ? labelSelected(n) : undefined),
      unlabel: () => labelSelected(null),
      deselect: () => batch.cancel() || (batch.serials.length ? batch.set([]) : select(null)),
      confirm: () => batch.confirm(),
      mode: setMode,
      resetView: () => scatter.resetView(),
      focusJump: () => $("jump-input").focus(),
      next: () => queue.next(),
      undo: () => history.undo(),
      redo: () => history.redo(),
      decoder: () => decoder.toggle(),
      manifold: () => manifold.toggle(),
      evaluate: () => evaluationPanel.toggleDialog(),
      help: () => keyHelp.toggle(),
    });
    $("undo").addEventListener("click", () => history.undo());
    $("redo").addEventListener("click", () => history.redo());
  }

  async function start() {
    document.title = `alctl · ${datasetTitle(config.dataset)}`;
    $("dataset-name").textContent = datasetTitle(config.dataset);
    $("dataset-count").textContent = state.n.toLocaleString();
    bindControls();
    renderHistory(); // a history kept from an earlier page
    bindLayout({ legend: $("legend"), wrap: $("scatter-wrap"),
      tabs: [...document.querySelectorAll(".side-tab")], trainState: $("train-state") });
    setMode("user");
    try {
      await sync.initial();
    } catch (error) {
      $("scatter-loading").textContent =
        `Could not load the dashboard: ${error.message} Reload the page once the server runs.`;
      $("scatter-loading").classList.add("failed");
      throw error;
    }
    $("scatter-loading").hidden = true;
    // Writes an earlier page of this labels file could not finish (a reload while the
    // server was away): sent now, unless someone changed those labels meanwhile.
    const resent = labeler.resend(journal.claim());
    // Labels that were not written (changed elsewhere) are worth a message that stays.
    if (resent.conflicts.length) toasts.warn(resentText(resent));
    else if (resent.written) toasts.note(resentText(resent));
    window.addEventListener("pagehide", () => {
      journal.release();
      history.flush();
    });
    setInterval(() => journal.beat(), BEAT_MS);
    // Another tab of this labels file changed the shared undo history.
    window.addEventListener("storage", (event) => {
      if (event.key === undoKey) history.reload();
    });
    document.body.dataset.ready = "1";
    markReady();
    connectEvents(eventsUrl(scatter.glRenderer), sync.handlers, connectionChanged);
  }

  // Read-only debugging hook for tests and benchmarks.
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
    /** Status answers the page asked for after an event and weighed (applied or stale). */
    get statusAnswers() {
      return sync.statusAnswers;
    },
    get queue() {
      return queue.head;
    },
    /** How often the view was fit to the points (a refresh that leaves it refits). */
    get refits() {
      return scatter.refits;
    },
    get batch() {
      return [...batch.serials];
    },
    /** The visible label history, newest first: ["#12 → 3 Dress", ...] ("undone" marked). */
    get history() {
      return history.recent().map(({ action, undone }) =>
        `${describeAction(action, state.classNames)}${undone ? " (undone)" : ""}`);
    },
    /** Whether the scatter's frame loop runs (it rests while nothing changes). */
    get scatterAnimating() {
      return scatter.animating;
    },
    get writeRetries() {
      return labeler.retries;
    },
    /** The training curves: each one's metric, plot height (CSS px), y ticks, validation. */
    get curves() {
      return charts.describe();
    },
    /** The server instance the page follows (changes when the server restarts). */
    get serverInstance() {
      return sync.instance;
    },
  });
  start().catch((error) => console.warn("alctl start-up failed:", error.message));
}

boot(JSON.parse($("alctl-config").textContent));
