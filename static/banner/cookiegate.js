/* cookiegate banner. The whole integration:
     <script src="https://SERVICE/banner/v1/cookiegate.js" data-site="KEY" async></script>
   Plain JS, no dependencies. cookiegate/banner.py minifies it when serving (every statement ends with
   a semicolon: the minifier checks that the syntax tree stays the same).
   A consent state is the token payload {c: consent id, s: site, v: policy version, g: granted
   categories, t: time (ms), w: withdrawn}; a pending choice has the same fields plus the request
   to repeat {u: path, b: body}. */
(() => {
  const W = window, D = document, N = navigator, me = D.currentScript;
  if (W.cookiegate || !me) return;
  const site = me.dataset.site, gpc = !!N.globalPrivacyControl, KEY = "cookiegate:" + site;
  const api = me.src.replace(/\/banner\/v1\/.*$/, "/api/v1/sites/" + site + "/");
  const dataLayer = (W.dataLayer = W.dataLayer || []);
  const gtag = (W.gtag = W.gtag || function () { dataLayer.push(arguments); });
  const listeners = [], seen = new Set(), loaded = {};
  let config, meta, state, pending, host, root, bar, dialog, fab, idOut, withdrawButton, styled, back, isOpen, queue = Promise.resolve();

  // Consent Mode v2 types and the category that grants each (as the decision API maps them).
  const MODES = {
    ad_storage: "marketing", ad_user_data: "marketing", ad_personalization: "marketing",
    analytics_storage: "statistics", functionality_storage: "necessary",
    personalization_storage: "preferences", security_storage: "necessary"
  };
  const modes = (granted, m = {}) => {
    for (const k in MODES) m[k] = granted(MODES[k]) ? "granted" : "denied";
    return m;
  };
  // First, before any tag can run: everything denied but security.
  gtag("consent", "default", Object.assign(modes((c) => 0), { security_storage: "granted", wait_for_update: 500 }));

  // Storage may be off and a cookie may be garbled: then there is simply nothing.
  const safely = (f) => {
    try { return f(); } catch (e) {}
  };
  const cookie = () => (D.cookie.match(/(?:^|; *)cookiegate=([^;]+)/) || [])[1];
  const payload = (token) => safely(() => JSON.parse(atob(token.split(".")[0].replace(/-/g, "+").replace(/_/g, "/"))));
  // A choice the service has not acknowledged yet survives in localStorage and is sent again later.
  const keep = (p) => safely(() => p ? (localStorage[KEY] = JSON.stringify(p)) : localStorage.removeItem(KEY));
  const kept = () => safely(() => JSON.parse(localStorage[KEY]));

  const has = (c) => c == "necessary" || !!(config && config.categories.some((x) => x.slug == c && x.required) || state && state.g.includes(c));
  const consent = () => state ? {
    consent_id: state.c || null, policy_version: state.v, withdrawn: !!state.w, pending: !!pending,
    choices: Object.fromEntries(config.categories.map((x) => [x.slug, has(x.slug)]))
  } : null;
  const valid = (s) => s && (!s.s || s.s == site) && s.v == config.policy_version && Date.now() < s.t + config.lifetime_days * 864e5;

  // No cookies, no referrer: the service learns only what the body says.
  const post = (path, body) => fetch(api + path, { method: "POST", body, credentials: "omit", referrerPolicy: "no-referrer", keepalive: 1 });
  const get = (lang, o) => fetch(api + "config" + (lang ? "?lang=" + lang : ""), o).then((r) => {
    if (!r.ok) throw r;
    return r.json();
  });
  // data-lang, then <html lang>, then the browser's languages; the service falls back to the site default.
  const langs = [me.dataset.lang, D.documentElement.lang, ...N.languages].filter(Boolean).map((l) => l.toLowerCase());
  const fetchConfig = (o) => get(langs[0], o).then((c) => {
    const lang = langs.map((l) => [l, l.split("-")[0]].find((x) => c.languages.includes(x))).find(Boolean);
    return lang && lang != c.language ? get(lang, o) : c;
  });

  const script = (src, e = D.createElement("script")) => {
    e.src = src;
    D.head.appendChild(e);
  };
  // The built-in tags are injected only once their category is granted.
  const builtin = (x, id = x.settings.measurement_id) => {
    if (loaded[x.key]) return;
    loaded[x.key] = 1;
    if (x.kind == "google_analytics") {
      gtag("js", new Date());
      gtag("config", id);
      script("https://www.googletagmanager.com/gtag/js?id=" + id);
    }
    if (x.kind == "facebook_pixel") script("https://connect.facebook.net/en_US/fbevents.js");
  };
  // Meta's queue stub: revoke before init; the events wait in the queue for consent and the real script.
  const metaStub = (pixel) => {
    const f = (W.fbq = W._fbq = function () { f.callMethod ? f.callMethod.apply(f, arguments) : f.queue.push(arguments); });
    f.push = f;
    f.loaded = 1;
    f.version = "2.0";
    f.queue = [];
    f("consent", "revoke");
    f("init", pixel);
    f("track", "PageView");
  };

  // Held-back scripts run in document order, each external one loaded before the next starts. A new
  // element is needed: a parsed text/plain script never runs, even if retyped.
  const release = () => D.querySelectorAll('script[type="text/plain"][data-cookiegate],iframe[data-cookiegate][data-src]').forEach((old) => {
    if (seen.has(old) || !old.dataset.cookiegate.split(/[\s,]+/).every(has)) return;
    seen.add(old);
    if (old.tagName == "IFRAME") return (old.src = old.dataset.src);
    queue = queue.then(() => new Promise((done) => {
      const e = D.createElement("script");
      for (const a of old.attributes) a.name != "type" && a.name != "nonce" && e.setAttribute(a.name, a.value);
      if (old.dataset.type) e.type = old.dataset.type;
      e.nonce = old.nonce;  // under a CSP header the attribute reads empty, the property does not
      e.text = old.text;
      e.src ? (e.async = 0, e.onload = e.onerror = done) : done();  // the next one starts after this replaceWith
      old.replaceWith(e);
    }));
  });

  // Expire the refused categories' declared cookies (names, or prefixes such as _ga_*) here and on parent domains.
  const purge = (labels = location.hostname.split(".")) => {
    const names = config.services.filter((x) => !has(x.category)).flatMap((x) => x.cookies.map((k) => k.name));
    for (const pair of D.cookie.split(/; */)) {
      const name = pair.split("=")[0];
      if (names.some((n) => n == name || n.endsWith("*") && name.startsWith(n.slice(0, -1)))) {
        labels.forEach((_, i) => D.cookie = name + "=;max-age=0;path=/" + (i ? ";domain=" + labels.slice(i - 1).join(".") : ""));
      }
    }
  };

  const apply = (s) => {
    state = s;
    gtag("consent", "update", modes(has));
    W.fbq && W.fbq("consent", has(meta ? meta.category : "marketing") ? "grant" : "revoke");
    config.services.forEach((x) => has(x.category) && builtin(x));
    release();
    purge();
    const detail = consent();
    dataLayer.push({ event: "cookiegate_consent", cookiegate: detail.choices });
    D.dispatchEvent(new CustomEvent("cookiegate:change", { detail }));
    listeners.forEach((f) => f(detail));
  };

  // Down or slow: the choice already applies, and the same request (same idempotency key) goes again on a later page.
  const send = (p = pending) => post(p.u, JSON.stringify(p.b)).then((r) => r.json().then((j) => {
    if (r.ok) {
      D.cookie = "cookiegate=" + j.token + ";max-age=" + config.lifetime_days * 86400 + ";path=/;samesite=lax" + (location.protocol == "https:" ? ";secure" : "");
      if (pending == p) keep(pending = 0), state = payload(j.token);
    } else if (r.status < 500 && r.status != 429 && pending == p) {
      keep(pending = 0);  // refused for good; 409: the policy changed, so ask again
      r.status == 409 && start({ cache: "reload" });
    }
  })).catch(() => {});

  const record = (s) => {
    s.b.idempotency_key = crypto.getRandomValues(new Uint32Array(4)).join("-");  // 128 random bits
    keep(pending = s);
    apply(s);
    close();
    send();
  };
  const here = () => location.origin + location.pathname;
  const choose = (method, choices = {}) => {
    for (const c of config.categories) if (!c.required) {
      choices[c.slug] = method == "custom" ? root.getElementById("cg-" + c.slug).checked : method == "accept_all" && !(gpc && c.slug == "marketing");
    }
    // GPC keeps marketing off; the service records accept_all only when everything is granted.
    if (gpc && method == "accept_all") method = "custom";
    const v = config.policy_version;
    record({
      c: state && state.c, v, t: Date.now(), u: "consents", g: Object.keys(choices).filter((k) => choices[k]),
      b: { choices, method, policy_version: v, url: here(), language: config.language, gpc, token: cookie() }
    });
  };
  const withdraw = (token = cookie(), c = state && state.c) => !token || !c || pending ? choose("reject_all") : record({
    c, v: config.policy_version, t: Date.now(), w: 1, g: [], u: "consents/" + c + "/withdraw",
    b: { token, url: here(), language: config.language, gpc }
  });

  // HTML from a template: text is escaped, arrays (fragments made by h) go in as they are, false or 0 leaves nothing.
  const h = (parts, ...values) => [parts.reduce((out, part, i, _, v = values[i - 1]) => out +
    (!v ? "" : v.map ? v.flat(9).join("") : (v + "").replace(/[&<>"]/g, (c) => "&#" + c.charCodeAt(0) + ";")) + part)];
  const build = () => {
    if (root) return;
    const T = config.texts;
    host = D.createElement("cookiegate-banner");
    root = host.attachShadow({ mode: "open" });
    // Hidden until its styles have arrived: no flash of an unstyled banner.
    host.style.setProperty("display", "none", "important");
    const row = (...a) => h`<div class="r">${a.map((a) => h`<button data-cookiegate-action="${a}">${T[a]}</button>`)}</div>`;
    const policy = config.privacy_policy_url && h` <a href="${config.privacy_policy_url}">${T.privacy_policy}</a>`;
    const note = gpc && h`<p>${T.gpc}</p>`;
    const tr = (cells, th) => h`<tr>${cells.map((x) => th ? h`<th>${x}</th>` : h`<td>${x}</td>`)}</tr>`;
    const category = (c) => {
      const services = config.services.filter((x) => x.category == c.slug);
      const cookies = (c.slug == "necessary" ? config.necessary_cookies : []).concat(...services.map((x) => x.cookies));
      return h`<section><div class="c"><label for="cg-${c.slug}">${c.name}</label>${c.required && h`<span>${T.always_on}</span>`}<input type="checkbox" role="switch" id="cg-${c.slug}" data-cookiegate-category="${c.slug}"${c.required && [" checked disabled"]}></div><p>${c.description}</p>${cookies.length && h`<details><summary>${T.details}</summary>${services.map((x) => h`<p><b>${x.name}</b> (${x.provider}) ${x.description}</p>`)}<table>${tr([T.cookie, T.provider, T.purpose, T.expiry], 1)}${cookies.map((k) => tr([k.name, k.provider, k.purpose, k.expiry]))}</table></details>`}</section>`;
    };
    root.innerHTML = h`<link rel="stylesheet" href="${me.src.replace(/[^/]*$/, "cookiegate.css")}"><div class="w"><div class="b" role="dialog" aria-labelledby="cg-t" aria-describedby="cg-d" tabindex="-1" popover="manual" hidden><h2 id="cg-t">${T.title}</h2><p id="cg-d">${T.description}${policy}</p>${note}${row("accept_all", "reject_all", "customise")}</div><dialog aria-labelledby="cg-s"><div class="c"><h2 id="cg-s">${T.settings_title}</h2><button class="x" data-cookiegate-action="close" aria-label="${T.close}">&#215;</button></div>${note}${config.categories.map(category)}<p>${T.consent_id}: <code></code></p>${policy && h`<p>${policy}</p>`}${row("accept_all", "reject_all", "save")}${row("withdraw")}</dialog><button class="f" data-cookiegate-open aria-label="${T.open}" hidden><svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 2a10 10 0 1 0 10 10 4 4 0 0 1-5-5 4 4 0 0 1-5-5z"/></svg></button></div>`[0];
    // Nothing hidden can take the focus: focusing waits for the styles too.
    styled = new Promise((ok) => root.firstChild.onload = root.firstChild.onerror = ok).then(() => host.style.removeProperty("display"));
    const $ = (s) => root.querySelector(s);
    bar = $(".b");
    dialog = $("dialog");
    fab = $(".f");
    idOut = $("code");
    withdrawButton = $("[data-cookiegate-action=withdraw]");
    root.addEventListener("click", (e, b = e.target.closest("button"), a = b && b.dataset.cookiegateAction) => {
      if (!b) return;
      if (!a) back = b;  // the floating button: focus returns to it
      a == "customise" || !a ? settings() : a == "close" ? dialog.close() : a == "withdraw" ? withdraw() : choose(a == "save" ? "custom" : a);
    });
    // Escape or the close button: back to the first layer while nothing is chosen, else done.
    dialog.addEventListener("close", () => state ? close() : show());
    D.body.appendChild(host);
  };

  const opening = () => {
    if (!isOpen) {
      isOpen = 1;
      back = back || D.activeElement;
      post("impressions").catch(() => {});
    }
    fab.hidden = 1;
  };
  const show = () => {
    build();
    opening();
    bar.hidden = 0;
    bar.showPopover && bar.showPopover();  // the top layer: above any z-index, transform or overflow of the page
    styled.then(() => bar.focus());
  };
  const settings = (id = state && state.c) => {
    build();
    opening();
    for (const i of root.querySelectorAll("input:enabled")) i.checked = !!state && has(i.dataset.cookiegateCategory);
    idOut.parentNode.hidden = !id;
    idOut.textContent = id || "";
    withdrawButton.hidden = !id || state.w;
    hideBar();
    styled.then(() => dialog.open || dialog.showModal());
  };
  const hideBar = () => {
    bar.hidePopover && bar.hidePopover();  // hiding a hidden popover is no error
    bar.hidden = 1;
  };
  const close = () => {
    if (!root) return;
    hideBar();
    dialog.open && dialog.close();
    fab.hidden = !config.floating_button;
    isOpen && back && back.focus && back.focus();
    isOpen = back = 0;
  };

  const ready = new Promise((ok) => D.readyState == "loading" ? D.addEventListener("DOMContentLoaded", ok) : ok());
  const start = (o) => Promise.all([fetchConfig(o), ready]).then(([c, s]) => {
    host && host.remove();
    root = isOpen = state = 0;
    config = c;
    meta = c.services.find((x) => x.kind == "facebook_pixel");
    meta && !W.fbq && metaStub(meta.settings.pixel_id);
    release();  // placeholders of the required categories
    s = (pending = kept()) || payload(cookie());
    if (!valid(s)) return keep(pending = 0), show();
    apply(s);
    pending && send();
    if (c.floating_button) build(), fab.hidden = 0;
  }).catch(() => {});  // the service is unreachable: the page goes on, nothing optional runs
  const started = start();
  const open = () => started.then(() => config && settings());

  D.addEventListener("click", (e, t = e.target.closest && e.target.closest("[data-cookiegate-open]")) => {
    if (t) e.preventDefault(), back = t, open();
  });
  W.cookiegate = {
    consent,
    allowed: has,
    open,
    onChange: (f) => {
      listeners.push(f);
      state && f(consent());
      return () => listeners.splice(listeners.indexOf(f) >>> 0, 1);  // -1 >>> 0 is past the end: nothing removed
    }
  };
})();
