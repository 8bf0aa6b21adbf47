// Messages for the person at the screen: errors stay until closed, notes fade.

const NOTE_MS = 4000;
const MAX_VISIBLE = 5;

export function createToasts(container) {
  function dismiss(node) {
    node.classList.add("leaving");
    setTimeout(() => node.remove(), 200);
  }

  function show(kind, message) {
    // The same error again (a retry loop) bumps a counter instead of stacking up.
    for (const node of container.children) {
      if (node.dataset.kind === kind && node.dataset.message === message) {
        const count = Number(node.dataset.count) + 1;
        node.dataset.count = String(count);
        node.querySelector(".toast-count").textContent = `×${count}`;
        return node;
      }
    }
    const node = document.createElement("div");
    node.className = `toast toast-${kind}`;
    node.dataset.kind = kind;
    node.dataset.message = message;
    node.dataset.count = "1";
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
    container.append(node);
    while (container.children.length > MAX_VISIBLE) container.firstElementChild.remove();
    if (kind !== "error") setTimeout(() => dismiss(node), NOTE_MS);
    return node;
  }

  return {
    error: (message) => show("error", message),
    note: (message) => show("note", message),
    warn: (message) => show("warn", message),
  };
}
