// URL hygiene: drop denylisted query parameters (names compared case-insensitively)
// and, unless the site uses hash routes, the fragment; with hash routes the query of
// the fragment (#/login?email=...) loses them too. utm_* and click ids stay in the
// URL: the collector parses campaigns from context.page.url.

// Removes the denylisted parameters from p; truthy when it removed any.
const strip = (p, deny) => [...p.keys()].filter((k) => deny.includes(k.toLowerCase()) && !p.delete(k)).length

// undefined for what is not a URL (an empty referrer).
export const clean = (u, deny, hash) => {
  try {
    const x = new URL(u)
    strip(x.searchParams, deny)
    // The fragment's own query is rewritten only when it loses a parameter.
    x.hash = hash ? x.hash.replace(/\?.*/, (s, p) => (strip((p = new URLSearchParams(s)), deny) ? (p += '') && '?' + p : s)) : ''
    return x
  } catch {}
}

// Campaign key of a query string (a URL's search): its utm_* parameters and ad click
// ids (gclid, dclid, fbclid, msclkid, ttclid, twclid, gbraid, wbraid, li_fat_id...),
// in URL order. Empty string when it carries none.
export const campaign = (q) => [...new URLSearchParams(q)].filter(([k]) => /^utm_|clk?id$|braid$|^li_fat_id$/.test(k)).join('&')
