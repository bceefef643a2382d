// URL hygiene: drop denylisted query parameters (names compared case-insensitively)
// and, unless the site uses hash routes, the fragment. utm_* and click ids stay in
// the URL: the collector parses campaigns from context.page.url.
export const clean = (u, deny, hash) => {
  try {
    const x = new URL(u),
      p = x.searchParams
    for (const k of [...p.keys()]) if (deny.includes(k.toLowerCase())) p.delete(k)
    if (!hash) x.hash = ''
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
