// Autocapture (opt-in per site): outbound link clicks, file downloads, form
// submissions. Listens in the capture phase, passively: it never calls
// preventDefault and never waits; the tag's pagehide beacon carries the event.
// Form field values are never read; link URLs lose the site's denylisted query
// parameters (from the settings the core cached for the tab, sessionStorage fp_c<key>;
// footpath.v is the site's key) and their fragment.
import { clean } from './url.js'

const deny = () => {
  try {
    return JSON.parse(sessionStorage.getItem('fp_c' + footpath.v)).query_denylist.map((x) => x.toLowerCase())
  } catch {
    return ['email', 'token', 'password']
  }
}
export const FILES = /\.(pdf|zip|gz|tgz|bz2|7z|rar|dmg|exe|msi|pkg|deb|rpm|apk|iso|csv|xlsx?|docx?|pptx?|odt|ods|txt|rtf|epub|mp3|mp4|mov|avi|wav)$/i

// What a click on element `el` means, or undefined: [event name, properties].
export const linkEvent = (el, here) => {
  const a = el && el.closest && el.closest('a[href]')
  if (!a) return
  const u = clean(new URL(a.href, here).href, deny()),
    p = { url: u.href, text: (a.innerText || '').trim().slice(0, 100) },
    f = u.pathname.match(FILES)
  if (!/^https?:$/.test(u.protocol)) return
  if (f || a.hasAttribute('download')) return ['File Downloaded', Object.assign(p, { file_extension: f ? f[1].toLowerCase() : '' })]
  if (u.host != new URL(here).host) return ['Outbound Link Clicked', p]
}

export const formEvent = (f) => {
  // getAttribute, not f.id / f.action: a field named "id" or "action" shadows those.
  const g = (k) => f.getAttribute(k) || ''
  return ['Form Submitted', { form_id: g('id'), form_name: g('name'), action: g('action'), method: (g('method') || 'get').toLowerCase() }]
}

export const autocapture = (track) => {
  const on = (t, f) =>
    addEventListener(
      t,
      (e) => {
        try {
          if (t != 'auxclick' || e.button == 1) (e = f(e.target, location.href)) && track(e[0], e[1])
        } catch {}
      },
      { capture: true, passive: true }
    )
  on('click', linkEvent)
  on('auxclick', linkEvent)
  on('submit', formEvent)
}
