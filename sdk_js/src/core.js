// Footpath browser tag. See ../README.md for the contract; the logic that can be
// tested without a browser lives in the small modules imported here.
import { uuid7 } from './uuid.js'
import { clean, campaign } from './url.js'
import { tick } from './session.js'
import { P as QP, claim, prune, split, bounded } from './queue.js'
import { retryable, wait } from './backoff.js'
import { autocapture } from './ac.js'
import { GRANTED, DENIED, PENDING, initial } from './consent.js'

// Nothing the tag does may throw into the host page.
const safe =
    (f) =>
    (...a) => {
      try {
        return f(...a)
      } catch {}
    },
  W = window,
  D = document,
  N = navigator,
  L = location,
  PENDING_CAP = 100, // events held while consent is pending
  BATCH = 20, // events per POST
  EVERY = 1e3, // ms an event may wait for its batch
  ACTIVE = 1e4 // ms after the last input that still count as engaged

let ls, ss
try {
  ls = localStorage
  ss = sessionStorage
} catch {}

const get = safe((s, k) => JSON.parse(s.getItem(k))),
  set = safe((s, k, v) => (v == null ? s.removeItem(k) : s.setItem(k, JSON.stringify(v)))),
  // Capture phase; window-level touch listeners are passive by default in browsers.
  on = (t, f) => addEventListener(t, safe(f), true),
  now = Date.now,
  iso = () => new Date().toISOString(),
  // The hostname and every parent domain, widest first: example, shop.example, a.shop.example.
  domains = () => L.hostname.split('.').map((_, i, p) => p.slice(~i).join('.')),
  base = {
    locale: N.language,
    library: { name: 'footpath.js', version: VERSION },
    screen: { width: screen.width, height: screen.height },
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  }

let cfg, // site settings, once loaded
  state, // consent for analytics
  deny, // query parameters to strip
  api, // the collector's base URL + /v1/
  key, // the site's public key
  qp, // prefix of this site's write-ahead queue keys in localStorage
  hold = [], // messages made before the settings arrived
  buf = [], // messages held while consent is pending (mirrored to sessionStorage)
  q = [], // write-ahead queue (mirrored to localStorage), entries {m, e, n, f}
  busy, // a POST is in flight
  tries = 0, // consecutive failed POSTs
  nextAt = 0, // no POST before this time (backoff, Retry-After)
  timer, // batch timer
  dropped = 0, // events the tag lost: buffer caps, time-to-live, final 4xx
  aid, // anonymous id
  uid, // user id
  tab, // this tab's id, names its write-ahead queue
  before, // beforeSend hook
  pv, // page view id
  ses, // the session, also kept here for when localStorage fails
  cap = 48e4, // bytes of JSON per POST (the collector takes 500 KB), halved on a 413
  ref = D.referrer, // referrer for the next page view
  page = { url: L.href, title: D.title, referrer: ref }, // context.page of the current view
  lastKey = '', // path and fragment of the last page view
  lastAuto, // ... and whether the tag made it itself
  pend, // timer of an automatic page view waiting for the title to settle
  eng = 0, // engaged ms on this page view
  last = 0, // time of the last input while visible and focused, 0 when not engaged
  depth = 0 // max scroll depth, percent

// --- messages --------------------------------------------------------------

const msg = (type, o) => ({
  type,
  messageId: uuid7(),
  timestamp: iso(),
  context: { ...base, page: { ...page }, pageViewId: pv },
  ...o,
})

// Everything goes through here: held until the site settings are known.
const put = (m) => (cfg ? route(m) : hold.push(m))

const route = (m) => {
  if (m.type == 'consent') return consent(m.c)
  // URLs are cleaned once the denylist is known; the fragment stays only with hash
  // routes, in the referrer as in the URL.
  const c = m.context?.page,
    h = COMPILE_HASH && cfg.hash_routes,
    x = clean(c?.url, deny, h)
  if (x) {
    c.url = x.href
    c.path = x.pathname + x.hash
    c.search = x.search
    c.referrer = clean(c.referrer, deny, h)?.href || ''
    if (m.type == 'page') m.properties = { ...c, ...m.properties }
  }
  if (state == GRANTED) release(m)
  else if (state == PENDING) {
    dropped += bounded(buf, m, PENDING_CAP)
    set(ss, 'fp_p' + key, buf)
  } else if (cfg.aggregate_when_denied && m.type == 'page') {
    // Cookieless aggregate ping: no ids, no session, nothing stored, no retry (the
    // page-view id is random per view and kept nowhere).
    m.context.consent = { analytics: DENIED }
    ;(m = hook(m)) && N.sendBeacon(api + 'batch', JSON.stringify({ batch: [m], sentAt: iso(), writeKey: key }))
  }
}

