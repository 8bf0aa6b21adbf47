// Label actions: optimistic on the page, written to the server one at a time (so rapid
// keypresses reach the CSV in the order they were made), rolled back only when the server
// refuses a write (a 4xx answer). A write that cannot get through (server down or
// restarting, no answer, a 5xx) stays on the page as pending and is sent again until the
// server takes it, before any write typed after it: a write sets a final state, so repeating
// it is harmless, and the server refuses an abandoned attempt that arrives late (the api
// numbers every attempt). The writes not acknowledged yet go to a journal (journal.js) so that
// a reload does not drop them.
// `apply(serials, label)` is the one entry point; the queue, lasso batches and undo are all
// built on it (it returns the previous labels).
import { WRITE_DEADLINE_MS as FIRST_DEADLINE_MS } from "./api.js";
import { reconcile } from "./journal.js";
import { withUser } from "./palette.js";
import { plural } from "./plural.js";

// Deadlines 3, 6, 12, 24, 24, ... s for a write that gets no answer; waits of 1, 2, 4, 8,
// 10, 10, ... s (or until `resume()`: the server is back) after one that could not connect.
const MAX_DEADLINE_MS = 24_000;
const FIRST_WAIT_MS = 1000;
const MAX_WAIT_MS = 10_000;
export const RETRY_TOPIC = "label-retry";

// Versions order server facts; anything not a number is treated as "newer".
function isStale(version, seen) {
  return typeof version === "number" && typeof seen === "number" && version < seen;
}

/** A write worth sending again: no answer, no server, or the server failed (not a refusal). */
export function isTransient(error) {
  if (error?.timedOut) return true;
  return typeof error?.status === "number" && (error.status === 0 || error.status >= 500);
}

/**
 * @param {object} deps
 * @param {object} deps.api        from createApi()
 * @param {object} deps.state      owns user / confirmed (Int8Array) and code (Uint16Array)
 * @param {(serials: number[]) => void} deps.onChange  displayed labels changed
 * @param {(stats: object) => void} deps.onStats       server label statistics arrived
 * @param {(message: string, topic?: string) => void} deps.onError  (`RETRY_TOPIC`: a message
 *   about a write still being retried, void once nothing waits)
 * @param {(pending: {count: number, waiting: boolean, reason: string|null}) => void}
 *   [deps.onPending]  the labels not saved yet changed (`waiting`: one could not get through)
 * @param {{save(entries: object[]): void}} [deps.journal]  keeps the unacknowledged writes
 */
