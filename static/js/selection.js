// Clicks on the scatter's empty background: the library keeps the old selection then, so a
// digit typed next would silently relabel a sample the person no longer looks at. A click
// that picks no point (and is not a pan or a shift-click) clears the selection instead.

const CLICK_SLOP_PX = 3; // a pointer that moved further was panning, not clicking

/**
 * @param {HTMLCanvasElement} canvas  the scatter canvas; call after the scatter is created
 *   so this listener runs after the library's own click handler
 * @param {() => void} onBackground  a click that hit no point
 * @returns {{picked(): void, shift: boolean}}  call picked() when the library selected a
 *   point; `shift`: whether Shift was held when the current pointer gesture began
 */
export function watchBackgroundClicks(canvas, onBackground) {
  let down = null;
  let picked = false;
  let shift = false;
  canvas.addEventListener("pointerdown", (event) => {
    down = [event.clientX, event.clientY];
    picked = false;
    shift = event.shiftKey;
  });
  canvas.addEventListener("click", (event) => {
    const moved = down !== null
      && Math.hypot(event.clientX - down[0], event.clientY - down[1]) > CLICK_SLOP_PX;
    if (!moved && !picked && !event.shiftKey) onBackground();
    picked = false;
  });
  return {
    picked() {
      picked = true;
    },
    get shift() {
      return shift;
    },
  };
}