// beforeSend: returns the message to send (changed or not) or nothing to drop it.
// A hook that throws drops the message: a privacy hook must fail closed. The JSON
// round trip snapshots the message and drops one that cannot be serialised (a
// circular property), which would otherwise block the queue for good.
const hook = safe((m) => JSON.parse(JSON.stringify(before ? before(m) : m)))

// Under granted consent: stamp identity and session, then queue for sending.
const release = (m) => {
  if (m.type == 'reset') {
    set(ls, 'fp_u')
    set(ls, 'fp_s')
    uid = ses = 0
    return ids(1)
  }
  if (m.type == 'identify' && m.userId) set(ls, 'fp_u', (uid = m.userId))
  const c = m.context,
    s = tick(get(ls, 'fp_s') || ses, Date.parse(m.timestamp), m.type == 'page' && campaign(c.page.search), uuid7)
  set(ls, 'fp_s', (ses = s))
  m.anonymousId = aid
  // (an identify's own userId is uid by now)
  if (uid) m.userId = uid
  c.sessionId = s.i
  c.seq = s.n
  c.consent = { analytics: GRANTED }
  if ((m = hook(m))) {
    q.push({ m, e: now(), n: 0 })
    persist()
    q.length < BATCH ? later(EVERY) : flush()
  }
}

// --- consent and identity ----------------------------------------------------

// c: the state, already taken out of {analytics: state} by call().
const consent = (c, was = state) => {
  if (c != was && [GRANTED, DENIED, PENDING].includes(c)) {
    state = c
    c == DENIED && wipe()
    // The change is an event itself, sent once consent allows it (after what waited).
    c == GRANTED && (start(1), route(msg('track', { event: 'Consent Updated', properties: { analytics: c, previous: was } })))
  }
}

// Enter granted: ids, the tab's queue, this site's record of the grant (2: the
// visitor's own consent('granted') under GPC, which wins over GPC on later pages),
// and whatever waited for consent.
const start = (x) => {
  tab = get(ss, 'fp_t') || uuid7()
  set(ss, 'fp_t', tab)
  uid = get(ls, 'fp_u')
  ids()
  take()
  set(ls, 'fp_g' + key, x && N.globalPrivacyControl ? 2 : get(ls, 'fp_g' + key) || 1)
  buf.map(release)
  buf = []
  set(ss, 'fp_p' + key)
  flush()
}

// Removes every trace: our keys in both storages, the id cookie on every domain
// it could have been set for.
const wipe = () => {
  ;[ls, ss].map(safe((s) => Object.keys(s).map((k) => k.startsWith('fp_') && s.removeItem(k))))
  ;['', ...domains()].map((d) => ck('fp_id=;path=/;max-age=0', d))
  aid = uid = ses = 0
  buf = []
  q = []
}

const cookie = () => D.cookie.match(/(?:^|;\s*)fp_id=([^;]+)/),
  // Sets a cookie, for domain d when given (else host-only).
  ck = (c, d) => (D.cookie = c + (d ? ';domain=' + d : ''))

// Anonymous id: cookie (shared across subdomains) and localStorage heal each other;
// the lifetime runs from creation and is not extended by visits.
const ids = (fresh) => {
  const t = now(),
    c = !fresh && cookie(),
    // Widest domain the browser accepts (never a public suffix), unless configured.
    // The probe cookie is set and removed with the same (default) path.
    d =
      cfg.cookie_domain ||
      domains()
        .slice(1)
        .find((d) => (ck('fp_d=1', d), D.cookie.includes('fp_d=1')))
  let r = !fresh && get(ls, 'fp_a')
  ck('fp_d=;max-age=0', d)
  if (c ? r?.i != c[1] : !(r?.x > t)) r = { i: c?.[1] || uuid7(), x: t + cfg.cookie_days * 864e5 }
  set(ls, 'fp_a', r)
  ck('fp_id=' + (aid = r.i) + ';path=/;samesite=lax;max-age=' + (((r.x - t) / 1e3) | 0) + (L.protocol == 'https:' ? ';secure' : ''), d)
}

// --- transport ---------------------------------------------------------------

// The tab's queue in localStorage (see queue.js): {t: last write, e: entries}, removed when empty.
const persist = () => state == GRANTED && set(ls, qp + tab, q[0] && { t: now(), e: q })

