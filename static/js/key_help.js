// The keyboard help (`?`, or the header's ? button): a dialog listing KEYS, the table the key
// handler dispatches through. `?` or Esc closes it.
import { KEYS } from "./keys.js";

/** The dialog's rows, in the table's order: [label, help]. */
export function helpRows(keys = KEYS) {
  return keys.map((entry) => [entry.label, entry.help]);
}

/**
 * @param {object} els  {dialog, list (a tbody), open (the header's button), close}
 */
export function createKeyHelp({ dialog, list, open, close }) {
  list.replaceChildren(...helpRows().map(([label, help]) => {
    const row = document.createElement("tr");
    const key = document.createElement("th");
    key.scope = "row";
    for (const [i, part] of label.split("+").entries()) {
      if (i) key.append("+");
      const kbd = document.createElement("kbd");
      kbd.textContent = part;
      key.append(kbd);
    }
    const what = document.createElement("td");
    what.textContent = help;
    row.append(key, what);
    return row;
  }));

  function toggle() {
    if (dialog.open) dialog.close();
    else dialog.showModal();
  }
  // The page's keys stay out of an open dialog (keys.js); its own key closes it, like Esc.
  dialog.addEventListener("keydown", (event) => {
    if (event.key !== "?" || event.ctrlKey || event.metaKey || event.altKey) return;
    event.preventDefault();
    event.stopPropagation(); // else the page's handler would see no dialog and open it again
    dialog.close();
  });
  open.addEventListener("click", toggle);
  close.addEventListener("click", () => dialog.close());
  return { toggle };
}
