// Clicks on the scatter, beyond what the library does by itself:
// - a click on empty background: the library keeps the old selection then, so a digit typed
//   next would silently relabel a sample the person no longer looks at; it deselects instead;
// - Shift+click toggles the point under the pointer in the batch (Shift+drag is the
//   library's lasso; a Shift+click there is a lasso of nothing, so the page decides).

const CLICK_SLOP_PX = 3; // a pointer that moved further was panning or lassoing, not clicking

/**
 * @param {HTMLCanvasElement} canvas  the scatter canvas; call after the scatter is created
 *   so this listener runs after the library's own click handler
 * @param {object} on  {background(), shiftClick()}
 * @returns {{picked(): void, shift: boolean, moved: boolean}}  call picked() when the library
 *   selected a point; `shift` / `moved`: Shift held at the gesture's start / pointer moved
 */
export function watchClicks(canvas, on) {
  let down = null;
  let picked = false;
  let shift = false;
  let moved = false;
  canvas.addEventListener("pointerdown", (event) => {
    down = [event.clientX, event.clientY];
    picked = false;
    moved = false;
    shift = event.shiftKey;
  });
  canvas.addEventListener("pointermove", (event) => {
    if (down && Math.hypot(event.clientX - down[0], event.clientY - down[1]) > CLICK_SLOP_PX) {
      moved = true;
    }
  });
  canvas.addEventListener("click", () => {
    if (!moved && down) {
      if (shift) on.shiftClick();
      else if (!picked) on.background();
    }
    picked = false;
    down = null;
  });
  return {
    picked() {
      picked = true;
    },
    get shift() {
      return shift;
    },
    get moved() {
      return moved;
    },
  };
}
