// The hover card's placement (static/js/placement.js): beside the pointer, inside the plot,
// never over the legend.
import assert from "node:assert/strict";
import { test } from "node:test";

import { placeCard, shownBox, within } from "../../static/js/placement.js";

const plot = { width: 800, height: 600 };
const card = { width: 200, height: 90 };
const legend = { left: 8, top: 450, width: 260, height: 142 }; // bottom-left corner

const overlapsLegend = ([x, y]) => x < legend.left + legend.width && legend.left < x + card.width
  && y < legend.top + legend.height && legend.top < y + card.height;

test("right below the pointer when there is room", () => {
  assert.deepEqual(placeCard([100, 100], card, plot, [legend]), [114, 114]);
});

test("flips left and up near the plot's right and bottom edges", () => {
  assert.deepEqual(placeCard([750, 100], card, plot), [536, 114]);
  assert.deepEqual(placeCard([400, 580], card, plot), [414, 476]);
});

test("never lands on the legend: a pointer just above it puts the card above", () => {
  const spot = placeCard([150, 420], card, plot, [legend]);
  assert.equal(overlapsLegend(spot), false);
  assert.deepEqual(spot, [164, 316]);
});

test("a pointer beside the legend puts the card on the far side of the pointer", () => {
  for (const pointer of [[280, 500], [300, 560], [120, 440]]) {
    const spot = placeCard(pointer, card, plot, [legend]);
    assert.equal(overlapsLegend(spot), false, `pointer ${pointer} -> ${spot}`);
    assert.ok(spot[0] >= 0 && spot[1] >= 0 && spot[0] + card.width <= plot.width
      && spot[1] + card.height <= plot.height, `inside the plot: ${spot}`);
  }
});

test("within tells whether the pointer is over a box", () => {
  assert.equal(within([10, 460], [legend]), true);
  assert.equal(within([300, 460], [legend]), false);
  assert.equal(within([10, 460], []), false);
});

test("shownBox: an element's offset box, or nothing while it is hidden or empty", () => {
  const node = { hidden: false, offsetLeft: 8, offsetTop: 450, offsetWidth: 260, offsetHeight: 142 };
  assert.deepEqual(shownBox(node), [legend]);
  assert.deepEqual(shownBox({ ...node, hidden: true }), []);
  assert.deepEqual(shownBox({ ...node, offsetWidth: 0 }), []);
  assert.deepEqual(shownBox(null), []);
});
