// URL hygiene: drop denylisted query parameters (names compared case-insensitively)
// and, unless the site uses hash routes, the fragment; with hash routes the query of
// the fragment (#/login?email=...) loses them too. utm_* and click ids stay in the
// URL: the collector parses campaigns from context.page.url.
const strip = (p, deny) => [...p.keys()].filter((k) => deny.includes(k.toLowerCase()) && (p.delete(k), 1))[0]

export const clean = (u, deny, hash) => {
  try {
    const x = new URL(u),
      h = x.hash,
      i = h.indexOf('?'),
      p = new URLSearchParams(h.slice(i))
    strip(x.searchParams, deny)
    x.hash = !hash ? '' : i > 0 && strip(p, deny) ? h.slice(0, i) + (p + '' && '?' + p) : h
    return x
  } catch {}
}

// Campaign key of a URL: its utm_* parameters and ad click ids (gclid, dclid, fbclid,
// msclkid, ttclid, twclid, gbraid, wbraid, li_fat_id...), in URL order.
// Empty string when the URL carries none.
export const campaign = (u) => {
  try {
    return [...new URL(u).searchParams]
      .filter(([k]) => /^utm_|clk?id$|braid$|^li_fat_id$/.test(k))
      .join('&')
  } catch {
    return ''
  }
}
