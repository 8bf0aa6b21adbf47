// Keeping the page in step with the server: initial loads, the handlers for every SSE
// event, and the resynchronisation a `snapshot` triggers after a reconnect or restart.
import { plural } from "./plural.js";
import { recordTiming, sameVersion } from "./state.js";
import { createStatusOrder } from "./status_order.js";

// Batch progress arrives up to 4 times a second; a person reads it at a glance, and every
// repaint takes CPU from the trainer. With a GPU that is little: the progress line repaints
// twice a second. Without one (a software WebGL renderer), Chromium composites each frame of
// the whole window on the CPU the trainer needs, about 50 ms at 1440×900 (SwiftShader): it
// repaints every 5 s, 1 % of a core (every 2 s cost 2.4 %). Either way at an animation frame, the latest event winning, and an epoch's end
// paints it at once, in the epoch's own frame.
export const PROGRESS_PAINT_MS = 500;
export const SOFTWARE_PROGRESS_PAINT_MS = 5000;
const SOFTWARE_RENDERER = /swiftshader|llvmpipe|softpipe|software|basic render/i;

/** The progress line's repaint interval for the page's WebGL renderer (null: not known). */
export function progressPaintMs(renderer) {
  const gpu = typeof renderer === "string" && !SOFTWARE_RENDERER.test(renderer);
  return gpu ? PROGRESS_PAINT_MS : SOFTWARE_PROGRESS_PAINT_MS;
}

/**
 * The page's event stream: `client=page` (the server's thread policy counts the pages that
 * watch it), and batch progress no more often than the page repaints it, so a page in
 * software rendering is not woken 4 times a second for a line it paints every 5 s.
 */
export function eventsUrl(renderer) {
  return `/api/events?client=page&progress_ms=${progressPaintMs(renderer)}`;
}

/** Calls `paint(latest)` for the latest of the values given, at most once per `everyMs`. */
export function coalesce(paint, everyMs) {
  let latest = null;
  let waiting = false;
  let lastAt = -Infinity;
  const untilNext = () => Math.max(0, lastAt + everyMs - performance.now());
  function paintLatest() {
    const value = latest;
    latest = null;
    if (value === null) return;
    lastAt = performance.now();
    paint(value);
  }
  function schedule() {
    waiting = true;
    setTimeout(() => requestAnimationFrame(flush), untilNext());
  }
  function flush() {
    waiting = false;
    if (latest === null) return;
    if (untilNext() > 0) schedule(); // painted early meanwhile (now()): wait the rest
    else paintLatest();
  }
  return {
    push(value) {
      latest = value;
      if (!waiting) schedule();
    },
    /** Paints a value not painted yet now, in the frame of whatever else changes now. */
    now: paintLatest,
    /** Drops a value not painted yet (the state it describes has ended). */
    cancel() {
      latest = null;
    },
  };
}

// The server process behind a snapshot: its instance id (older servers: its start time).
const instanceOf = (status) => status.server?.instance ?? status.server?.started_at ?? null;

/**
 * @param {object} parts  {api, state, scatter, samples, labeler, charts, training, summary,
 *   toasts}
 * @param {object} hooks  {applyStatus(status), pointsShown(points), pointsDrawn(points) (once
 *   the scatter shows them, after any transition and refit), animate(): boolean,
 *   restarted(status) (before the new state is applied), reload(config): boolean (true when
 *   the page must be loaded again: another dataset)}
 */
