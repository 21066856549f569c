// The second layer, loaded on demand (the first "Customise", the floating button, cookiegate.open()),
// so a first-time visitor who answers on the first layer downloads none of it. It gets the site's
// full config (texts of the second layer, services, cookies) and builds the dialog into the banner.
import styles from "./settings.css";
import { buttons, el, policyLink, stylesheet } from "./dom.js";

const table = (texts, cookies) =>
  el(
    "table",
    {},
    el("thead", {}, el("tr", {}, ["cookie", "provider", "purpose", "expiry"].map((k) => el("th", { scope: "col" }, texts[k])))),
    el("tbody", {}, cookies.map((k) => el("tr", {}, [k.name, k.provider, k.purpose, k.expiry].map((v) => el("td", {}, v))))),
  );

const category = (config, c) => {
  const T = config.texts;
  const services = config.services.filter((s) => s.category === c.slug);
  const cookies = (c.slug === "necessary" ? config.necessary_cookies : []).concat(...services.map((s) => s.cookies));
  const id = "cg-" + c.slug;
  return el(
    "section",
    {},
    el(
      "div",
      { class: "c" },
      el("label", { for: id }, c.name),
      c.required && el("span", {}, T.always_on),
      el("input", { type: "checkbox", role: "switch", id, "data-cookiegate-category": c.slug, checked: c.required, disabled: c.required }),
    ),
    el("p", {}, c.description),
    cookies.length > 0 &&
      el(
        "details",
        {},
        // The disclosures must not share one accessible name: the category is part of it.
        el("summary", { "aria-label": `${T.details}: ${c.name}` }, T.details),
        services.map((s) => el("p", {}, el("b", {}, s.name), ` (${s.provider}) ${s.description}`)),
        table(T, cookies),
      ),
  );
};

export default ({ root, wrapper, config, allowed, closed }) => {
  const T = config.texts;
  const consentId = el("code");
  const withdrawRow = buttons(T, "withdraw");
  const policy = policyLink(config);
  const dialog = el(
    "dialog",
    { "aria-labelledby": "cg-s" },
    // The header stays in view while the settings scroll, so the close button is always at hand.
    el("div", { class: "c h" }, el("h2", { id: "cg-s" }, T.settings_title), el("button", { class: "x", "data-cookiegate-action": "close", "aria-label": T.close }, "×")),
    navigator.globalPrivacyControl && el("p", {}, T.gpc),
    config.categories.map((c) => category(config, c)),
    el("p", {}, T.consent_id + ": ", consentId),
    policy && el("p", {}, policy),
    buttons(T, "accept_all", "reject_all", "save"),
    withdrawRow,
  );
  root.adoptedStyleSheets = [...root.adoptedStyleSheets, stylesheet(styles)];
  wrapper.prepend(dialog);
  // Escape or the close button. The event comes a task later: if the dialog was opened again
  // meanwhile (cookiegate.open() right after Escape), it is no longer closed.
  dialog.addEventListener("close", () => dialog.open || closed());
  return {
    dialog,
    show: (consent) => {
      for (const input of root.querySelectorAll("input:enabled")) input.checked = !!consent && allowed(input.dataset.cookiegateCategory);
      consentId.parentNode.hidden = !consent?.c;
      consentId.textContent = consent?.c ?? "";
      // Withdrawing is possible for any choice, also one the service has not acknowledged yet.
      withdrawRow.hidden = !consent || !!consent.w;
      if (!dialog.open) dialog.showModal();
    },
  };
};
