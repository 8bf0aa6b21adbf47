// The "did it get better?" wording (static/js/evaluation.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { curveText, evaluationLine } from "../../static/js/evaluation.js";

test("a session's line gives test accuracy with its change, own-label accuracy and labels", () => {
  const e = { session: 3, test_accuracy: 0.712, previous_test_accuracy: 0.681,
    labeled_accuracy: 0.95, n_labeled: 60 };
  assert.equal(evaluationLine(e), "session 3: test 71.2 % (+3.1) · your labels 95.0 % · trained on 60 labels");
  const first = { session: 1, test_accuracy: 0.5, previous_test_accuracy: null,
    labeled_accuracy: null, n_labeled: 1 };
  assert.equal(evaluationLine(first), "session 1: test 50.0 % · your labels – · trained on 1 label");
  assert.match(evaluationLine({ ...e, test_accuracy: 0.6 }), /test 60\.0 % \(−8\.1\)/);
});

test("the curve lists labels against test accuracy, skipping sessions without both", () => {
  assert.equal(curveText([{ n_labeled: 20, test_accuracy: 0.61 }, { n_labeled: null, test_accuracy: 0.7 },
    { n_labeled: 40, test_accuracy: 0.662 }]), "20 → 61.0 %, 40 → 66.2 %");
});
