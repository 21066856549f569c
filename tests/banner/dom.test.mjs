import assert from "node:assert/strict";
import { test } from "node:test";

import { replaced, warnings } from "./page.mjs";

// Elements as plain records: what el() sets and appends is what the banner's DOM is made of.
document.createElement = (tag) => ({
  tag,
  attributes: {},
  children: [],
  setAttribute(name, value) {
    this.attributes[name] = String(value);
  },
  append(...nodes) {
    this.children.push(...nodes);
  },
});

// A fresh copy of the module each time: it keeps its Trusted Types policy once made.
let copies = 0;
const dom = () => import(`../../static/banner/src/dom.js?copy=${++copies}`);

test("el() leaves out null and false attributes and children, and flattens lists", async () => {
  const { el } = await dom();
  const p = el("p", { id: "cg-d", hidden: true, popover: false, title: null, tabindex: -1 }, "text", null, false, ["a", ["b"]]);
  assert.deepEqual(p.attributes, { id: "cg-d", hidden: "", tabindex: "-1" });
  assert.deepEqual(p.children, ["text", "a", "b"]);
});

test("a privacy-policy link is made only for http(s) URLs", async () => {
  const { policyLink } = await dom();
  const texts = { privacy_policy: "Privatlivspolitik" };
  for (const url of ["javascript:alert(1)", " javascript:alert(1)", "data:text/html,x", "//evil.example", "", undefined, null]) {
    assert.equal(policyLink({ privacy_policy_url: url, texts }), false, String(url));
  }
  const link = policyLink({ privacy_policy_url: "HTTPS://shop.example.dk/privatliv", texts });
  assert.deepEqual([link.tag, link.attributes, link.children], ["a", { href: "HTTPS://shop.example.dk/privatliv" }, ["Privatlivspolitik"]]);
});

test("buttons carry the stable action hooks and the site's texts", async () => {
  const { buttons } = await dom();
  const row = buttons({ accept_all: "Accepter alle", reject_all: "Afvis alle" }, "accept_all", "reject_all");
  assert.deepEqual(row.attributes, { class: "r" });
  assert.deepEqual(row.children.map((b) => [b.attributes["data-cookiegate-action"], b.children[0]]), [
    ["accept_all", "Accepter alle"],
    ["reject_all", "Afvis alle"],
  ]);
});

test("without Trusted Types, scripts pass through unchanged", async (t) => {
  replaced(t, window, "trustedTypes", undefined);
  const { trusted } = await dom();
  assert.equal(trusted().createScriptURL("https://www.googletagmanager.com/gtag/js"), "https://www.googletagmanager.com/gtag/js");
});

test("under Trusted Types the banner makes its one policy, once", async (t) => {
  const made = [];
  replaced(t, window, "trustedTypes", { createPolicy: (name, rules) => (made.push(name), { ...rules, name }) });
  const { trusted } = await dom();
  assert.equal(trusted().name, "cookiegate");
  assert.equal(trusted(), trusted());
  assert.deepEqual(made, ["cookiegate"]);
});

test("a page whose CSP refuses the policy gets one warning, and scripts still pass through", async (t) => {
  warnings.length = 0;
  replaced(t, window, "trustedTypes", { createPolicy: () => { throw new TypeError("refused by CSP"); } });
  const { trusted } = await dom();
  assert.equal(trusted().createScript("window.x = 1"), "window.x = 1");
  assert.deepEqual(warnings, ["cookiegate: Trusted Types policy 'cookiegate' refused (docs/banner.md#console-warnings)"]);
});