// Adds what storage holds for this tab (and silent tabs) that the queue lacks.
const take = safe((t = now()) => q.push(...claim(ls, qp, qp + tab, t, q)))

const later = (ms) => timer || (timer = setTimeout(safe(() => ((timer = 0), flush())), ms))

const body = (b) =>
  JSON.stringify({
    batch: b.map((x) => x.m),
    sentAt: iso(),
    writeKey: key,
    stats: { dropped, retried: b.filter((x) => x.n).length, queued: q.length },
  })

const mark = (x) => ((x.f = 1), x.n++)

// Sends what is queued: one POST at a time with fetch (keepalive), or, when the page
// is being hidden, everything not in flight with sendBeacon (split if refused).
// Nothing leaves the queue before the collector acknowledges it, so a beacon that
// never arrived is sent again on the next page load.
const flush = (hidden, t = now()) => {
  if (state != GRANTED) return
  if (t < nextAt || (busy && !hidden)) return busy || later(nextAt - t)
  take(t)
  dropped += q.length - (q = prune(q, t)).length
  let n = 0
  // Up to BATCH events and `cap` bytes, at least one.
  const b = q.filter((x) => !x.f).filter((x, i) => (i < (hidden ? 1e4 : BATCH) && (n += JSON.stringify(x.m).length) < cap) || !i),
    s = body(b),
    d = dropped
  if (b[0])
    if (hidden) split(b, (l) => N.sendBeacon(api + 'batch', body(l)) && l.map(mark))
    else {
      busy = 1
      b.map(mark)
      fetch(api + 'batch', { method: 'POST', body: s, keepalive: s.length < 6e4 })
        .then(
          (r) => [r.status, r.headers.get('retry-after')],
          () => [0]
        )
        .then(
          safe(([code, ra]) => {
            busy = 0
            b.map((x) => (x.f = 0))
            if (retryable(code)) nextAt = now() + wait(++tries, ra)
            // Too large for the collector: smaller batches, nothing dropped (a single
            // message it refuses is dropped below).
            else if (code == 413 && b[1]) cap = s.length / 2
            else {
              tries = nextAt = 0
              dropped += (code > 299 ? b.length : 0) - d
              q = q.filter((x) => !b.includes(x))
            }
            persist()
            q[0] && later(nextAt - now())
          })
        )
    }
  persist()
}

// --- page views and engagement -----------------------------------------------

// The route: the path, and the fragment with hash routes. lastKey keeps both, so the
// route of a view counted before the settings arrived is read with the site's rule.
const here = () => L.pathname + L.hash,
  where = (s = here()) => (COMPILE_HASH && cfg?.hash_routes ? s : s.split('#')[0])

// The route changed (history API, popstate, hash, bfcache): one automatic page
// view once the title has settled (unchanged for 150 ms, at most ~1 s). Rapid
// changes (redirects) collapse into one view of where the user ends up.
const moved = safe(() => {
  pend = clearTimeout(pend)
  if (where() != where(lastKey)) settle(D.title, 0)
})
const settle = (t, n) =>
  (pend = setTimeout(
    safe(() => (D.title != t && n < 6 ? settle(D.title, n + 1) : view(1))),
    150
  ))

const view = (auto, name, props) => {
  pend = clearTimeout(pend)
  // The site called page() for a route the tag already counted: no double.
  if (!auto && lastAuto && where() == where(lastKey)) return (lastAuto = 0)
  COMPILE_ENGAGE && engaged()
  lastKey = here()
  lastAuto = auto
  pv = uuid7()
  page = { url: L.href, title: D.title, referrer: ref }
  ref = L.href
  put(msg('page', { name, properties: props || {} }))
  if (COMPILE_ENGAGE) {
    depth = 0
    scrolled()
  }
}

// A call that is not a page view first lets a waiting automatic page view out (or,
// replayed from the stub before any view, makes it), so that events follow the page
// view they belong to.
const emit = (type, o) => {
  ;(pend || !pv) && view(1)
  put(msg(type, o))
}

const act = () => {
  const t = now()
  if (last) eng += Math.min(t - last, ACTIVE)
  last = !D.hidden && D.hasFocus() && t
}

const scrolled = () => (depth = Math.max(depth, Math.min(100, (((scrollY + innerHeight) / D.documentElement.scrollHeight) * 100) | 0)))

const engaged = () => {
  act()
  if (eng && pv) put(msg('track', { event: 'Page Engaged', properties: { engaged_ms: eng, scroll_depth: depth } }))
  eng = 0
}

