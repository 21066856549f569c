import { warn } from "./warn.js";

// The banner's own DOM is made of elements and text nodes, never of HTML strings, so it needs no
// Trusted Types policy. Only running scripts does (held-back scripts and the built-in tags): for
// that the policy "cookiegate" passes the page's own placeholders and the two tag URLs through.
let policy;
const passThrough = { createScript: (s) => s, createScriptURL: (s) => s };

export const trusted = () => {
  if (!policy) {
    policy = passThrough;  // no Trusted Types, or a default policy of the page takes the strings
    try {
      policy = window.trustedTypes?.createPolicy("cookiegate", passThrough) ?? passThrough;
    } catch {
      warn("trusted-types", "Trusted Types policy 'cookiegate' refused");
    }
  }
  return policy;
};

// el("p", {class: "x"}, "text", child, [more, children]): attributes that are null or false are left out.
export const el = (tag, attributes = {}, ...children) => {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value != null && value !== false) element.setAttribute(name, value === true ? "" : value);
  }
  element.append(...children.flat(9).filter((child) => child != null && child !== false));
  return element;
};

export const svg = (viewBox, path) => {
  const ns = "http://www.w3.org/2000/svg";
  const icon = document.createElementNS(ns, "svg");
  const shape = document.createElementNS(ns, "path");
  icon.setAttribute("viewBox", viewBox);
  icon.setAttribute("aria-hidden", "true");
  shape.setAttribute("d", path);
  icon.append(shape);
  return icon;
};

export const buttons = (texts, ...actions) => el("div", { class: "r" }, actions.map((action) => el("button", { "data-cookiegate-action": action }, texts[action])));

// Only http(s): a privacy-policy URL is never a script.
export const policyLink = (config) => /^https?:/i.test(config.privacy_policy_url ?? "") && el("a", { href: config.privacy_policy_url }, config.texts.privacy_policy);


export const stylesheet = (css) => {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(css);
  return sheet;
};
