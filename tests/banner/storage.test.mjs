import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

import { at, jar, replaced, storage } from "./page.mjs";
import { keep, kept, payload, purge, readToken, writeToken } from "../../static/banner/src/storage.js";

const token = (fields) => Buffer.from(JSON.stringify(fields)).toString("base64url") + ".signature";

beforeEach(() => {
  jar.values.clear();
  jar.written.length = 0;
  at("https://www.shop.example.dk/");
});

test("the token is read from the cookiegate cookie only", () => {
  document.cookie = "xcookiegate=wrong";
  assert.equal(readToken(), undefined);
  document.cookie = "cookiegate=abc.def";
  document.cookie = "other=1";
  assert.equal(readToken(), "abc.def");
});

test("the payload is the token's base64url JSON head; anything else is nothing known", () => {
  const fields = { c: "c1", s: "shop", v: 2, g: ["statistics"], t: 1700000000000 };
  assert.deepEqual(payload(token(fields)), fields);
  assert.equal(payload(undefined), null);
  assert.equal(payload("not base64!.x"), null);
  assert.equal(payload(Buffer.from("[not json").toString("base64url") + ".x"), null);
});

test("the token cookie lasts the consent's lifetime, and is Secure on https only", () => {
  writeToken("t.1", 365);
  at("http://localhost:5000/");
  writeToken("t.2", 1);
  assert.deepEqual(jar.written, [
    "cookiegate=t.1;max-age=31536000;path=/;samesite=lax;secure",
    "cookiegate=t.2;max-age=86400;path=/;samesite=lax",
  ]);
});

test("a choice waits in localStorage, and storage switched off costs nothing", (t) => {
  keep("cookiegate:shop", { v: 1, q: [] });
  assert.equal(storage["cookiegate:shop"], '{"v":1,"q":[]}');
  assert.deepEqual(kept("cookiegate:shop"), { v: 1, q: [] });
  keep("cookiegate:shop", null);
  assert.equal(kept("cookiegate:shop"), undefined);

  const refusing = new Proxy({}, { get() { throw new Error("SecurityError"); }, set() { throw new Error("SecurityError"); } });
  replaced(t, globalThis, "localStorage", refusing);
  assert.doesNotThrow(() => keep("cookiegate:shop", { v: 1 }));
  assert.equal(kept("cookiegate:shop"), undefined);
});

test("refused cookies expire on this host, every parent domain and every folder above the page", () => {
  at("https://www.shop.example.dk/kaffe/boenner/side");
  for (const name of ["_ga", "_ga_ABC123", "_gid", "cookiegate", "_gax"]) document.cookie = `${name}=1`;
  jar.written.length = 0;
  purge(["_ga", "_ga_*", "_fbp"]);
  assert.deepEqual([...jar.values.keys()], ["_gid", "cookiegate", "_gax"]);
  const paths = ["/", "/kaffe", "/kaffe/", "/kaffe/boenner", "/kaffe/boenner/"];
  const domains = ["", ";domain=www.shop.example.dk", ";domain=shop.example.dk", ";domain=example.dk"];
  const expected = ["_ga", "_ga_ABC123"].flatMap((name) => paths.flatMap((path) => domains.map((domain) => `${name}=;max-age=0;path=${path}${domain}`)));
  assert.deepEqual(jar.written, expected);
});