const hidden = () => {
  pend && view(1)
  // Engaged time stops here until the next input (visibilitychange and pagehide
  // both come through here when a page is left: one Page Engaged, not two).
  if (COMPILE_ENGAGE) engaged(), (last = 0)
  flush(1)
}

// --- start-up ----------------------------------------------------------------

const init = (c) => {
  cfg = { cookie_days: 395, query_denylist: ['email', 'token', 'password'], ...c }
  deny = cfg.query_denylist.map((x) => x.toLowerCase())
  const a = get(ls, 'fp_a'),
    // A consent call made before the tag loaded is the site's answer for this page:
    // denied (or pending) then applies before anything is stored.
    x = hold.find((m) => m.type == 'consent')?.c
  // This site's grant; an id cookie with no record on this origin comes from a
  // sibling subdomain (same site, cookie_domain), and counts as the grant.
  state = initial(cfg, N.globalPrivacyControl, cookie() || a?.x > now(), get(ls, 'fp_g' + key) || (cookie() && !a))
  state != DENIED && x != GRANTED && consent(x)
  buf = get(ss, 'fp_p' + key) || []
  if (state == GRANTED) start()
  if (state == DENIED) wipe()
  if (cfg.autocapture)
    if (COMPILE_AUTOCAPTURE) autocapture((e, p) => emit('track', { event: e, properties: p }))
    // t/ac.js beside t.js, also from a variant served at t/NAME.js
    else D.head.appendChild(D.createElement('script')).src = S.src.replace(/(\/t)?\/[^/]*$/, '/t/ac.js')
  hold.map(put)
  // Cached for the tab, unless the visitor said no: then nothing is stored.
  state != DENIED && c.site && set(ss, 'fp_c' + key, c)
}

const call = (f, x, y) => {
  if (f == 'page') view(0, ...(typeof x == 'object' ? [, x] : [x, y]))
  if (f == 'track') emit(f, { event: x, properties: y || {} })
  if (f == 'identify') emit(f, x != null && typeof x != 'object' ? { userId: x + '', traits: y || {} } : { traits: x || y || {} })
  if (f == 'group') emit(f, { groupId: x + '', traits: y || {} })
  if (f == 'reset' || f == 'consent') pend && view(1), put({ type: f, c: x?.analytics || x })
  if (f == 'beforeSend') before = x
}

// The <script> element that loaded this file (data-key, data-api, src).
const S = D.currentScript

safe(() => {
  const f = W.footpath
  if (f?.v) return // loaded twice
  key = S.dataset.key
  qp = QP + key + '.'
  api = (S.dataset.api || new URL(S.src).origin).replace(/\/?$/, '/v1/')
  // .v marks the real function (a second copy of the tag steps aside) and names the
  // site for the modules (t/ac.js, t/exp.js read its settings, sessionStorage fp_c<key>).
  const F = (W.footpath = safe(call))
  F.v = key
  // Calls made before the tag loaded, in order; then the automatic page view, unless
  // the site's own page() has already counted this route.
  f?.q?.map((a) => F(...a))
  moved()
  const c = get(ss, 'fp_c' + key)
  c
    ? init(c)
    : fetch(api + 'sites/' + key + '/config')
        // Any failure (network, status, body) leaves the safe defaults: pending.
        .then((r) => r.json())
        .catch(() => ({}))
        .then(safe(init))
  // history API and back/forward
  // Both return undefined; a call that throws changed no route (and moved() cannot throw).
  ;['pushState', 'replaceState'].map((k, o) => ((o = history[k]), (history[k] = (...a) => (o.apply(history, a), moved()))))
  on('popstate', moved)
  COMPILE_HASH && on('hashchange', moved)
  // bfcache restore: a new page view
  on('pageshow', (e) => e.persisted && ((lastKey = ''), moved()))
  on('pagehide', hidden)
  // Back in view: what waited is sent; what a beacon carried stays queued, unacknowledged,
  // and is sent again only by the next page load in the tab (not on every tab switch).
  // Becoming visible or hidden also starts or stops engaged time.
  on('visibilitychange', () => (COMPILE_ENGAGE && act(), D.hidden ? hidden() : flush()))
  if (COMPILE_ENGAGE) {
    // Input that counts as activity (a tap on a touch screen also fires mousemove).
    ;['mousemove', 'keydown', 'scroll', 'focus', 'blur'].map((t) => on(t, act))
    on('scroll', scrolled)
  }
})()
