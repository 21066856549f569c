import styles from "./banner.css";
import { buttons, el, policyLink, stylesheet, svg } from "./dom.js";

// The first layer and the floating button, in an open shadow root (settings.js adds the second layer). Everything a script or
// test needs is found through the stable hooks: data-cookiegate-action and data-cookiegate-category.
const COOKIE_ICON = "M12 2a10 10 0 1 0 10 10 4 4 0 0 1-5-5 4 4 0 0 1-5-5z";
const COLOURS = { accent: "--sa", on_accent: "--so", background: "--sb", text: "--sf" };

let sheet;

export const build = (config) => {
  const T = config.texts;
  const bar = el(
    "div",
    { class: "b", role: "dialog", "aria-labelledby": "cg-t", "aria-describedby": "cg-d", tabindex: "-1", popover: "manual", hidden: true },
    el("h2", { id: "cg-t" }, T.title),
    el("p", { id: "cg-d" }, T.description, " ", policyLink(config)),
    navigator.globalPrivacyControl && el("p", {}, T.gpc),
    buttons(T, "accept_all", "reject_all", "customise"),
  );
  const fab = el("button", { class: "f", "data-cookiegate-open": true, "aria-label": T.open, hidden: true }, svg("0 0 24 24", COOKIE_ICON));
  // The banner speaks its own language, whatever the page's (WCAG 3.1.2).
  const wrapper = el("div", { class: "w", lang: config.language }, bar, fab);
  const colours = config.colours ?? {};
  for (const key in COLOURS) if (colours[key]) wrapper.style.setProperty(COLOURS[key], colours[key]);
  // A site that sets its own background or text colour keeps them in dark mode too.
  if (colours.background || colours.text) wrapper.classList.add("s");

  const host = el("cookiegate-banner", { lang: config.language });
  const root = host.attachShadow({ mode: "open" });
  // A constructed stylesheet travels inside the script: no second request, no flash of an unstyled
  // banner, and a strict CSP without 'unsafe-inline' allows it (CSP governs <style> and style="",
  // not the CSSOM).
  root.adoptedStyleSheets = [(sheet ||= stylesheet(styles))];
  root.append(wrapper);
  return { host, root, wrapper, bar, fab };
};
