// Messages for the person at the screen: errors and warnings stay until closed, notes fade. At most
// MAX_VISIBLE show at once (the oldest goes first), and a message that is already shown
// is not stacked again: it moves to the newest place with a count ("×3"). A message about a
// passing state (the connection is down, a write is being retried) names a topic, and
// `clear(topic)` takes it away once that state is over.

const NOTE_MS = 4000;
export const MAX_VISIBLE = 3;

/**
 * The toasts after `toast` ({kind, message, ...}) arrives, oldest first: an identical one
 * already shown is counted and moved last; otherwise it is added and the oldest beyond
 * `max` are dropped. Pure: returns {entries, dropped}; entries keep their other fields.
 */
export function admit(entries, toast, max = MAX_VISIBLE) {
  const at = entries.findIndex((e) => e.kind === toast.kind && e.message === toast.message);
  if (at >= 0) {
    const bumped = { ...entries[at], count: entries[at].count + 1 };
    return { entries: [...entries.filter((_, i) => i !== at), bumped], dropped: [] };
  }
  const all = [...entries, { ...toast, count: 1 }];
  const excess = Math.max(0, all.length - max);
  return { entries: all.slice(excess), dropped: all.slice(0, excess) };
}

export function createToasts(container) {
  let entries = []; // {kind, message, count, node}, oldest first, as on screen

  function dismiss(node) {
    entries = entries.filter((e) => e.node !== node);
    node.classList.add("leaving");
    setTimeout(() => node.remove(), 200);
  }

  function build(kind, message) {
    const node = document.createElement("div");
    node.className = `toast toast-${kind}`;
    node.setAttribute("role", kind === "error" ? "alert" : "status");
    const text = document.createElement("span");
    text.className = "toast-text";
    text.textContent = message;
    const count = document.createElement("span");
    count.className = "toast-count";
    const close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", () => dismiss(node));
    node.append(text, count, close);
    return node;
  }

  function show(kind, message, topic = null) {
    const known = entries.some((e) => e.kind === kind && e.message === message);
    const result = admit(entries,
      { kind, message, topic, node: known ? null : build(kind, message) });
    entries = result.entries;
    for (const gone of result.dropped) gone.node.remove();
    const entry = entries.at(-1);
    entry.node.querySelector(".toast-count").textContent = entry.count > 1 ? `×${entry.count}` : "";
    entry.node.dataset.count = String(entry.count);
    container.append(entry.node); // (re)placed newest
    if (kind === "note") { // errors and warnings stay until closed
      clearTimeout(entry.node.fadeTimer);
      entry.node.fadeTimer = setTimeout(() => dismiss(entry.node), NOTE_MS);
    }
    return entry.node;
  }

  return {
    error: (message, topic) => show("error", message, topic),
    note: (message, topic) => show("note", message, topic),
    warn: (message, topic) => show("warn", message, topic),
    /** Dismisses the messages of `topic`: what they said is no longer true. */
    clear(topic) {
      for (const entry of entries.filter((e) => e.topic === topic)) dismiss(entry.node);
    },
  };
}
