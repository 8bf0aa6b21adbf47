// Ticks for the training curves' log axis. uPlot puts a log axis's ticks at whole decades
// and widens the scale to them, so a loss between 240 and 420 got one tick ("1,000") and a
// flat line at the bottom. Here the scale hugs the data and the ticks are round numbers
// inside it, as many as the plot's height holds. Pure: the node tests check them.

// Mantissas of round numbers, from few ticks a decade to many.
const MANTISSAS = [
  [1], [1, 3], [1, 2, 5], [1, 1.5, 2, 3, 5, 7], [1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8],
];

/** [min, max] of a log scale around data from `min` to `max` (both > 0), a little padded. */
export function logRange(min, max) {
  if (!(min > 0) || !(max > 0)) return [1, 10];
  if (max <= min) return [min / 1.1, max * 1.1];
  const pad = Math.max(1.02, (max / min) ** 0.06);
  return [min / pad, max * pad];
}

/**
 * Evenly stepped round ticks (steps 1, 2, 2.5, 5 × 10^k) inside [min, max]: as close to
 * `count` as the steps allow (fewer on a tie), three or more where a step gives that many
 * without going past `count` + 1, else at least two where any step gives two.
 */
export function linearTicks(min, max, count) {
  if (!(max > min) || count < 1) return [];
  const ticksOf = (step) => {
    const ticks = [];
    // Tolerant of rounding: 0.0001 / 0.00005 is 2.0000000000000004.
    for (let k = Math.ceil(min / step - 1e-9); k * step <= max * (1 + 1e-12) + step * 1e-9; k++) {
      ticks.push(Number((k * step).toPrecision(12)));
    }
    return ticks;
  };
  // Steps from one that gives about 2 × count ticks up to one that gives at most one.
  const candidates = [];
  for (let power = 10 ** Math.floor(Math.log10((max - min) / (2 * count))); ; power *= 10) {
    const sets = [1, 2, 2.5, 5].map((m) => ticksOf(m * power));
    candidates.push(...sets);
    if (sets[3].length <= 1) break;
  }
  const two = candidates.filter((t) => t.length >= 2);
  if (!two.length) return candidates.at(-1);
  // Three or more where the height allows one more than `count`: two ticks tell little.
  const several = two.filter((t) => t.length >= 3 && t.length <= count + 1);
  const miss = (t) => Math.abs(t.length - count) + (t.length > count ? 0.5 : 0);
  return (several.length ? several : two).reduce((best, t) => (miss(t) < miss(best) ? t : best));
}

function roundTicks(mantissas, min, max) {
  const ticks = [];
  for (let p = Math.floor(Math.log10(min)); 10 ** p <= max; p++) {
    for (const m of mantissas) {
      const v = Number((m * 10 ** p).toPrecision(12));
      if (v >= min && v <= max) ticks.push(v);
    }
  }
  return ticks;
}

/**
 * Ticks for a log axis over [min, max]: the largest set of round numbers (1-2-5 and finer)
 * that is at most `count`; when a narrow range holds fewer than three of them (there log is
 * nearly linear), evenly stepped ones if those are more.
 */
export function logTicks(min, max, count = 4) {
  if (!(min > 0) || !(max > min) || count < 1) return [];
  let best = [];
  for (const mantissas of MANTISSAS) {
    const ticks = roundTicks(mantissas, min, max);
    if (ticks.length <= count && ticks.length > best.length) best = ticks;
  }
  if (best.length >= Math.min(3, count)) return best;
  const even = linearTicks(min, max, count);
  return even.length > best.length ? even : best;
}

/** A tick's label: thousands separated, at most three significant digits past the point. */
export function formatTick(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return "";
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
  return String(Number(v.toPrecision(3)));
}
