// Newest-wins requests of static/js/decoder.js: a stale answer never replaces a newer one.
// The server is replaced by requests whose answers the test releases in any order.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createLatestOnly, viewNote } from "../../static/js/decoder.js";

function held() {
  const calls = [];
  const request = (item) => new Promise((resolve, reject) => calls.push({ item, resolve, reject }));
  return { calls, request };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

test("an answer older than the one shown is dropped; the newest waiting move goes next", async () => {
  const server = held();
  const shown = [];
  const gate = createLatestOnly({
    request: server.request,
    onAnswer: (answer) => shown.push(answer),
    onError: () => assert.fail("no error expected"),
  });
  gate.push("a");
  gate.push("b");
  gate.push("c"); // both slots busy: waits
  gate.push("d"); // replaces c
  assert.deepEqual(server.calls.map((c) => c.item), ["a", "b"]);
  server.calls[1].resolve("B");
  await settle();
  assert.deepEqual(shown, ["B"]);
  assert.deepEqual(server.calls.map((c) => c.item), ["a", "b", "d"]); // c never sent
  server.calls[0].resolve("A"); // older than B: dropped
  await settle();
  assert.deepEqual(shown, ["B"]);
  server.calls[2].resolve("D");
  await settle();
  assert.deepEqual(shown, ["B", "D"]);
});

test("clear() drops answers still out and the waiting move", async () => {
  const server = held();
  const shown = [];
  const errors = [];
  const gate = createLatestOnly({
    request: server.request,
    onAnswer: (answer) => shown.push(answer),
    onError: (error) => errors.push(error.message),
    maxInFlight: 1,
  });
  gate.push("a");
  gate.push("b");
  gate.clear();
  server.calls[0].reject(new Error("late"));
  await settle();
  assert.deepEqual([shown, errors, server.calls.length], [[], [], 1]);
  gate.push("c");
  server.calls[1].resolve("C");
  await settle();
  assert.deepEqual(shown, ["C"]);
});

test("the page says when the plot is a principal-component plane", () => {
  assert.equal(viewNote({ latent_dim: 2 }), "");
  assert.match(viewNote({ latent_dim: 8 }), /first two principal components of a 8-D latent/);
  assert.match(viewNote({ latent_dim: 8 }), /other component at the data's mean/);
});

test("the manifold's grid has about 400 square cells in the view's shape", async () => {
  const { gridShape } = await import("../../static/js/manifold.js");
  assert.deepEqual(gridShape(2, 2), [20, 20]);
  assert.deepEqual(gridShape(2.5, 1.6), [25, 16]);
  assert.deepEqual(gridShape(100, 1), [32, 13]); // capped at the server's 32 per side
});
