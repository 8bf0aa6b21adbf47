// The point codes and colours of static/js/palette.js (colours from static/palette.json).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  CLASS_COLORS, CODE_COUNT, UNLABELED_COLOR, buildModeSettings, certaintyValue, classOf, encode,
  pointColor, withUser,
} from "../../static/js/palette.js";

const palette = JSON.parse(readFileSync(new URL("../../static/palette.json", import.meta.url)));

test("the colours are the ones in static/palette.json", () => {
  assert.deepEqual(CLASS_COLORS, palette.classes);
  assert.equal(UNLABELED_COLOR, palette.unlabeled);
  assert.equal(CLASS_COLORS.length, 10);
});

test("a code packs user label, prediction and truth, and unpacks per mode", () => {
  const code = encode(7, 3, 5);
  assert.equal(code, 800 + 30 + 5);
  assert.equal(classOf("user", code), 7);
  assert.equal(classOf("pred", code), 3);
  assert.equal(classOf("truth", code), 5);
  assert.equal(classOf("user", encode(-1, 3, 5)), -1, "unlabeled");
  assert.equal(encode(-1, 99, -4), 0, "out-of-range classes fall back to 0");
  for (let user = -1; user <= 9; user++) {
    for (const [pred, truth] of [[0, 0], [9, 9], [4, 2]]) {
      const c = encode(user, pred, truth);
      assert.ok(c >= 0 && c < CODE_COUNT);
    }
  }
});

test("withUser changes only the user label", () => {
  const code = encode(-1, 6, 2);
  assert.equal(withUser(code, 4), encode(4, 6, 2));
  assert.equal(withUser(withUser(code, 4), -1), code);
});

test("certainty is stretched from [0.1, 1] onto [0, 1] and clamped", () => {
  assert.equal(certaintyValue(0.1), 0);
  assert.equal(certaintyValue(1), 1);
  assert.ok(Math.abs(certaintyValue(0.55) - 0.5) < 1e-12);
  assert.equal(certaintyValue(0.01), 0);
  assert.equal(certaintyValue(3), 1);
});

test("mode settings colour every code as pointColor does", () => {
  const settings = buildModeSettings(3);
  for (const mode of ["user", "pred", "truth"]) {
    assert.equal(settings[mode].pointColor.length, CODE_COUNT);
    for (const code of [0, 35, 835, 1099]) {
      assert.equal(settings[mode].pointColor[code], pointColor(mode, code, 0));
    }
  }
  assert.equal(pointColor("user", encode(-1, 1, 1), 0), UNLABELED_COLOR);
  assert.equal(pointColor("pred", encode(-1, 2, 1), 0), CLASS_COLORS[2]);
  assert.ok(settings.user.pointSize[encode(3, 0, 0)] > settings.user.pointSize[encode(-1, 0, 0)]);
  assert.match(pointColor("certainty", 0, 0.5), /^#[0-9a-f]{6}$/);
});
