// static/js/params.js: the page's check of its training inputs against the served schema.
import assert from "node:assert/strict";
import { test } from "node:test";

import { checkParam, checkParams } from "../../static/js/params.js";

// Shaped like ssvae.hparams.Param.to_json(); the Python side checks the real schema agrees
// value for value (tests/test_hparams.py).
const EPOCHS = { name: "epochs", kind: "int", low: 1, high: 1000, low_open: false,
  label: "epochs", text: "a whole number from 1 to 1000" };
const LR = { name: "learning_rate", kind: "float", low: 0, high: 10, low_open: true,
  label: "learning rate", text: "a finite number above 0 and at most 10" };

test("whole numbers in range pass as numbers", () => {
  assert.deepEqual(checkParam(EPOCHS, " 20 "), [20, null]);
  assert.deepEqual(checkParam(EPOCHS, "1000"), [1000, null]);
});

test("bad text, fractions and out-of-range values are refused with the schema's words", () => {
  for (const raw of ["", "abc", "2.5", "0", "-3", "1001", "NaN", "Infinity"]) {
    const [value, error] = checkParam(EPOCHS, raw);
    assert.equal(value, null, raw);
    assert.equal(error, "epochs must be a whole number from 1 to 1000.");
  }
});

test("an open lower bound refuses the bound itself", () => {
  assert.equal(checkParam(LR, "0")[0], null);
  assert.equal(checkParam(LR, "1e-9")[0], 1e-9);
  assert.equal(checkParam(LR, "10")[0], 10);
  assert.equal(checkParam(LR, "10.5")[0], null);
});

test("checkParams collects values, messages and the names of bad inputs in schema order", () => {
  const [params, errors, bad] = checkParams([EPOCHS, LR], { epochs: "2.5", learning_rate: "-1" });
  assert.deepEqual(params, {});
  assert.deepEqual(bad, ["epochs", "learning_rate"]);
  assert.equal(errors.length, 2);
  assert.match(errors[1], /^learning rate must be/);
  assert.deepEqual(checkParams([EPOCHS, LR], { epochs: "3", learning_rate: "0.01" }),
    [{ epochs: 3, learning_rate: 0.01 }, [], []]);
});
