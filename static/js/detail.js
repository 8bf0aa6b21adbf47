// Level of detail for very large scatters. In software WebGL one frame of a million points
// takes seconds, so while the view moves (drag, wheel) only an even sample of the points is
// drawn and each frame stays quick; once the view has rested for a moment every point is
// drawn again, in one full frame. Small scatters are always drawn whole.

export const DETAIL_ABOVE = 300_000; // points; at or below this, no sampling
const SAMPLE_POINTS = 100_000;
const REST_MS = 300;

/**
 * @param {object} plot  the regl-scatterplot instance
 * @param {() => number|null} selected  the selected index (kept in the sample)
 * @param {() => void} onChange  something must be drawn (wakes the frame loop)
 */
export function createLevelOfDetail(plot, selected, onChange) {
  let count = 0;
  let sample = null; // a plain Array (the library wants one), built on first use
  let reduced = false;
  let restTimer = null;

  function rest() {
    restTimer = null;
    if (!reduced) return;
    reduced = false;
    plot.unfilter({ preventEvent: true });
    onChange();
  }

  return {
    /** A new set of `n` points was uploaded. */
    setCount(n) {
      if (n === count) return;
      count = n;
      sample = null;
      clearTimeout(restTimer);
      reduced = false; // a draw of another length resets the library's filter
    },
    /** The view is moving: draw the sample until it rests. */
    moving() {
      if (count <= DETAIL_ABOVE) return;
      clearTimeout(restTimer);
      restTimer = setTimeout(rest, REST_MS);
      if (reduced) return;
      reduced = true;
      const step = Math.ceil(count / SAMPLE_POINTS);
      if (sample === null) {
        sample = [];
        for (let i = 0; i < count; i += step) sample.push(i);
      }
      const keep = selected();
      plot.filter(keep === null || keep % step === 0 ? sample : [...sample, keep],
        { preventEvent: true });
      onChange();
    },
    get reduced() {
      return reduced;
    },
  };
}
