// The little of a browser page that the banner's modules touch at import and in the functions under
// test: a window (globalThis), a console whose warnings are kept, document.cookie with a jar, a
// location and localStorage. Import it before the module under test.
export const warnings = [];
console.warn = (message) => warnings.push(message);

export const jar = { values: new Map(), written: [] };
globalThis.window = globalThis;
globalThis.document = {
  get cookie() {
    return [...jar.values].map(([name, value]) => `${name}=${value}`).join("; ");
  },
  set cookie(line) {
    // What the browser is told, kept as written; the jar keeps name=value unless it expires.
    jar.written.push(line);
    const [pair, ...attributes] = line.split(";");
    const [name, value] = [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)];
    if (attributes.includes("max-age=0")) jar.values.delete(name);
    else jar.values.set(name, value);
  },
};

export const at = (url) => {
  globalThis.location = new URL(url);
};
at("https://www.shop.example.dk/");

// Storage's own methods are not among its keys, as in a browser.
export const storage = Object.defineProperty({}, "removeItem", { value(key) { delete this[key]; } });
Object.defineProperty(globalThis, "localStorage", { value: storage, configurable: true, writable: true });

// A global replaced for one test (node 20's test runner has no mock.property yet).
export const replaced = (t, owner, name, value) => {
  const before = Object.getOwnPropertyDescriptor(owner, name);
  Object.defineProperty(owner, name, { value, configurable: true, writable: true });
  t.after(() => (before ? Object.defineProperty(owner, name, before) : delete owner[name]));
};
