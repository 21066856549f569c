import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

import { allowed, state, summary, valid } from "../../static/banner/src/state.js";

const DAY = 864e5;
const config = {
  policy_version: 3,
  lifetime_days: 180,
  categories: [
    { slug: "necessary", required: true },
    { slug: "statistics", required: false },
    { slug: "marketing", required: false },
  ],
};

beforeEach(() => {
  Object.assign(state, { config, consent: null, pending: null });
});

test("necessary is always allowed, other categories only once granted", () => {
  assert.equal(allowed("necessary"), true);
  assert.equal(allowed("statistics"), false);
  state.consent = { c: "c1", v: 3, t: Date.now(), g: ["statistics"] };
  assert.equal(allowed("statistics"), true);
  assert.equal(allowed("marketing"), false);
});

test("a category the site marks required is allowed without a choice", () => {
  state.config = { ...config, categories: [...config.categories, { slug: "security", required: true }] };
  assert.equal(allowed("security"), true);
});

test("a choice holds for this site and policy version until its lifetime ends", () => {
  const now = Date.now();
  assert.equal(valid({ s: "shop", v: 3, t: now, g: [] }, "shop"), true);
  assert.equal(valid({ v: 3, t: now, g: [] }, "shop"), true, "a pending choice names no site");
  assert.equal(valid({ s: "other", v: 3, t: now, g: [] }, "shop"), false);
  assert.equal(valid({ s: "shop", v: 2, t: now, g: [] }, "shop"), false, "an older policy asks again");
  assert.equal(valid({ s: "shop", v: 3, t: now - 181 * DAY, g: [] }, "shop"), false, "expired");
  assert.equal(valid({ s: "shop", v: 3, t: now - 179 * DAY, g: [] }, "shop"), true);
  assert.equal(valid(null, "shop"), false);
});

test("the page's summary names every category and says whether the choice waits to be sent", () => {
  assert.equal(summary(), null);
  state.consent = state.pending = { v: 3, t: Date.now(), g: ["marketing"], q: [{ u: "consents" }] };
  assert.deepEqual(summary(), {
    consent_id: null,
    policy_version: 3,
    withdrawn: false,
    pending: true,
    choices: { necessary: true, statistics: false, marketing: true },
  });
  state.consent = { c: "c9", v: 3, t: Date.now(), g: [], w: 1 };
  state.pending = null;
  assert.deepEqual(summary(), {
    consent_id: "c9",
    policy_version: 3,
    withdrawn: true,
    pending: false,
    choices: { necessary: true, statistics: false, marketing: false },
  });
});
