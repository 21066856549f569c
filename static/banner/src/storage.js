// The consent token lives in the first-party cookie `cookiegate`; its payload (base64url JSON
// before the first dot) is readable. A choice not yet acknowledged waits in localStorage.

export const readToken = () => document.cookie.match(/(?:^|;\s*)cookiegate=([^;]+)/)?.[1];

export const payload = (token) => {
  try {
    return JSON.parse(atob(token.split(".")[0].replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return null;  // no cookie, or a garbled one: nothing is known
  }
};

export const writeToken = (token, days) => {
  document.cookie = `cookiegate=${token};max-age=${days * 86400};path=/;samesite=lax${location.protocol === "https:" ? ";secure" : ""}`;
};

// Storage may be switched off: then a failed request is simply not repeated on a later page.
export const keep = (key, value) => {
  try {
    value ? (localStorage[key] = JSON.stringify(value)) : localStorage.removeItem(key);
  } catch {}
};

export const kept = (key) => {
  try {
    return JSON.parse(localStorage[key]);
  } catch {}
};

// document.cookie shows neither a cookie's domain nor its path, so each refused name is expired on
// this host and every parent domain, at "/" and at every folder above this page (with and without
// the trailing slash). Cookies set on paths outside this page's are not visible here; they go when
// the visitor opens a page below them. Names ending in * are prefixes (_ga_*).
export const purge = (names) => {
  const labels = location.hostname.split(".");
  const folders = location.pathname.split("/").slice(1, -1);
  const paths = ["/"];
  folders.forEach((_, i) => {
    const path = "/" + folders.slice(0, i + 1).join("/");
    paths.push(path, path + "/");
  });
  for (const pair of document.cookie.split(/;\s*/)) {
    const name = pair.split("=")[0];
    if (!names.some((n) => n === name || (n.endsWith("*") && name.startsWith(n.slice(0, -1))))) continue;
    for (const path of paths) {
      labels.forEach((_, i) => {
        document.cookie = `${name}=;max-age=0;path=${path}${i ? ";domain=" + labels.slice(i - 1).join(".") : ""}`;
      });
    }
  }
};
