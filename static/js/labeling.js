// Label actions: optimistic on the page, written to the server one at a time (so rapid
// keypresses reach the CSV in the order they were made), rolled back when a write fails.
// A write that gets no answer is aborted at its deadline and sent again before the next one
// goes: it sets a final state, so repeating it is harmless, and the server refuses the
// abandoned attempt should it still arrive (the api numbers every attempt).
// `apply(serials, label)` is the one entry point; an uncertainty queue, lasso batches and undo
// can all be built on it (it returns the previous labels).
import { WRITE_DEADLINE_MS as FIRST_DEADLINE_MS } from "./api.js";
import { withUser } from "./palette.js";
import { plural } from "./plural.js";

const ATTEMPTS = 4; // deadlines 3, 6, 12, 24 s: 45 s in all before a write is rolled back

// Versions order server facts; anything not a number is treated as "newer".
function isStale(version, seen) {
  return typeof version === "number" && typeof seen === "number" && version < seen;
}

/**
 * @param {object} deps
 * @param {object} deps.api        from createApi()
 * @param {object} deps.state      owns user / confirmed (Int8Array) and code (Uint16Array)
 * @param {(serials: number[]) => void} deps.onChange  displayed labels changed
 * @param {(stats: object) => void} deps.onStats       server label statistics arrived
 * @param {(message: string) => void} deps.onError
 */
export function createLabeler({ api, state, onChange, onStats, onError }) {
  const inFlight = new Map(); // serial -> writes not yet answered
  const factVersion = new Map(); // serial -> labels.version of the last server fact applied
  let queue = Promise.resolve();
  let retries = 0; // writes sent again after a deadline (read by tests)

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

  function settle(serials, label, body) {
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

  async function send(serials, label) {
    for (let attempt = 1; ; attempt++) {
      try {
        // A request Chromium never sent gets a fresh one after the first deadline; a server
        // that is merely slow (busy machine, model loading) gets longer each time.
        return await sendOnce(serials, label, FIRST_DEADLINE_MS * 2 ** (attempt - 1));
      } catch (error) {
        if (!error.timedOut || attempt >= ATTEMPTS) throw error;
        retries++;
      }
    }
  }

  return {
    /**
     * Sets `label` (0-9, or null to delete) on `serials`. Resolves to
     * `{ok, previous: Map<serial, label|null>, error?}`; never rejects.
     */
    apply(serials, label) {
      const value = label === null ? -1 : label;
      const previous = new Map();
      for (const serial of serials) {
        previous.set(serial, state.user[serial] < 0 ? null : state.user[serial]);
      }
      const todo = serials.filter(
        (serial) => state.user[serial] !== value || inFlight.has(serial)
          || state.confirmed[serial] !== value);
      if (todo.length === 0) return Promise.resolve({ ok: true, previous });
      for (const serial of todo) {
        show(serial, value);
        inFlight.set(serial, (inFlight.get(serial) ?? 0) + 1);
      }
      onChange(todo);
      const result = queue.then(() => send(todo, label)).then(
        (body) => {
          settle(todo, label, body);
          return { ok: true, previous };
        },
        (error) => {
          settle(todo, label, null);
          onError(`${describe(todo, label)}: ${error.message} Rolled back: the page shows the saved label again.`);
          return { ok: false, previous, error };
        },
      );
      queue = result;
      return result;
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

    get pending() {
      return inFlight.size;
    },

    get retries() {
      return retries;
    },
  };
}
