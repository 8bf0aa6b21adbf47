// Frames on demand for regl-scatterplot. The library registers one regl.frame callback that
// runs on every animation frame for as long as the page is open, even when nothing changes;
// in software WebGL that idle loop alone costs Chromium several % of a core, which a 2-core
// machine takes from the trainer. Here regl.frame only collects the callback, and the loop
// runs while something may move on screen: after input, a draw, a transition; then it stops.

const IDLE_MS = 600;

/**
 * Wraps `regl` (pass the result to createRenderer({regl})).
 * `wake(ms)` keeps frames coming for at least `ms` more milliseconds; `hold()` until released.
 */
export function createDemandFrames(regl) {
  const callbacks = new Set();
  let awakeUntil = 0;
  let holds = 0;
  let request = null;

  function tick() {
    request = null;
    regl.poll(); // what regl's own loop does before its callbacks (viewport, canvas size)
    for (const callback of callbacks) callback();
    if (holds > 0 || performance.now() < awakeUntil) request = requestAnimationFrame(tick);
  }

  function wake(ms = IDLE_MS) {
    awakeUntil = Math.max(awakeUntil, performance.now() + ms);
    if (request === null && callbacks.size > 0) request = requestAnimationFrame(tick);
  }

  function frame(callback) {
    callbacks.add(callback);
    wake();
    return { cancel: () => callbacks.delete(callback) };
  }

  const wrapped = new Proxy(regl, {
    get: (target, name) => (name === "frame" ? frame : Reflect.get(target, name)),
  });
  return {
    regl: wrapped,
    wake,
    /** Keeps the loop running until the returned function is called (a draw in progress). */
    hold() {
      holds++;
      wake();
      let released = false;
      return () => {
        if (released) return;
        released = true;
        holds--;
        wake();
      };
    },
    /** True while the loop runs (tests and benchmarks). */
    get awake() {
      return request !== null;
    },
  };
}
