// Keeping the page in step with the server: initial loads, the handlers for every SSE
// event, and the resynchronisation a `snapshot` triggers after a reconnect or restart.
import { recordTiming, sameVersion } from "./state.js";

/**
 * @param {object} parts  {api, state, scatter, samples, labeler, charts, training, toasts}
 * @param {object} hooks  {applyStatus(status), pointsShown(points), animate(): boolean}
 */
export function createSync(parts, hooks) {
  const { api, state, scatter, samples, labeler, charts, training, toasts } = parts;
  let serverStartedAt = null;
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
      state.adoptPoints(points);
      const drawn = scatter.setColumns(
        { x: state.x, y: state.y, valueA: state.code, valueB: state.valueB },
        { transition, user: state.user });
      state.latentVersion = points.version;
      samples.invalidate();
      hooks.pointsShown(points);
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
    const body = await api.history();
    charts.setHistory(body.records ?? [], { merge });
  }

  const refreshStatus = () => api.status().then(hooks.applyStatus).catch(() => {});

  const handlers = {
    snapshot(status) {
      const started = status.server?.started_at ?? null;
      const restarted = serverStartedAt !== null && started !== serverStartedAt;
      serverStartedAt = started;
      // A restarted server counts its versions from the start again.
      if (restarted) state.stats = null;
      hooks.applyStatus(status);
      if (restarted || !sameVersion(status.labels?.version, state.labelsVersion)) {
        refetchLabels().catch(failed("Could not reload the labels"));
      }
      if (restarted || !sameVersion(status.latent?.version, state.latentVersion)) {
        loadPoints({ transition: hooks.animate() })
          .catch(failed("Could not reload the latent points"));
      }
      loadHistory({ merge: !restarted }).catch(failed("Could not reload the loss history"));
    },
    labels(event) {
      if (labelBuffer) labelBuffer.push(event);
      labeler.applyEvent(event);
      if (event.stats?.version !== undefined) state.labelsVersion = event.stats.version;
    },
    train_started: (event) => training.started(event),
    train_progress: (event) => training.progress(event),
    train_epoch(record) {
      training.epoch(record);
      charts.add(record);
    },
    train_ended(result) {
      const problem = training.ended(result);
      if (problem) toasts.error(problem);
      else toasts.note(`Training ${result.status.replace("_", " ")} after ${result.epochs_run} epochs.`);
      refreshStatus();
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
    /** Everything the page needs before it is ready; rejects with the first failure. */
    async initial() {
      const [status, , history] = await Promise.all([
        api.status(), loadPoints({ transition: false }), api.history(), loadLabels()]);
      serverStartedAt = status.server?.started_at ?? null;
      hooks.applyStatus(status);
      charts.setHistory(history.records ?? [], { merge: false });
    },
  };
}
