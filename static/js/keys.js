// Keyboard shortcuts. Keys typed into a field belong to the field, never to the page. One
// table says which key does what: the handler dispatches through it and the help dialog
// (`?`) lists it, so the list cannot leave a key out.

function isTyping(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  return target instanceof HTMLInputElement && !["checkbox", "radio", "button"].includes(target.type);
}

const DIGITS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/**
 * Every key the page handles. `keys`: the values of KeyboardEvent.key; `ctrl`: with Ctrl (or
 * ⌘), `shift`: with Shift as well (only checked with `ctrl`: "?" is a shifted key itself);
 * `inField`: it acts while the cursor is in a text field too; `arg(key)`: what the action
 * gets; `once`: a held key does not repeat it. `label` and `help` are what the dialog shows.
 */
export const KEYS = Object.freeze([
  { keys: DIGITS, label: "0 – 9", action: "label", arg: Number, once: true,
    help: "Label the selected sample (or every sample of the batch) with this class" },
  { keys: ["Delete", "Backspace"], label: "Del", action: "unlabel",
    help: "Remove the selected sample's label" },
  { keys: ["n"], label: "n", action: "next", help: "Select the next sample of the queue" },
  { keys: ["Escape"], label: "Esc", action: "deselect",
    help: "Cancel a batch's question, else clear the batch, else the selection" },
  { keys: ["Enter"], label: "Enter", action: "confirm",
    help: "Label a batch that asked first (over 50 samples, or mostly predicted otherwise)" },
  { keys: ["z"], ctrl: true, label: "Ctrl+Z", action: "undo", help: "Undo the last label change" },
  { keys: ["z"], ctrl: true, shift: true, label: "Ctrl+Shift+Z", action: "redo",
    help: "Redo what was undone" },
  { keys: ["/"], label: "/", action: "focusJump", help: "Go to a sample by its index" },
  { keys: ["u"], label: "u", action: "mode", arg: () => "user", help: "Colour points by your labels" },
  { keys: ["p"], label: "p", action: "mode", arg: () => "pred",
    help: "Colour points by the model's prediction" },
  { keys: ["c"], label: "c", action: "mode", arg: () => "certainty",
    help: "Colour points by the model's certainty" },
  { keys: ["g"], label: "g", action: "mode", arg: () => "truth",
    help: "Colour points by the ground truth" },
  { keys: ["r"], label: "r", action: "resetView", help: "Fit every point into the view" },
  { keys: ["m"], label: "m", action: "decoder",
    help: "Decoder view: what the decoder draws under the cursor" },
  { keys: ["o"], label: "o", action: "manifold", help: "Manifold: decoded images over the plot" },
  { keys: ["e"], label: "e", action: "evaluate",
    help: "Per-class accuracy and confusion matrix (e again closes it)" },
  { keys: ["?"], label: "?", action: "help", help: "This list (? or Esc closes it)" },
  { keys: ["Escape"], inField: true, label: "Esc", action: "leaveField",
    help: "In a text field: leave it, so that the keys above act again" },
]);

/**
 * The table's entry for a key press, or null. `typing`: the cursor is in a text field, where
 * only `inField` entries act (and Ctrl+Z is the field's own undo).
 * @param {{key: string, ctrlKey?: boolean, metaKey?: boolean, altKey?: boolean,
 *   shiftKey?: boolean}} event
 */
export function keyEntry(event, typing = false) {
  const ctrl = Boolean(event.ctrlKey || event.metaKey);
  if (event.altKey) return null;
  const key = ctrl ? event.key.toLowerCase() : event.key;
  return KEYS.find((entry) => entry.keys.includes(key)
    && Boolean(entry.ctrl) === ctrl
    && (!ctrl || Boolean(entry.shift) === Boolean(event.shiftKey))
    && Boolean(entry.inField) === typing) ?? null;
}

/**
 * @param {object} actions  one function per `action` of KEYS: {label(n), unlabel(), next(),
 *   deselect(), confirm(), undo(), redo(), focusJump(), mode(name), resetView(), decoder(),
 *   manifold(), evaluate(), help()}; "leaveField" is handled here. An action that returns
 *   false did nothing (Enter with no question asked): the key then keeps its default.
 */
export function bindKeys(actions) {
  const missing = KEYS.filter((e) => e.action !== "leaveField" && !actions[e.action]);
  if (missing.length) throw new Error(`no action for ${missing.map((e) => e.label).join(", ")}`);
  window.addEventListener("keydown", (event) => {
    // An open dialog has the keyboard: no labels or views change behind it.
    if (document.querySelector("dialog[open]")) return;
    const entry = keyEntry(event, isTyping(event.target));
    if (!entry) return;
    if (entry.once && event.repeat) {
      event.preventDefault();
      return;
    }
    const acted = entry.action === "leaveField" ? event.target.blur()
      : actions[entry.action](entry.arg ? entry.arg(event.key) : undefined);
    // Else the browser's own undo would act on a field, "/" would search.
    if (acted !== false) event.preventDefault();
  });
}
