import { isolated, warn } from "./warn.js";

// Google Consent Mode v2: each type and the category that grants it (as the decision API maps them).
const MODES = {
  ad_storage: "marketing",
  ad_user_data: "marketing",
  ad_personalization: "marketing",
  analytics_storage: "statistics",
  functionality_storage: "necessary",
  personalization_storage: "preferences",
  security_storage: "necessary",
};

export const dataLayer = (window.dataLayer = window.dataLayer || []);
// The page's own gtag if it has one (it pushes to the same dataLayer), else the standard one.
export const gtag = (window.gtag =
  window.gtag ||
  function () {
    dataLayer.push(arguments);
  });

export const modes = (allowed) => {
  const result = {};
  for (const type in MODES) result[type] = allowed(MODES[type]) ? "granted" : "denied";
  return result;
};

const isDefault = (entry) => entry?.[0] === "consent" && entry[1] === "default";
const isTag = (entry) => ["js", "config", "event"].includes(entry?.[0]) || entry?.event === "gtm.js";

// Everything denied but security, before any Google tag runs. With `async` the page's own gtag or
// GTM snippet may already have run: that is a misconfiguration (docs/banner.md shows the order).
export const consentDefault = () => {
  const firstDefault = dataLayer.findIndex(isDefault);
  const firstTag = dataLayer.findIndex(isTag);
  if (firstTag >= 0 && (firstDefault < 0 || firstTag < firstDefault)) {
    warn("order", "a Google tag ran before the consent default");
  }
  gtag("consent", "default", { ...modes(() => false), security_storage: "granted", wait_for_update: 500 });
};

export const consentUpdate = (allowed) => isolated(gtag, "consent", "update", modes(allowed));
