// Misconfigurations show up once each on the console, in words an integrator can act on. Never
// with personal data: no consent id, token, cookie value or visitor URL goes into a warning.
const warned = new Set();

export const warn = (kind, message) => {
  if (warned.has(kind)) return;
  warned.add(kind);
  console.warn(`cookiegate: ${message} (docs/banner.md#console-warnings)`);
};

// Code of the host page (onChange listeners, a replaced dataLayer.push, fbq) must not stop the
// banner half-way: its error is reported as the page's own uncaught error, and the banner goes on.
export const isolated = (callback, ...args) => {
  try {
    callback(...args);
  } catch (error) {
    warn("callback", "a page callback threw");
    setTimeout(() => {
      throw error;
    });
  }
};
