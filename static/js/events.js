// The server's event stream: one EventSource, a connection state for the header
// (connecting / live / reconnecting / down) and a reopen loop when the browser gives up.

const DOWN_AFTER_MS = 6000;
const MAX_BACKOFF_MS = 10000;
export const EVENT_NAMES = [
  "snapshot", "labels", "train_started", "train_progress", "train_epoch", "train_ended",
  "session_saved", "latent_refreshed", "model", "notice", "error",
];

/**
 * Opens `url` and dispatches parsed JSON payloads to `handlers[eventName]`.
 * `onState(state)` gets "live" once a snapshot arrived, "reconnecting" while the browser
 * retries, and "down" when the stream has been gone for a while or was closed.
 */
export function connectEvents(url, handlers, onState) {
  let source = null;
  let state = "connecting";
  let backoff = 1000;
  let downTimer = null;
  let reopenTimer = null;

  function setState(next) {
    if (next === state) return;
    state = next;
    onState(next);
  }

  function dispatch(name, event) {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      console.warn(`ignored a malformed "${name}" event`, event.data);
      return;
    }
    if (name === "snapshot") {
      clearTimeout(downTimer);
      downTimer = null;
      backoff = 1000;
      setState("live");
    }
    handlers[name]?.(data);
  }

  function troubled() {
    if (!downTimer && state !== "down") {
      downTimer = setTimeout(() => setState("down"), DOWN_AFTER_MS);
    }
  }

  function open() {
    reopenTimer = null;
    source = new EventSource(url);
    for (const name of EVENT_NAMES) {
      source.addEventListener(name, (event) => dispatch(name, event));
    }
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        // The browser stopped retrying (an HTTP error); reopen ourselves, backing off.
        source.close();
        setState("down");
        reopenTimer = setTimeout(open, backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      } else {
        if (state === "live") setState("reconnecting");
        troubled();
      }
    };
  }

  open();
  return {
    get state() {
      return state;
    },
    close() {
      clearTimeout(downTimer);
      clearTimeout(reopenTimer);
      source?.close();
    },
  };
}
