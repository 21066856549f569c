// What follows a choice: Consent Mode's update, Meta's consent, the built-in tags, deleting refused
// cookies, the page's callbacks, and sending the choice to the service. Loaded after the visitor's
// first answer (at once for a returning visitor), so the first view carries none of it. It is a
// bundle of its own: the banner hands over its state and helpers, so there is one set of warnings,
// one Trusted Types policy and one state.
import { purge } from "./storage.js";

export default (core) => {
  const { state, allowed, summary, warn, isolated, trusted, gtag, dataLayer, post, readToken, payload, writeToken, keep, key } = core;

  const inject = (src) => {
    const script = document.createElement("script");
    try {
      script.src = trusted().createScriptURL(src);  // throws under Trusted Types without our policy
      document.head.append(script);
    } catch {
      warn("run", "a held-back script failed");
    }
  };

  // The built-in tags are injected only once their category is granted, and only once per config.
  const loaded = new Set();
  const builtin = (service) => {
    if (loaded.has(service)) return;
    loaded.add(service);
    if (service.kind === "google_analytics") {
      const id = service.settings.measurement_id;
      isolated(gtag, "js", new Date());
      isolated(gtag, "config", id);
      inject("https://www.googletagmanager.com/gtag/js?id=" + id);
    }
    if (service.kind === "facebook_pixel") inject("https://connect.facebook.net/en_US/fbevents.js");
  };

  // A choice, a returning visit or a withdrawal: Consent Mode, Meta, tags, clean-up, then the page's callbacks.
  const apply = (choice) => {
    const { config } = state;
    state.consent = choice;
    core.update();
    if (window.fbq) isolated(window.fbq, "consent", allowed(core.meta()?.category ?? "marketing") ? "grant" : "revoke");
    for (const service of config.services) if (allowed(service.category)) builtin(service);
    core.release();
    purge(config.services.filter((s) => !allowed(s.category)).flatMap((s) => s.cookies));
    core.fab();
    const detail = summary();
    isolated(() => dataLayer.push({ event: "cookiegate_consent", cookiegate: detail.choices }));
    document.dispatchEvent(new CustomEvent("cookiegate:change", { detail }));
    for (const listener of core.listeners) isolated(listener, detail);
  };

  // Sends the waiting requests in order. Down or slow: the choice already applies, and the same
  // request (same idempotency key) goes again on a later page view. A withdrawal waits for the
  // choice before it, so it withdraws the consent the service has just recorded.
  let sending;
  const send = async () => {
    if (sending) return;
    sending = true;
    try {
      while (state.pending?.q.length) {
        // state.pending, not a copy: a new choice during the await replaces the object (same queue head).
        const request = state.pending.q[0];
        const token = readToken();
        let path = request.u;
        if (path === "withdraw") {
          const id = payload(token)?.c;
          if (!id) {
            state.pending.q.shift();  // nothing was ever recorded: nothing to withdraw
            continue;
          }
          path = `consents/${id}/withdraw`;
        }
        const response = await post(path, JSON.stringify({ ...request.b, token }));
        const answer = await response.json();
        if (response.ok) {
          writeToken(answer.token, state.config.lifetime_days);
          state.pending.q.shift();
          keep(key, state.pending);
        } else if (response.status >= 500 || response.status === 429) {
          return;  // try again on a later page view
        } else {
          // Refused for good; 409: the policy changed, so ask again.
          warn("refused", `choice refused: ${answer.error?.code} (HTTP ${response.status})`);
          keep(key, (state.pending = null));
          if (response.status === 409) core.restart({ cache: "reload" });
          return;
        }
      }
      if (state.pending) {
        keep(key, (state.pending = null));
        state.consent = payload(readToken());
      }
    } catch {
      // offline or the service unreachable: the choice is kept and sent on a later page view
    } finally {
      sending = false;
    }
  };

  return { apply, send };
};
