import assert from "node:assert/strict";
import { test } from "node:test";

import { warnings } from "./page.mjs";

// A page whose own gtag snippet ran before the async banner: a misconfiguration the banner names.
window.dataLayer = [["js", new Date()]];
const { consentDefault, consentUpdate, dataLayer, gtag, modes } = await import("../../static/banner/src/consent-mode.js");

const plain = (entry) => Array.from(entry);

test("the banner keeps the page's dataLayer and defines the standard gtag on it", () => {
  assert.equal(dataLayer, window.dataLayer);
  assert.equal(window.gtag, gtag);
  gtag("event", "x");
  assert.deepEqual(plain(dataLayer.at(-1)), ["event", "x"]);
});

test("consent modes follow the categories the decision API maps them to", () => {
  const granted = new Set(["necessary", "statistics"]);
  assert.deepEqual(modes((slug) => granted.has(slug)), {
    ad_storage: "denied",
    ad_user_data: "denied",
    ad_personalization: "denied",
    analytics_storage: "granted",
    functionality_storage: "granted",
    personalization_storage: "denied",
    security_storage: "granted",
  });
});

test("the default denies everything but security and warns when a tag ran first", () => {
  warnings.length = 0;
  consentDefault();
  assert.deepEqual(plain(dataLayer.at(-1)), [
    "consent",
    "default",
    {
      ad_storage: "denied",
      ad_user_data: "denied",
      ad_personalization: "denied",
      analytics_storage: "denied",
      functionality_storage: "denied",
      personalization_storage: "denied",
      security_storage: "granted",
      wait_for_update: 500,
    },
  ]);
  assert.deepEqual(warnings, ["cookiegate: a Google tag ran before the consent default (docs/banner.md#console-warnings)"]);
});

test("an update grants what the choice allows", () => {
  consentUpdate((slug) => slug === "marketing");
  const [command, kind, values] = plain(dataLayer.at(-1));
  assert.deepEqual([command, kind], ["consent", "update"]);
  assert.equal(values.ad_storage, "granted");
  assert.equal(values.analytics_storage, "denied");
});
