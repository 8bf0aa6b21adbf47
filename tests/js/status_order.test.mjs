// Which status answers the page applies (static/js/status_order.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { createStatusOrder } from "../../static/js/status_order.js";

test("answers apply in the order they were asked, a late older one not at all", () => {
  const order = createStatusOrder();
  const first = order.ask();
  const second = order.ask();
  assert.equal(order.fresh(second), true);
  assert.equal(order.fresh(first), false, "older than the answer already shown");
  assert.equal(order.fresh(order.ask()), true);
});

test("an answer asked for before a state-changing event is stale after it", () => {
  const order = createStatusOrder();
  const duringSave = order.ask(); // train_ended: the status says "saving"
  order.overtaken(); // session_saved: the page shows idle
  const afterSave = order.ask();
  assert.equal(order.fresh(duringSave), false, "would show the saved session as saving again");
  assert.equal(order.fresh(afterSave), true);
  assert.equal(order.answered, 2, "both answers were weighed");
});
