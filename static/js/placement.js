// Where a hover card goes: beside the pointer, inside the plot, and never over a box that
// must stay readable (the legend). Pure: boxes are {left, top, width, height} in the plot's
// CSS pixels, so the node tests check it without a page.

const OFFSET_PX = 14;

const overlaps = (a, b) => a.left < b.left + b.width && b.left < a.left + a.width
  && a.top < b.top + b.height && b.top < a.top + a.height;

/**
 * The card's top-left corner: the first of right-below, left-below, right-above and
 * left-above the pointer that stays inside `bounds` and clear of every box in `avoid`;
 * failing that, the first that stays clear, then right-below, clamped into the bounds.
 * @param {[number, number]} pointer
 * @param {{width: number, height: number}} size  the card's size
 * @param {{width: number, height: number}} bounds  the plot's size
 * @param {Array<{left: number, top: number, width: number, height: number}>} [avoid]
 * @returns {[number, number]}
 */
export function placeCard(pointer, size, bounds, avoid = [], offset = OFFSET_PX) {
  const [px, py] = pointer;
  const { width: w, height: h } = size;
  const right = px + offset;
  const left = px - offset - w;
  const below = py + offset;
  const above = py - offset - h;
  const spots = [[right, below], [left, below], [right, above], [left, above]];
  const inside = ([x, y]) => x >= 0 && y >= 0 && x + w <= bounds.width && y + h <= bounds.height;
  const clear = ([x, y]) => !avoid.some((box) => overlaps({ left: x, top: y, width: w, height: h }, box));
  const clamp = ([x, y]) => [Math.max(0, Math.min(x, bounds.width - w)),
    Math.max(0, Math.min(y, bounds.height - h))];
  const spot = spots.find((s) => inside(s) && clear(s))
    ?? spots.map(clamp).find(clear)
    ?? clamp(spots[0]);
  return [Math.max(0, spot[0]), Math.max(0, spot[1])];
}

/** An element's box in its offset parent's pixels, as a list: empty while it is hidden. */
export function shownBox(node) {
  if (!node || node.hidden || !node.offsetWidth) return [];
  return [{ left: node.offsetLeft, top: node.offsetTop, width: node.offsetWidth,
    height: node.offsetHeight }];
}

/** Whether the point lies inside any of the boxes. */
export function within([x, y], boxes) {
  return boxes.some((b) => x >= b.left && x <= b.left + b.width && y >= b.top && y <= b.top + b.height);
}
