import { trusted } from "./dom.js";
import { warn } from "./warn.js";

// Placeholders: <script type="text/plain" data-cookiegate="statistics" ...> and
// <iframe data-cookiegate="marketing" data-src="...">, released once all their categories are granted.
const PLACEHOLDER = 'script[type="text/plain"][data-cookiegate],iframe[data-cookiegate][data-src]';
const released = new WeakSet();
let queue = Promise.resolve();

const needs = (placeholder) => placeholder.dataset.cookiegate.split(/[\s,]+/).filter(Boolean);

// A parsed text/plain script never runs, even if retyped: a new element takes its place. Scripts run
// in document order, each external one loaded before the next starts.
const run = (old) =>
  new Promise((done) => {
    const script = document.createElement("script");
    for (const { name, value } of old.attributes) {
      if (!["type", "nonce", "src"].includes(name)) script.setAttribute(name, value);
    }
    if (old.dataset.type) script.type = old.dataset.type;
    script.nonce = old.nonce;  // under a CSP header the attribute reads empty, the property does not
    if (old.hasAttribute("src")) {
      script.async = false;
      script.onload = script.onerror = done;
      script.src = trusted().createScriptURL(old.getAttribute("src"));
    } else {
      script.text = trusted().createScript(old.text);
      queueMicrotask(done);  // an inline script has run once replaceWith returns
    }
    old.replaceWith(script);
  });

export const release = (allowed, known) => {
  for (const old of document.querySelectorAll(PLACEHOLDER)) {
    if (released.has(old)) continue;
    const categories = needs(old);
    const unknown = categories.find((slug) => !known(slug));
    if (unknown) warn("category", `unknown category "${unknown}"`);
    if (!categories.every(allowed)) continue;
    released.add(old);
    if (old.tagName === "IFRAME") old.src = old.dataset.src;
    else queue = queue.then(() => run(old)).catch(() => warn("run", "a held-back script failed"));
  }
};

// Single-page apps add placeholders after load: a granted category applies to them at once.
export const watch = (onAdded) =>
  new MutationObserver((records) => {
    const added = records.some((r) => [...r.addedNodes].some((n) => n.nodeType === 1 && (n.matches(PLACEHOLDER) || n.querySelector(PLACEHOLDER))));
    if (added) onAdded();
  }).observe(document.documentElement, { childList: true, subtree: true });

// Meta's queue stub: consent revoked before init; events wait in the queue for consent and the real script.
export const metaStub = (pixel) => {
  const fbq = (window.fbq = window._fbq = function () {
    fbq.callMethod ? fbq.callMethod.apply(fbq, arguments) : fbq.queue.push(arguments);
  });
  Object.assign(fbq, { push: fbq, loaded: true, version: "2.0", queue: [] });
  fbq("consent", "revoke");
  fbq("init", pixel);
  fbq("track", "PageView");
};
