// Keyboard shortcuts. Keys typed into a field belong to the field, never to the page.

function isTyping(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  return target instanceof HTMLInputElement && !["checkbox", "radio", "button"].includes(target.type);
}

const MODE_KEYS = { u: "user", p: "pred", c: "certainty", g: "truth" };

/**
 * @param {object} actions  {label(n), unlabel(), deselect(), mode(name), resetView(), focusJump(),
 *   next(), undo(), redo(), decoder(), manifold(), evaluate(), confirm(): boolean (Enter: false
 *   when nothing waits for it, so a focused button still gets it)}
 */
export function bindKeys(actions) {
  window.addEventListener("keydown", (event) => {
    // An open dialog (the evaluation) has the keyboard: no labels or views change behind it.
    if (document.querySelector("dialog[open]")) return;
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "z"
      && !isTyping(event.target)) {
      event.preventDefault(); // the browser's own undo would act on a field instead
      if (event.shiftKey) actions.redo();
      else actions.undo();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (isTyping(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const { key } = event;
    let handled = true;
    if (key.length === 1 && key >= "0" && key <= "9") {
      if (!event.repeat) actions.label(Number(key));
    }
    else if (key === "Delete" || key === "Backspace") actions.unlabel();
    else if (key === "Escape") actions.deselect();
    else if (key === "Enter") handled = actions.confirm();
    else if (MODE_KEYS[key]) actions.mode(MODE_KEYS[key]);
    else if (key === "r") actions.resetView();
    else if (key === "/") actions.focusJump();
    else if (key === "n") actions.next();
    else if (key === "m") actions.decoder();
    else if (key === "o") actions.manifold();
    else if (key === "e") actions.evaluate();
    else handled = false;
    if (handled) event.preventDefault();
  });
}
