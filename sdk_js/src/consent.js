// Consent for analytics: granted | denied | pending.
export const GRANTED = 'granted',
  DENIED = 'denied',
  PENDING = 'pending'

// State on page load: Global Privacy Control wins when the site honours it (gpc is
// on unless the site turns it off); then an anonymous id that is still valid, which
// exists only because the visitor granted consent before; then the site default.
export const initial = (cfg, gpc, hasId) => (cfg.gpc != 0 && gpc ? DENIED : hasId ? GRANTED : cfg.consent_default || PENDING)