export function createLabeler({
  api, state, onChange, onStats, onError, onPending = () => {}, journal = null,
}) {
  const inFlight = new Map(); // serial -> writes not yet answered
  const factVersion = new Map(); // serial -> labels.version of the last server fact applied
  const unsaved = []; // the writes not acknowledged yet, in order: {serials, label, base}
  let queue = Promise.resolve();
  let retries = 0; // writes sent again (read by tests)
  let waiting = null; // why the write at the head of the queue did not get through
  const wakers = new Set();

  function pendingChanged() {
    journal?.save(unsaved.map(({ serials, label, base }) => ({ serials, label, base })));
    onPending({ count: inFlight.size, waiting: waiting !== null, reason: waiting });
  }

  function show(serial, value) {
    state.user[serial] = value;
    state.code[serial] = withUser(state.code[serial], value);
  }

  function confirm(serial, value, version) {
    if (isStale(version, factVersion.get(serial))) return false;
    if (version !== undefined) factVersion.set(serial, version);
    state.confirmed[serial] = value;
    return true;
  }

  function settle(entry, body) {
    const { serials, label } = entry;
    const version = body?.stats?.version;
    const changed = [];
    for (const serial of serials) {
      if (body) confirm(serial, label === null ? -1 : label, version);
      const left = inFlight.get(serial) - 1;
      if (left > 0) {
        inFlight.set(serial, left);
      } else {
        inFlight.delete(serial);
        if (state.user[serial] !== state.confirmed[serial]) {
          show(serial, state.confirmed[serial]);
          changed.push(serial);
        }
      }
    }
    unsaved.splice(unsaved.indexOf(entry), 1);
    waiting = null;
    pendingChanged();
    if (changed.length) onChange(changed);
    if (body?.stats) onStats(body.stats);
  }

  function describe(serials, label) {
    const what = serials.length === 1 ? `sample #${serials[0]}` : plural(serials.length, "sample");
    if (label === null) return `Could not remove the label of ${what}`;
    const name = state.classNames[label] ?? label;
    return `Could not save label ${label} (${name}) for ${what}`;
  }

  function sendOnce(serials, label, deadlineMs) {
    if (serials.length === 1) {
      return label === null
        ? api.deleteLabel(serials[0], deadlineMs)
        : api.putLabel(serials[0], label, deadlineMs);
    }
    const labels = Object.fromEntries(serials.map((serial) => [serial, label]));
    return api.postLabels(labels, deadlineMs);
  }

  /** Waits `ms`, or less when the server is known to be back (`resume()`). */
  function pause(ms) {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      wakers.add(wake);
    });
  }

  async function send({ serials, label }) {
    let waitMs = FIRST_WAIT_MS;
    let told = null; // the server failure already shown for this write
    for (let attempt = 1; ; attempt++) {
      try {
        // A request Chromium never sent gets a fresh one after the first deadline; a server
        // that is merely slow (busy machine, model loading) gets longer each time.
        const deadline = Math.min(FIRST_DEADLINE_MS * 2 ** (attempt - 1), MAX_DEADLINE_MS);
        return await sendOnce(serials, label, deadline);
      } catch (error) {
        if (!isTransient(error)) throw error; // refused: the caller rolls back
        retries++;
        waiting = error.message;
        pendingChanged();
        if (error.status >= 500 && told !== error.message) {
          told = error.message;
          onError(`${describe(serials, label)} yet: ${error.message} Kept on the page;`
            + " it is sent again until the server takes it.", RETRY_TOPIC);
        }
        if (!error.timedOut) {
          await pause(waitMs);
          waitMs = Math.min(waitMs * 2, MAX_WAIT_MS);
        }
      }
    }
  }

  function apply(serials, label) {
    const value = label === null ? -1 : label;
    const previous = new Map();
    for (const serial of serials) {
      previous.set(serial, state.user[serial] < 0 ? null : state.user[serial]);
    }
    const todo = serials.filter(
      (serial) => state.user[serial] !== value || inFlight.has(serial)
        || state.confirmed[serial] !== value);
    if (todo.length === 0) return Promise.resolve({ ok: true, previous });
    // What the server had when this was typed: a journal taken over after a reload checks it.
    const base = todo.map((s) => [s, state.confirmed[s] < 0 ? null : state.confirmed[s]]);
    const entry = { serials: todo, label, base };
    unsaved.push(entry);
    for (const serial of todo) {
      show(serial, value);
      inFlight.set(serial, (inFlight.get(serial) ?? 0) + 1);
    }
    pendingChanged();
    onChange(todo);
    const result = queue.then(() => send(entry)).then(
      (body) => {
        settle(entry, body);
        return { ok: true, previous };
      },
      (error) => {
        settle(entry, null);
        onError(`${describe(todo, label)}: ${error.message} Rolled back: the page shows the saved label again.`);
        return { ok: false, previous, error };
      },
    );
    queue = result;
    return result;
  }

  return {
    /**
     * Sets `label` (0-9, or null to delete) on `serials`. Resolves to
     * `{ok, previous: Map<serial, label|null>, error?}` once the server took the write
     * (ok) or refused it (rolled back); never rejects.
     */
    apply,

    /**
     * Writes what an earlier page of this labels file could not (journal.claim()), where the
     * server still has the label it had then; returns {written, conflicts} (reconcile()).
     */
    resend(entries) {
      const current = (serial) => (state.confirmed[serial] < 0 ? null : state.confirmed[serial]);
      const { writes, conflicts } = reconcile(entries, current);
      for (const [label, serials] of writes) apply(serials, label);
      return { written: writes.reduce((n, [, serials]) => n + serials.length, 0), conflicts };
    },

    /** The server answers again: a write waiting to be sent again goes now. */
    resume() {
      for (const wake of [...wakers]) wake();
    },

    /** A `labels` event: facts from the server (this page, the CLI, the file). */
    applyEvent({ changes, stats }) {
      const changed = [];
      for (const { serial, label } of changes) {
        const value = label === null || label === undefined ? -1 : label;
        const fresh = confirm(serial, value, stats?.version);
        if (fresh && !inFlight.has(serial) && state.user[serial] !== value) {
          show(serial, value);
          changed.push(serial);
        }
      }
      if (changed.length) onChange(changed);
      if (stats) onStats(stats);
    },

    /** Replaces every label with the server's full set (start-up, reconnect). */
    reset(labels, version) {
      state.confirmed.fill(-1);
      factVersion.clear();
      for (const [serial, label] of Object.entries(labels)) {
        const index = Number(serial);
        if (index >= 0 && index < state.confirmed.length) state.confirmed[index] = label;
      }
      for (let i = 0; i < state.confirmed.length; i++) {
        if (!inFlight.has(i)) show(i, state.confirmed[i]);
      }
      state.labelsVersion = version;
      onChange(null);
    },

    /** Samples whose label on the page is not saved yet. */
    get pending() {
      return inFlight.size;
    },

    /** Whether `serial`'s label on the page is not saved yet. */
    isPending(serial) {
      return inFlight.has(serial);
    },

    get retries() {
      return retries;
    },
  };
}
