// The API client's token renewal (static/js/api.js): a write refused with the old token after
// a server restart is sent again with the new one, even when the page renewed the token while
// the write was out.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createApi } from "../../static/js/api.js";

// readPageConfig's DOMParser, over a page that embeds only the config.
globalThis.DOMParser = class {
  parseFromString(html) {
    return { getElementById: () => ({ textContent: html }) };
  }
};

function fakeFetch() {
  const calls = [];
  globalThis.fetch = (path, init = {}) => new Promise((resolve) => {
    calls.push({ path, token: init.headers?.["X-Alctl-Token"], resolve });
  });
  const answer = (call, status, body) => call.resolve({
    ok: status < 400, status, statusText: "", json: async () => body,
    text: async () => JSON.stringify(body),
  });
  return { calls, answer };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test("a 403 for a write sent before the page took the new token is sent again with it", async () => {
  const { calls, answer } = fakeFetch();
  const api = createApi("old");
  const write = api.putLabel(3, 4);
  await tick();
  const renewed = api.renewToken(); // the page's own renewal, on the restart's snapshot
  await tick();
  answer(calls[1], 200, { token: "new" });
  await renewed;
  answer(calls[0], 403, { error: "Wrong X-Alctl-Token header" }); // the write, refused late
  await tick();
  assert.deepEqual(calls.map((c) => [c.path, c.token]),
    [["/api/labels/3", "old"], ["/", undefined], ["/api/labels/3", "new"]]);
  answer(calls[2], 200, { stats: { version: 2 } });
  assert.deepEqual(await write, { stats: { version: 2 } });
});

test("a 403 with the current token renews it once; the same token again is a refusal", async () => {
  const { calls, answer } = fakeFetch();
  const api = createApi("old");
  const write = api.deleteLabel(5);
  await tick();
  answer(calls[0], 403, { error: "wrong token" });
  await tick();
  answer(calls[1], 200, { token: "old" }); // the server's page has the same token
  await assert.rejects(write, (error) => error.status === 403);
  assert.equal(calls.length, 2);
});
