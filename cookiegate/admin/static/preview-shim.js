/* Runs before the banner in the sandboxed preview frame. The frame has an opaque origin, where
   document.cookie throws; here it is an empty jar, so the banner shows as to a first-time visitor
   and keeps nothing. */
Object.defineProperty(document, "cookie", { get: () => "", set: () => {}, configurable: true });
