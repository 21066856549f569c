// What the banner knows: the site's config, and the visitor's consent as the token payload
// {c: consent id, s: site, v: policy version, g: granted categories, t: time (ms), w: withdrawn}.
// A choice the service has not acknowledged yet is `pending`: the same fields plus `q`, the
// requests still to send, in order.
export let config = null;
export let consent = null;
export let pending = null;

export const setConfig = (value) => (config = value);
export const setConsent = (value) => (consent = value);
export const setPending = (value) => (pending = value);

export const allowed = (slug) =>
  slug === "necessary" || !!(config?.categories.some((c) => c.slug === slug && c.required) || consent?.g.includes(slug));

// Valid for this site, this policy version and not expired: then the visitor is not asked again.
export const valid = (state, site) =>
  !!state && (!state.s || state.s === site) && state.v === config.policy_version && Date.now() < state.t + config.lifetime_days * 864e5;

export const summary = () =>
  consent && {
    consent_id: consent.c || null,
    policy_version: consent.v,
    withdrawn: !!consent.w,
    pending: !!pending,
    choices: Object.fromEntries(config.categories.map((c) => [c.slug, allowed(c.slug)])),
  };
