// Consent for analytics: granted | denied | pending.
export const GRANTED = 'granted',
  DENIED = 'denied',
  PENDING = 'pending'

// State on page load. `id`: an anonymous id that is still valid; `g`: this site's own
// record of a grant in this browser (1: granted, 2: the visitor's explicit
// consent('granted') while Global Privacy Control was on). First match wins:
// - an explicit grant under GPC, with its id: granted (the visitor's own choice);
// - GPC, when the site honours it (gpc is on unless the site turns it off): denied;
// - this site's grant, with its id: granted (another site on the origin may share
//   the id, never its consent);
// - the site default.
export const initial = (cfg, gpc, id, g) =>
  g > 1 && id ? GRANTED : cfg.gpc != 0 && gpc ? DENIED : g && id ? GRANTED : cfg.consent_default || PENDING
