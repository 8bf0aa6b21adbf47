// The progress line's repaint cadence (static/js/sync.js `coalesce`): at most one paint per
// interval, the latest value wins, and an epoch's end paints it at once, in its own frame.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

import {
  PROGRESS_PAINT_MS, SOFTWARE_PROGRESS_PAINT_MS, coalesce, eventsUrl, progressPaintMs,
} from "../../static/js/sync.js";

// A clock the test moves, timers that fire when it passes them, frames that come at once.
let now = 0;
let timers = [];
Object.defineProperty(globalThis, "performance", { value: { now: () => now }, configurable: true });
globalThis.setTimeout = (callback, ms) => timers.push({ at: now + ms, callback });
globalThis.requestAnimationFrame = (callback) => callback(now);

function advance(ms) {
  const until = now + ms;
  for (;;) {
    timers.sort((a, b) => a.at - b.at);
    if (!timers.length || timers[0].at > until) break;
    const timer = timers.shift();
    now = timer.at;
    timer.callback();
  }
  now = until;
}

beforeEach(() => {
  now = 0;
  timers = [];
});

test("without a GPU the progress line repaints every 5 s, with one twice a second", () => {
  const swiftshader = "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)),"
    + " SwiftShader driver)";
  assert.equal(progressPaintMs(swiftshader), 5000);
  assert.equal(progressPaintMs("llvmpipe (LLVM 15.0.6, 256 bits)"), 5000);
  assert.equal(progressPaintMs(null), 5000); // not known: the cheap side
  assert.equal(progressPaintMs("ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 Direct3D11)"), 500);
  assert.equal(SOFTWARE_PROGRESS_PAINT_MS, 5000);
  // The stream asks for progress no more often than the page paints it.
  assert.equal(eventsUrl(swiftshader), "/api/events?client=page&progress_ms=5000");
  assert.equal(eventsUrl("ANGLE (NVIDIA)"), "/api/events?client=page&progress_ms=500");
  assert.equal(PROGRESS_PAINT_MS, 500);
});

test("the progress line repaints at most once an interval, the latest value", () => {
  const painted = [];
  const progress = coalesce((v) => painted.push([now, v]), 1000);
  // Four events a second for three seconds, as the server sends them.
  for (let i = 1; i <= 12; i++) {
    progress.push(i);
    advance(250);
  }
  advance(2000);
  assert.deepEqual(painted.map(([, v]) => v), [1, 4, 8, 12]); // the latest at each second
  const gaps = painted.slice(1).map(([t], i) => t - painted[i][0]);
  assert.ok(gaps.every((gap) => gap >= 1000), `gaps ${gaps}`);
});

test("now() paints the waiting value at once, and the next paint waits a full interval", () => {
  const painted = [];
  const progress = coalesce((v) => painted.push([now, v]), 1000);
  progress.push("a"); // painted at the next frame
  advance(100);
  progress.push("b");
  advance(300);
  progress.now(); // an epoch ended: its frame shows "b" too
  assert.deepEqual(painted, [[0, "a"], [400, "b"]]);
  progress.now(); // nothing new: nothing painted
  progress.push("c");
  advance(1300);
  assert.deepEqual(painted.at(-1), [1400, "c"]);
  progress.push("d");
  progress.cancel(); // the session ended: the stale value is dropped
  advance(2000);
  assert.equal(painted.length, 3);
});
