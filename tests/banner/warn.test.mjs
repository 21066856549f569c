import assert from "node:assert/strict";
import { test } from "node:test";

import { warnings } from "./page.mjs";
import { isolated, warn } from "../../static/banner/src/warn.js";

test("each kind of warning is printed once, pointing at the docs", () => {
  warnings.length = 0;
  warn("script", "needs a classic <script src>");
  warn("script", "needs a classic <script src>");
  warn("config", "no config (404): check data-site");
  assert.deepEqual(warnings, [
    "cookiegate: needs a classic <script src> (docs/banner.md#console-warnings)",
    "cookiegate: no config (404): check data-site (docs/banner.md#console-warnings)",
  ]);
});

test("a page callback that throws neither stops the banner nor is swallowed", (t) => {
  const later = [];
  t.mock.method(globalThis, "setTimeout", (callback) => later.push(callback));
  const seen = [];
  isolated((a, b) => seen.push(a + b), 1, 2);
  assert.deepEqual(seen, [3]);
  assert.equal(later.length, 0);

  const error = new Error("the page's own bug");
  assert.doesNotThrow(() => isolated(() => {
    throw error;
  }));
  assert.ok(warnings.some((w) => w.includes("a page callback threw")));
  assert.equal(later.length, 1);
  assert.throws(later[0], (thrown) => thrown === error, "rethrown as the page's own uncaught error");
});
