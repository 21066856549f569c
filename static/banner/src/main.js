/* cookiegate banner. The whole integration:
     <script src="https://SERVICE/banner/v1/cookiegate.js" data-site="KEY" async></script>
   Built by `make banner` (esbuild bundles these modules, terser minifies) into ../cookiegate.js. */
import { consentDefault, consentUpdate, dataLayer } from "./consent-mode.js";
import { builtin, metaStub, release, watch } from "./release.js";
import { allowed, config, consent, pending, setConfig, setConsent, setPending, summary, valid } from "./state.js";
import { keep, kept, payload, purge, readToken, writeToken } from "./storage.js";
import { build } from "./ui.js";
import { isolated, warn } from "./warn.js";

const me = document.currentScript;

const boot = () => {
  const site = me.dataset.site;
  if (!site) return warn("site", "no data-site");
  const gpc = !!navigator.globalPrivacyControl;
  const storageKey = "cookiegate:" + site;
  const api = me.src.replace(/\/banner\/v1\/.*$/, `/api/v1/sites/${site}/`);
  const listeners = [];
  let ui, meta, opened, back, sending;

  consentDefault();

  // No cookies, no referrer: the service learns only what the body says.
  const post = (path, body) => fetch(api + path, { method: "POST", body, credentials: "omit", referrerPolicy: "no-referrer", keepalive: true });

  // data-lang, then <html lang>, then the browser's languages: the service picks the first the site
  // has, else the site's default. The first layer needs only part of the config; the settings the whole.
  const langs = [me.dataset.lang, document.documentElement.lang, ...navigator.languages].filter((l) => /^[a-z]{2,3}(-[a-z\d]{1,8})*$/i.test(l));
  const getConfig = async (lang, options, layer = "&layer=first") => {
    const response = await fetch(`${api}config?lang=${lang}${layer}`, options);
    if (!response.ok) throw response;
    return response.json();
  };

  const known = (slug) => config.categories.some((c) => c.slug === slug);
  const releaseAll = () => release(allowed, known);

  // A choice, a returning visit or a withdrawal: Consent Mode, Meta, tags, clean-up, then the page's callbacks.
  const apply = (choice) => {
    setConsent(choice);
    consentUpdate(allowed);
    if (window.fbq) isolated(window.fbq, "consent", allowed(meta?.category ?? "marketing") ? "grant" : "revoke");
    for (const service of config.services) if (allowed(service.category)) builtin(service);
    releaseAll();
    purge(config.services.filter((s) => !allowed(s.category)).flatMap((s) => s.cookies));
    if (ui && !opened) ui.fab.hidden = !config.floating_button;
    const detail = summary();
    isolated(() => dataLayer.push({ event: "cookiegate_consent", cookiegate: detail.choices }));
    document.dispatchEvent(new CustomEvent("cookiegate:change", { detail }));
    for (const listener of listeners) isolated(listener, detail);
  };

  // Sends the waiting requests in order. Down or slow: the choice already applies, and the same
  // request (same idempotency key) goes again on a later page view. A withdrawal waits for the
  // choice before it, so it withdraws the consent the service has just recorded.
  const send = async () => {
    if (sending) return;
    sending = true;
    try {
      while (pending?.q.length) {
        const request = pending.q[0];
        const token = readToken();
        let path = request.u;
        if (path === "withdraw") {
          const id = payload(token)?.c;
          if (!id) {
            pending.q.shift();  // nothing was ever recorded: nothing to withdraw
            continue;
          }
          path = `consents/${id}/withdraw`;
        }
        const response = await post(path, JSON.stringify({ ...request.b, token }));
        const answer = await response.json();
        if (response.ok) {
          writeToken(answer.token, config.lifetime_days);
          pending.q.shift();
          keep(storageKey, pending);
        } else if (response.status >= 500 || response.status === 429) {
          return;  // try again on a later page view
        } else {
          // Refused for good; 409: the policy changed, so ask again.
          warn("refused", `choice refused: ${answer.error?.code} (HTTP ${response.status})`);
          keep(storageKey, setPending(null));
          if (response.status === 409) start({ cache: "reload" });
          return;
        }
      }
      if (pending) {
        keep(storageKey, setPending(null));
        setConsent(payload(readToken()));
      }
    } catch {
      // offline or the service unreachable: the choice is kept and sent on a later page view
    } finally {
      sending = false;
    }
  };

  const record = (choice, request) => {
    request.b.idempotency_key = crypto.getRandomValues(new Uint32Array(4)).join("-");  // 128 random bits
    setConsent(setPending({ ...choice, q: [...(pending?.q ?? []), request] }));
    keep(storageKey, pending);
    close();
    // The banner goes at once; the tags, events and clean-up follow in the next task, so the click
    // is answered by the next paint (Interaction to Next Paint).
    const applied = pending;
    setTimeout(() => {
      apply(applied);
      send();
    });
  };
  const here = () => location.origin + location.pathname;
  const choose = (method) => {
    const choices = {};
    for (const c of config.categories) {
      if (c.required) continue;
      choices[c.slug] = method === "custom" ? ui.root.getElementById("cg-" + c.slug).checked : method === "accept_all" && !(gpc && c.slug === "marketing");
    }
    // GPC keeps marketing off; the service records accept_all only when everything is granted.
    if (gpc && method === "accept_all") method = "custom";
    const v = config.policy_version;
    record(
      { c: consent?.c, v, t: Date.now(), g: Object.keys(choices).filter((k) => choices[k]) },
      { u: "consents", b: { choices, method, policy_version: v, url: here(), language: config.language, gpc } },
    );
  };
  const withdraw = () => {
    record(
      { c: consent?.c, v: config.policy_version, t: Date.now(), w: 1, g: [] },
      { u: "withdraw", b: { url: here(), language: config.language, gpc } },
    );
  };

  const make = () => {
    if (ui) return ui;
    ui = build(config);
    ui.root.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      const action = button.dataset.cookiegateAction;
      if (!action) back = button;  // the floating button: the focus returns to it
      if (action === "customise" || !action) settings();
      else if (action === "close") ui.settings?.dialog.close();
      else if (action === "withdraw") withdraw();
      else choose(action === "save" ? "custom" : action);
    });
    // Pointing at "Customise" starts loading the second layer, so it is there by the click.
    ui.root.addEventListener("pointerover", (event) => event.target.closest?.("[data-cookiegate-action=customise]") && loadSettings().catch(() => {}));
    document.body.append(ui.host);
    return ui;
  };

  // The second layer: its code (settings.js) and the full config, fetched on first use.
  let loading;
  const loadSettings = () =>
    (loading ||= Promise.all([import(me.src.replace(/[^/]*$/, "settings.js")), getConfig(config.language, {}, "")]).then(([module, full]) => {
      // Escape or the close button: back to the first layer while nothing is chosen, else done.
      ui.settings = module.default({ root: ui.root, wrapper: ui.wrapper, config: full, allowed, closed: () => (consent ? close() : show()) });
    })).catch((error) => {
      loading = null;
      warn("settings", "settings not loaded");
      throw error;
    });

  const opening = () => {
    if (!opened) {
      opened = true;
      back ||= document.activeElement;
    }
    ui.fab.hidden = true;
  };
  const show = () => {
    make();
    opening();
    ui.bar.hidden = false;
    ui.bar.showPopover?.();  // the top layer: above any z-index, transform or overflow of the page
    // Focus after the first paint: focusing at once would force a layout of the whole page inside
    // the banner's task (a long task on a slow phone).
    requestAnimationFrame(() => setTimeout(() => ui.bar.focus()));
  };
  const hideBar = () => {
    ui.bar.hidePopover?.();  // hiding a hidden popover is no error
    ui.bar.hidden = true;
  };
  const settings = async () => {
    make();
    opening();
    try {
      await loadSettings();
    } catch {
      return;  // offline: the first layer still answers
    }
    hideBar();
    ui.settings.show(consent);
  };
  const close = () => {
    if (!ui) return;
    hideBar();
    if (ui.settings?.dialog.open) ui.settings.dialog.close();
    ui.fab.hidden = !config.floating_button;
    if (opened) back?.focus?.();
    opened = back = null;
  };

  const ready = new Promise((ok) => (document.readyState === "loading" ? document.addEventListener("DOMContentLoaded", ok) : ok()));
  let watching;
  const start = async (options) => {
    try {
      const [fetched] = await Promise.all([getConfig(langs.slice(0, 10).join(), options), ready]);
      ui?.host.remove();
      ui = opened = loading = null;
      setConsent(null);
      setConfig(fetched);
      meta = config.services.find((s) => s.kind === "facebook_pixel");
      if (meta && !window.fbq) metaStub(meta.settings.pixel_id);
      releaseAll();  // placeholders of the required categories
      watching ||= watch(releaseAll);
      setPending(kept(storageKey));
      const known = pending || payload(readToken());
      if (!valid(known, site)) {
        keep(storageKey, setPending(null));
        show();
        // An impression is the first layer shown by itself to a visitor without a valid choice:
        // never a reopened settings dialog.
        post("impressions").catch(() => {});
        return;
      }
      if (config.floating_button) make();
      apply(known);
      send();
    } catch (error) {
      // The service is unreachable or refuses the config: the page goes on, nothing optional runs.
      // (A 404 has no CORS header either, so the browser may not even say which.)
      warn("config", `no config (${error.status ?? "unreachable"}): check data-site`);
    }
  };
  const started = start();
  const open = () => started.then(() => config && settings());

  document.addEventListener("click", (event) => {
    const opener = event.target.closest?.("[data-cookiegate-open]");
    if (opener) {
      event.preventDefault();
      back = opener;
      open();
    }
  });

  window.cookiegate = {
    consent: summary,
    allowed,
    open,
    onChange: (listener) => {
      listeners.push(listener);
      if (consent) isolated(listener, summary());
      return () => {
        const i = listeners.indexOf(listener);
        if (i >= 0) listeners.splice(i, 1);
      };
    },
  };
};

if (!me) warn("script", "needs a classic <script src>");
else if (window.cookiegate) warn("twice", "loaded twice");
else boot();
