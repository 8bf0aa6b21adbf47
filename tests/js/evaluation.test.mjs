// The "did it get better?" wording (static/js/evaluation.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { blindText, curveText, evaluationLine, testChange } from "../../static/js/evaluation.js";

test("a session's line gives test accuracy with its change, blind accuracy and labels", () => {
  const e = { session: 3, test_accuracy: 0.712, previous_test_accuracy: 0.681,
    blind_accuracy: 0.7, blind_n: 20, labeled_accuracy: 0.99, n_labeled: 60 };
  assert.equal(evaluationLine(e),
    "session 3: test 71.2 % (+3.1) · blind 70.0 % on 20 new labels · trained on 60 labels");
  const first = { session: 1, test_accuracy: 0.5, previous_test_accuracy: null,
    blind_accuracy: null, blind_n: 0, n_labeled: 1 };
  assert.equal(evaluationLine(first),
    "session 1: test 50.0 % · blind – (none to check) · trained on 1 label");
  // With the calibration error of the test split (a server from before it: left out).
  assert.equal(evaluationLine({ ...e, test_ece: 0.0172 }), "session 3: test 71.2 % (+3.1) · "
    + "calibration error 1.7 % · blind 70.0 % on 20 new labels · trained on 60 labels");
  assert.equal(evaluationLine({ ...first, test_ece: 0.483 }),
    "session 1: test 50.0 % · calibration error 48.3 % · blind – (none to check) · trained on 1 label");
  assert.match(evaluationLine({ ...e, test_accuracy: 0.6 }), /test 60\.0 % \(−8\.1\)/);
  // A server from before blind accuracy: no count, no value.
  assert.equal(blindText({ labeled_accuracy: 1 }), "blind –");
});

test("a drop is a drop, a rise a rise, and a change under 0.05 points neither", () => {
  assert.deepEqual(testChange({ test_accuracy: 0.638, previous_test_accuracy: 0.655 }),
    { text: "−1.7", direction: "down" });
  assert.deepEqual(testChange({ test_accuracy: 0.7, previous_test_accuracy: 0.69 }),
    { text: "+1.0", direction: "up" });
  assert.deepEqual(testChange({ test_accuracy: 0.7, previous_test_accuracy: 0.7004 }),
    { text: "±0.0", direction: "same" });
  assert.equal(testChange({ test_accuracy: 0.7, previous_test_accuracy: null }), null);
});

test("the curve lists labels against test accuracy, skipping sessions without both", () => {
  assert.equal(curveText([{ n_labeled: 20, test_accuracy: 0.61 }, { n_labeled: null, test_accuracy: 0.7 },
    { n_labeled: 40, test_accuracy: 0.662 }]), "20 → 61.0 %, 40 → 66.2 %");
});