export function createSync(parts, hooks) {
  const { api, state, scatter, samples, labeler, charts, training, summary, toasts } = parts;
  let instance = null;
  let pointsLoading = null;
  let pointsStale = false;
  let labelBuffer = null; // labels events that arrive during a full refetch, replayed after it

  const failed = (what) => (error) => toasts.error(`${what}: ${error.message}`);

  /** Loads /api/points into the scatter; calls during a load coalesce into one more. */
  async function loadPoints({ transition }) {
    if (pointsLoading) {
      pointsStale = true;
      return pointsLoading;
    }
    const started = performance.now();
    pointsLoading = (async () => {
      const points = await api.points();
      const fetched = performance.now();
      state.adoptPoints(points);
      const adopted = performance.now();
      const drawn = scatter.setColumns(
        { x: state.x, y: state.y, valueA: state.code, valueB: state.valueB },
        { transition, user: state.user });
      recordTiming(state, "pointsFetch", fetched - started);
      recordTiming(state, "pointsAdopt", adopted - fetched);
      state.latentVersion = points.version;
      samples.invalidate();
      hooks.pointsShown(points);
      await drawn;
      hooks.pointsDrawn(points);
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

  async function loadLabels() {
    const body = await api.labels();
    labeler.reset(body.labels, body.version);
  }

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
    showHistory(await api.history(), { merge });
  }

  /** The loss curves and, when no session runs, the last epoch's loss table. */
  function showHistory(body, { merge }) {
    const records = body.records ?? [];
    charts.setHistory(records, { merge });
    if (records.length && training.state === "idle") training.epoch(records[records.length - 1]);
  }

  const progress = coalesce(
    (event) => training.progress(event), progressPaintMs(scatter.glRenderer));

  const statusOrder = createStatusOrder();
  let threadsShown = null; // the trainer's torch threads the header shows (status.threads)
  function applyStatus(status) {
    threadsShown = status.threads?.in_use ?? null;
    hooks.applyStatus(status);
  }
  /** Ask for the status; its answer is applied unless something newer came meanwhile. */
  function refreshStatus() {
    const ticket = statusOrder.ask();
    return api.status()
      .then((status) => statusOrder.fresh(ticket) && applyStatus(status))
      .catch(() => {});
  }

  /** A session runs with another thread count than the header shows: fetch the header anew. */
  function threadsSeen(count) {
    if (typeof count !== "number" || count < 1 || threadsShown === null) return;
    if (count === threadsShown) return;
    threadsShown = count;
    refreshStatus();
  }

  /**
   * Another server process answers now: its token, versions and session numbers are its own.
   * Take its token (from its page), then all of its state, as at start-up.
   */
  async function adoptNewServer(status) {
    try {
      const config = await api.renewToken();
      if (hooks.reload(config)) return;
    } catch (error) {
      toasts.error(`The server restarted, and its new token could not be read: ${error.message}`
        + " Reload the page.");
    }
    state.stats = null;
    hooks.restarted(status);
    // Its sessions first: they say what became of a session the old server was running
    // (saved by a Ctrl+C, or lost in a crash), before its status says "idle".
    const history = await api.history().catch((error) => {
      failed("Could not reload the loss history")(error);
      return null;
    });
    summary.serverRestarted(history?.sessions ?? null, status.training?.last_result);
    applyStatus(status);
    if (history) showHistory(history, { merge: false });
    await Promise.all([
      refetchLabels().catch(failed("Could not reload the labels")),
      loadPoints({ transition: hooks.animate() })
        .catch(failed("Could not reload the latent points")),
    ]);
  }

  const handlers = {
    snapshot(status) {
      const next = instanceOf(status);
      const restarted = instance !== null && next !== instance;
      instance = next;
      if (restarted) {
        adoptNewServer(status);
        return;
      }
      applyStatus(status);
      if (!sameVersion(status.labels?.version, state.labelsVersion)) {
        refetchLabels().catch(failed("Could not reload the labels"));
      }
      if (!sameVersion(status.latent?.version, state.latentVersion)) {
        loadPoints({ transition: hooks.animate() })
          .catch(failed("Could not reload the latent points"));
      }
      loadHistory({ merge: true }).catch(failed("Could not reload the loss history"));
    },
    labels(event) {
      if (labelBuffer) labelBuffer.push(event);
      labeler.applyEvent(event);
      if (event.stats?.version !== undefined) state.labelsVersion = event.stats.version;
    },
    train_started(event) {
      progress.cancel();
      training.started(event);
      summary.running(event);
      threadsSeen(event.threads);
    },
    train_progress(event) {
      progress.push(event);
      threadsSeen(event.threads);
    },
    train_epoch(record) {
      training.epoch(record);
      charts.add(record);
      progress.now(); // one frame for the epoch and the progress line, not two
    },
    train_ended(result) {
      progress.cancel();
      statusOrder.overtaken(); // a status asked for while it ran says "running"
      const problem = training.ended(result);
      summary.ended(result);
      if (problem) toasts.error(problem);
      else toasts.note(`Training ${result.status.replace("_", " ")} after ${plural(result.epochs_run, "epoch")}.`);
      refreshStatus();
    },
    /** The session was evaluated and saved (or could not be): its facts, all at once. */
    session_saved(event) {
      // The save is done: the server is idle now (it says so before this event goes out),
      // whatever a status asked for during the save still says.
      statusOrder.overtaken();
      training.saved();
      summary.saved(event);
      if (event.save_error) {
        toasts.error(`Session ${event.session} could not be saved: ${event.save_error}. Its`
          + " weights stay in the server's memory until a session saves.");
      }
      refreshStatus();
    },
    /** Something to know that is no problem (another program saved the checkpoint). */
    notice({ message }) {
      if (message) toasts.note(message);
      loadHistory({ merge: false }).catch(failed("Could not reload the loss history"));
    },
    /**
     * The model finished loading (or failed to): the header's "loading" is over, and a sample
     * shown meanwhile gets its reconstruction.
     */
    model() {
      refreshStatus();
      samples.invalidate();
    },
    latent_refreshed() {
      loadPoints({ transition: hooks.animate() })
        .catch(failed("Could not load the new latent points"));
      refreshStatus(); // the checkpoint is saved by now: its facts go to the header
    },
    error: ({ message }) => toasts.error(message ?? "The server reported a problem."),
  };

  return {
    handlers,
    get instance() {
      return instance;
    },
    /** How many asked-for status answers came back (applied, or dropped as stale). */
    get statusAnswers() {
      return statusOrder.answered;
    },
    /** Everything the page needs before it is ready; rejects with the first failure. */
    async initial() {
      const [status, , history] = await Promise.all([
        api.status(), loadPoints({ transition: false }), api.history(), loadLabels()]);
      instance ??= instanceOf(status);
      applyStatus(status);
      showHistory(history, { merge: false });
    },
  };
}
