/* cookiegate banner. The whole integration:
     <script src="https://SERVICE/banner/v1/cookiegate.js" data-site="KEY" async></script>
   Built by `make banner` (esbuild bundles these modules, terser minifies) into ../cookiegate.js. */
import { consentDefault, consentUpdate, dataLayer, gtag } from "./consent-mode.js";
import { trusted } from "./dom.js";
import { metaStub, release, watch } from "./release.js";
import { allowed, state, summary, valid } from "./state.js";
import { keep, kept, payload, readToken, writeToken } from "./storage.js";
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
  let ui, meta, opened, back;

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

  const known = (slug) => state.config.categories.some((c) => c.slug === slug);
  const releaseAll = () => release(allowed, known);

  const file = (name) => me.src.replace(/[^/]*$/, name);
  // After the next paint (a task after the frame), so that what the visitor sees comes first. A hidden
  // page paints no frames: then at once.
  const afterPaint = (next) => (document.hidden ? setTimeout(next) : requestAnimationFrame(() => setTimeout(next)));

  // What follows a choice (choice.js), loaded after the first answer: for a first-time visitor the
  // first view needs none of it. It gets this banner's state and helpers.
  let after;
  const core = {
    state, allowed, summary, warn, isolated, trusted, gtag, dataLayer, post, readToken, payload, writeToken, keep, key: storageKey, listeners,
    update: () => consentUpdate(allowed),
    meta: () => meta,
    release: releaseAll,
    fab: () => ui && !opened && (ui.fab.hidden = !state.config.floating_button),
    restart: (options) => start(options),
  };
  const afterChoice = () =>
    (after ||= import(file("choice.js")).then((module) => module.default(core))).catch((error) => {
      // The choice waits in localStorage and applies on the next page view (a failed import is not retried).
      warn("choice", "choice.js not loaded");
      throw error;
    });
  // Applies a choice (or a returning visitor's) and sends what waits.
  const apply = (choice) =>
    afterChoice().then(
      (next) => {
        next.apply(choice);
        next.send();
      },
      () => {},
    );

  const record = (choice, request) => {
    request.b.idempotency_key = crypto.getRandomValues(new Uint32Array(4)).join("-");  // 128 random bits
    state.consent = state.pending = { ...choice, q: [...(state.pending?.q ?? []), request] };
    keep(storageKey, state.pending);
    close();
    // The banner goes at once; loading choice.js, the tags, events and clean-up follow the next paint,
    // so the click is answered by it (Interaction to Next Paint).
    const applied = state.pending;
    afterPaint(() => apply(applied));
  };
  const here = () => location.origin + location.pathname;
  const choose = (method) => {
    const choices = {};
    for (const c of state.config.categories) {
      if (c.required) continue;
      choices[c.slug] = method === "custom" ? ui.root.getElementById("cg-" + c.slug).checked : method === "accept_all" && !(gpc && c.slug === "marketing");
    }
    // GPC keeps marketing off; the service records accept_all only when everything is granted.
    if (gpc && method === "accept_all") method = "custom";
    const v = state.config.policy_version;
    record(
      { c: state.consent?.c, v, t: Date.now(), g: Object.keys(choices).filter((k) => choices[k]) },
      { u: "consents", b: { choices, method, policy_version: v, url: here(), language: state.config.language, gpc } },
    );
  };
  const withdraw = () => {
    record(
      { c: state.consent?.c, v: state.config.policy_version, t: Date.now(), w: 1, g: [] },
      { u: "withdraw", b: { url: here(), language: state.config.language, gpc } },
    );
  };

  const make = () => {
    if (ui) return ui;
    ui = build(state.config);
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
    (loading ||= Promise.all([import(file("settings.js")), getConfig(state.config.language, {}, "")]).then(([module, full]) => {
      // Escape or the close button: back to the first layer while nothing is chosen, else done.
      ui.settings = module.default({ root: ui.root, wrapper: ui.wrapper, config: full, allowed, closed: () => (state.consent ? close() : show()) });
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
    try {
      ui.bar.showPopover?.();  // the top layer: above any z-index, transform or overflow of the page
    } catch {
      // still open: its hiding (hideBar) waits for the next paint
    }
    // Focus after the first paint: focusing at once would force a layout of the whole page inside
    // the banner's task (a long task on a slow phone).
    afterPaint(() => ui.bar.focus());
  };
  // Hidden at once; it leaves the top layer after the next paint, so that the click that closed it
  // is answered by a cheap frame (hiding a hidden popover is no error).
  const hideBar = () => {
    const { bar } = ui;
    bar.hidden = true;
    afterPaint(() => bar.hidden && bar.hidePopover?.());
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
    ui.settings.show(state.consent);
  };
  const close = () => {
    if (!ui) return;
    hideBar();
    if (ui.settings?.dialog.open) ui.settings.dialog.close();
    ui.fab.hidden = !state.config.floating_button;
    // Not to the page's body (where the focus goes anyway): focus() would force a layout inside the click.
    if (opened && back !== document.body) back?.focus?.();
    opened = back = null;
  };

  const ready = new Promise((ok) => (document.readyState === "loading" ? document.addEventListener("DOMContentLoaded", ok) : ok()));
  let watching;
  const start = async (options) => {
    try {
      const [fetched] = await Promise.all([getConfig(langs.slice(0, 10).join(), options), ready]);
      ui?.host.remove();
      ui = opened = loading = null;
      state.consent = null;
      state.config = fetched;
      meta = fetched.services.find((s) => s.kind === "facebook_pixel");
      if (meta && !window.fbq) metaStub(meta.settings.pixel_id);
      releaseAll();  // placeholders of the required categories
      watching ||= watch(releaseAll);
      state.pending = kept(storageKey);
      const known = state.pending || payload(readToken());
      if (!valid(known, site)) {
        keep(storageKey, (state.pending = null));
        // Building and showing the banner in a task of its own: neither this one (the config, the
        // first read of localStorage, slow in Chromium) nor that one is a long task on a slow phone.
        await new Promise((ok) => setTimeout(ok));
        show();
        // An impression is the first layer shown by itself to a visitor without a valid choice:
        // never a reopened settings dialog.
        post("impressions").catch(() => {});
        return;
      }
      if (state.config.floating_button) make();
      apply(known);
    } catch (error) {
      // The service is unreachable or refuses the config: the page goes on, nothing optional runs.
      // (A 404 has no CORS header either, so the browser may not even say which.)
      warn("config", `no config (${error.status ?? "unreachable"}): check data-site`);
    }
  };
  const started = start();
  const open = () => started.then(() => state.config && settings());

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
      if (state.consent) isolated(listener, summary());
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
