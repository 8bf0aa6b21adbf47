// The training panel's account of one session (static/js/session_summary.js): its result line
// and its own evaluation together, through the end of a session and a server restart.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createSessionSummary, resultText } from "../../static/js/session_summary.js";

/** The few DOM calls the summary makes, on plain objects. */
function fakeNode() {
  return {
    hidden: false, textContent: "", dataset: {}, children: [],
    classList: { set: new Set(), toggle(name, on) { if (on) this.set.add(name); else this.set.delete(name); } },
    replaceChildren(...nodes) {
      this.children = nodes;
      this.textContent = nodes.map((n) => (typeof n === "string" ? n : n.textContent)).join("");
    },
  };
}
globalThis.document = { createElement: () => ({ ...fakeNode(), className: "" }) };

function setup() {
  const els = { result: fakeNode(), line: fakeNode(), curve: fakeNode() };
  return { els, summary: createSessionSummary(els) };
}

const session1 = { session: 1, status: "completed", test_accuracy: 0.586, blind_accuracy: null,
  blind_n: 0, n_labeled: 30, previous_test_accuracy: null };
const ended2 = { session: 2, status: "completed", epochs_run: 1, global_epoch: 2, seconds: 3,
  error: null };

test("the end of a session never shows the session before's evaluation beside it", () => {
  const { els, summary } = setup();
  summary.status({ evaluations: [session1],
    training: { state: "idle", last_result: { ...ended2, session: 1, global_epoch: 1 } } });
  assert.match(els.line.textContent, /^session 1: test 58\.6 %/);
  summary.running({ session: 2, epochs: 1, n_labeled: 50 });
  assert.equal(els.result.textContent, "session 2 running: 1 epoch on 50 labels");
  assert.ok(els.line.hidden, "session 1's facts leave with it");
  summary.ended(ended2);
  assert.equal(els.result.textContent, "session 2 completed: 1 epoch in 0:03, 2 in total · saving…");
  assert.ok(els.line.hidden);
  summary.status({ evaluations: [session1], training: { state: "saving", session: 2 } });
  assert.ok(els.line.hidden);
  summary.saved({ session: 2, status: "completed", epochs_run: 1, epochs_trained: 2, saved: true,
    save_error: null, warnings: [], n_labeled: 50, checkpoint: "/w/ssvae.ckpt",
    evaluation: { test_accuracy: 0.569, test_ece: 0.04, blind_accuracy: 0.75, blind_n: 20,
      labeled_accuracy: 1 } });
  assert.equal(els.result.textContent, "session 2 completed: 1 epoch in 0:03, 2 in total");
  assert.equal(els.line.textContent,
    "session 2: test 56.9 % (−1.7) · calibration error 4.0 % · blind 75.0 % on 20 new labels"
    + " · trained on 50 labels");
  assert.equal(els.line.children[2].className, "change down", "a drop is shown as a drop");
  // The steps under it have the new session at once, before a status lists it.
  assert.equal(els.curve.textContent, "test accuracy by labels: 30 → 58.6 %, 50 → 56.9 %");
  summary.status({ evaluations: [session1, { ...session1, session: 2, test_accuracy: 0.569,
    n_labeled: 50 }], training: { state: "idle", last_result: ended2 } });
  assert.equal(els.curve.textContent, "test accuracy by labels: 30 → 58.6 %, 50 → 56.9 %");
});

test("a session that could not be saved says so; one that kept no epoch had nothing to save", () => {
  const { els, summary } = setup();
  summary.ended(ended2);
  summary.saved({ session: 2, status: "completed", epochs_run: 1, epochs_trained: 2,
    saved: false, save_error: "disk full", evaluation: null, n_labeled: 50 });
  assert.equal(els.result.textContent,
    "session 2 completed: 1 epoch in 0:03, 2 in total · not saved: disk full");
  assert.ok(els.result.classList.set.has("failed"));
  assert.ok(els.line.hidden);
  // A page that connected while session 3 was saving hears only its session_saved.
  summary.saved({ session: 3, status: "stopped", epochs_run: 0, epochs_trained: 2,
    saved: false, save_error: null, evaluation: null, n_labeled: 50 });
  assert.equal(els.result.textContent, "session 3 stopped: 0 epochs, 2 in total");
  assert.ok(!els.result.classList.set.has("failed"));
});

test("after a restart: a session the new server has was saved, one it lacks was lost", () => {
  const kept = setup();
  kept.summary.running({ session: 3, epochs: 1000, n_labeled: 30, started_at: "t3" });
  kept.summary.serverRestarted([{ session: 2, status: "completed" },
    { session: 3, status: "stopped", epochs_run: 2, start_global_epoch: 10, started_at: "t3" }]);
  assert.equal(kept.els.result.textContent, "session 3 stopped and was saved before the server"
    + " restarted: 2 epochs, 12 in total");
  kept.summary.status({ evaluations: [{ ...session1, session: 3 }],
    training: { state: "idle", last_result: { session: 3 } } });
  assert.match(kept.els.line.textContent, /^session 3: test/, "its own evaluation beside it");

  const lost = setup();
  lost.summary.running({ session: 3, epochs: 1000, n_labeled: 30, started_at: "t3" });
  // A session 3 that is not this one (another process trained after the crash).
  lost.summary.serverRestarted([{ session: 3, status: "completed", started_at: "t9" }]);
  assert.equal(lost.els.result.textContent, "session 3 ended with the server and nothing of it"
    + " was kept: the model is as it was before it");
  assert.ok(lost.els.result.classList.set.has("failed"));
});

test("a page that missed the end of a session (reconnecting) takes it from the status", () => {
  const { els, summary } = setup();
  summary.running({ session: 2, epochs: 1, n_labeled: 50 });
  summary.status({ evaluations: [session1, { ...session1, session: 2, previous_test_accuracy: 0.586 }],
    training: { state: "idle", last_result: ended2 } });
  assert.equal(els.result.textContent, "session 2 completed: 1 epoch in 0:03, 2 in total");
  assert.match(els.line.textContent, /^session 2: test 58\.6 % \(±0\.0\)/);
  assert.equal(resultText(null), "");
});
