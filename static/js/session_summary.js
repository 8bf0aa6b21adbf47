// The training panel's account of one session: the result line (#train-result: running, saving,
// how it ended, or what a server restart kept of it) and, under it, that same session's
// evaluation (#eval-line), never another session's beside it. Plus the accuracy-vs-labels steps
// (#eval-curve). Facts come from the events (train_started, train_ended, session_saved), the
// status (a reload, a reconnect) and, after a server restart, the new server's sessions.
import { curveText, evaluationParts } from "./evaluation.js";
import { plural } from "./plural.js";
import { clock } from "./training.js";


const words = (status) => String(status ?? "ended").replace("_", " ");

/** "session 3 completed: 10 epochs in 0:31, 40 in total". */
export function endedText(result) {
  const seconds = typeof result.seconds === "number" ? ` in ${clock(result.seconds)}` : "";
  return `session ${result.session} ${words(result.status)}: `
    + `${plural(result.epochs_run, "epoch")}${seconds}, ${result.global_epoch} in total`;
}

/**
 * The result line for `facts` ({phase, session, ...}); pure. Phases: running, saving, done
 * (how it ended, and whether it was saved), kept / lost (the server restarted meanwhile).
 */
export function resultText(facts) {
  if (!facts) return "";
  const { phase, session } = facts;
  if (phase === "running") {
    // Every label trains: say how many this session uses.
    const on = typeof facts.n_labeled === "number" ? ` on ${plural(facts.n_labeled, "label")}` : "";
    return `session ${session} running: ${plural(facts.epochs, "epoch")}${on}`;
  }
  if (phase === "saving") {
    return facts.result ? `${endedText(facts.result)} · saving…` : `session ${session}: saving…`;
  }
  if (phase === "kept") {
    // Ctrl+C on the server stops a session between batches and saves its whole epochs (the
    // one it interrupted is rolled back).
    const { entry } = facts;
    const epochs = entry.epochs_run ?? 0;
    const global = (entry.start_global_epoch ?? 0) + epochs;
    return `session ${session} ${words(entry.status)} and was saved before the server`
      + ` restarted: ${plural(epochs, "epoch")}, ${global} in total`;
  }
  if (phase === "lost") {
    // A crash, kill -9, or a stop before its first whole epoch.
    return `session ${session} ended with the server and nothing of it was kept: the model`
      + " is as it was before it";
  }
  const text = endedText(facts.result);
  return facts.saveError ? `${text} · not saved: ${facts.saveError}` : text;
}

/** Whether the result line reports a failure (shown in the failure colour). */
export function isFailure(facts) {
  return Boolean(facts) && (facts.phase === "lost" || Boolean(facts.saveError)
    || facts.result?.status === "failed");
}

/**
 * @param {object} els  {result, line, curve}
 */
export function createSessionSummary(els) {
  let facts = null;
  let evaluations = [];
  const saved = new Map(); // session -> evaluation from its session_saved event

  /** Session `session`'s evaluation: from the status, else from its session_saved. */
  function evaluationOf(session) {
    const listed = evaluations.find((e) => e.session === session);
    if (listed) return listed;
    const fresh = saved.get(session);
    if (!fresh) return null;
    const before = evaluations.filter((e) => e.session < session
      && typeof e.test_accuracy === "number").at(-1);
    return { session, previous_test_accuracy: before?.test_accuracy ?? null, ...fresh };
  }

  function renderEvaluation() {
    const e = facts && ["done", "kept"].includes(facts.phase) ? evaluationOf(facts.session) : null;
    els.line.hidden = !e;
    if (!e) {
      els.line.replaceChildren();
      return;
    }
    const [head, change, tail] = evaluationParts(e);
    const parts = [head];
    if (change) {
      const span = document.createElement("span");
      span.className = `change ${change.direction}`;
      span.textContent = change.text;
      parts.push(" (", span, ")");
    }
    parts.push(tail);
    els.line.replaceChildren(...parts);
    els.line.dataset.session = String(e.session);
  }

  function render() {
    els.result.textContent = resultText(facts);
    els.result.classList.toggle("failed", isFailure(facts));
    els.result.dataset.phase = facts?.phase ?? "";
    renderEvaluation();
    // The steps include the session the line shows, saved since the last status: the two never
    // disagree while the status that lists it is on its way.
    const shown = facts && ["done", "kept"].includes(facts.phase) ? evaluationOf(facts.session) : null;
    const fresh = shown && !evaluations.some((e) => e.session === shown.session) ? [shown] : [];
    const steps = curveText([...evaluations, ...fresh]);
    els.curve.hidden = !steps;
    els.curve.textContent = steps ? `test accuracy by labels: ${steps}` : "";
  }

  const open = () => facts && ["running", "saving"].includes(facts.phase);

  return {
    /** `train_started`. */
    running({ session, epochs, n_labeled: nLabeled, started_at: startedAt }) {
      facts = { phase: "running", session, epochs, n_labeled: nLabeled, startedAt };
      render();
    },
    /** `train_ended`: the loop ended; the session is evaluated and saved next (not if failed). */
    ended(result) {
      const failedEarly = result.status === "failed" && !result.epochs_run;
      facts = { phase: failedEarly ? "done" : "saving", session: result.session, result,
        startedAt: facts?.session === result.session ? facts.startedAt : undefined };
      render();
    },
    /**
     * `session_saved`: the session's facts, all at once. `saved` false with no `save_error`:
     * no whole epoch was kept, so there was nothing to save (its epochs say 0).
     */
    saved(event) {
      const { session, evaluation } = event;
      if (evaluation) saved.set(session, { n_labeled: event.n_labeled, ...evaluation });
      const result = facts?.session === session && facts.result ? facts.result
        : { session, status: event.status, epochs_run: event.epochs_run,
          global_epoch: event.epochs_trained };
      facts = { phase: "done", session, result,
        saveError: event.saved === false ? event.save_error ?? null : null };
      render();
    },
    /** Every status: its evaluations, and the training block for a page that missed events. */
    status({ evaluations: list, training }) {
      if (Array.isArray(list)) evaluations = list;
      const last = training?.last_result;
      if (training?.state === "idle" && last) {
        // A reloaded page, or one that missed the end of a session while reconnecting.
        if (!facts || (open() && facts.session === last.session)) {
          facts = { phase: "done", session: last.session, result: facts?.result ?? last,
            saveError: last.saved === false ? last.save_error ?? null : null };
        }
      } else if (training && training.state !== "idle" && training.session
        && (!facts || facts.session !== training.session)) {
        facts = { phase: training.state === "saving" ? "saving" : "running",
          session: training.session, epochs: training.epochs };
      }
      render();
    },
    /**
     * The server restarted; `sessions` are the new one's (`/api/history`; null when they could
     * not be read: then its `lastResult` decides). A session this page saw open is there if
     * it was saved (a Ctrl+C stops a session between batches and saves it), else it was lost
     * (a crash, kill -9: nothing after the last save survives).
     */
    serverRestarted(sessions, lastResult = null) {
      if (!open()) return;
      const { session, startedAt } = facts;
      if (sessions === null) {
        facts = lastResult?.session === session ? { phase: "done", session, result: lastResult }
          : { phase: "lost", session };
      } else {
        const entry = sessions.find((s) => s.session === session && s.status !== "running"
          && (!startedAt || !s.started_at || s.started_at === startedAt));
        facts = entry ? { phase: "kept", session, entry } : { phase: "lost", session };
      }
      render();
    },
    get facts() {
      return facts;
    },
  };
}
