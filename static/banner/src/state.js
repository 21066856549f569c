// What the banner knows: the site's config, and the visitor's consent as the token payload
// {c: consent id, s: site, v: policy version, g: granted categories, t: time (ms), w: withdrawn}.
// A choice the service has not acknowledged yet is `pending`: the same fields plus `q`, the
// requests still to send, in order. One object, so choice.js (a bundle of its own) shares it.
export const state = { config: null, consent: null, pending: null };

export const allowed = (slug) =>
  slug === "necessary" || !!(state.config?.categories.some((c) => c.slug === slug && c.required) || state.consent?.g.includes(slug));

// Valid for this site, this policy version and not expired: then the visitor is not asked again.
export const valid = (known, site) =>
  !!known && (!known.s || known.s === site) && known.v === state.config.policy_version && Date.now() < known.t + state.config.lifetime_days * 864e5;

export const summary = () =>
  state.consent && {
    consent_id: state.consent.c || null,
    policy_version: state.consent.v,
    withdrawn: !!state.consent.w,
    pending: !!state.pending,
    choices: Object.fromEntries(state.config.categories.map((c) => [c.slug, allowed(c.slug)])),
  };
