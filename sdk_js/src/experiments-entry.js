// dist/exp.js, served at t/exp.js: the optional experiments module (the core t.js stays
// within its size budget).  Load it with a plain <script> before t.js, or any time after.
//
//   footpath('variant', 'checkout-button', (v) => render(v))   // -> 'green' | 'control' | null
//
// The unit is the person: the user id when known, else the anonymous id.  The first
// variant a browser gets is kept (localStorage fp_x, wiped with every fp_* key under
// denied), so bandit reweighting and logging in never switch it.  `Experiment Viewed`
// {experiment_id, variation_id} goes out once per page view.  With no consent yet or
// denied (no anonymous id), the control is served and nothing is stored or sent.
import { bucket, pick } from './experiments.js'

const W = window,
  D = document
let ls, ss
try {
  ls = localStorage
  ss = sessionStorage
} catch {}
const get = (s, k) => {
    try {
      return JSON.parse(s.getItem(k))
    } catch {}
  },
  set = (s, k, v) => {
    try {
      s.setItem(k, JSON.stringify(v))
    } catch {}
  },
  seen = {},
  waiting = []

// undefined: the tag has not started in this tab yet (or consent is denied: it never does)
const decide = (key) => {
  const f = W.footpath,
    c = get(ss, 'fp_c' + f?.v) // the tag's settings for its site (footpath.v is the key)
  if (!c || !f?.v) return
  const e = c.experiments?.[key]
  if (!e) return null
  if (e.serve) return e.serve
  const m = D.cookie.match(/(?:^|;\s*)fp_id=([^;]+)/),
    id = get(ls, 'fp_u') || m?.[1] || get(ls, 'fp_a')?.i
  if (!id) return e.variants[0] // consent pending: control, nothing stored or sent
  const x = get(ls, 'fp_x') || {}
  let v = x[key]
  if (!e.variants.includes(v)) (v = x[key] = e.variants[pick(bucket(key, id), e.weights)]), set(ls, 'fp_x', x)
  if (seen[key] != location.href) (seen[key] = location.href), f.o('track', 'Experiment Viewed', { experiment_id: key, variation_id: v })
  return v
}

const variant = (key, cb) => {
  const v = decide(key)
  if (v !== undefined) return cb && cb(v), v
  cb && waiting.push([key, cb, Date.now()])
  return null
}

// Calls waiting for the tag's settings; after 3 s (denied consent, settings unreachable)
// they get null: serve the control.
const retry = () => {
  for (const w of waiting.splice(0)) {
    const v = decide(w[0])
    v !== undefined ? w[1](v) : Date.now() - w[2] > 3e3 ? w[1](null) : waiting.push(w)
  }
  waiting.length && setTimeout(retry, 50)
}

const wrap = (f) => {
  const g = function (c, ...a) {
    if (c == 'variant')
      try {
        const r = variant(...a)
        waiting.length && setTimeout(retry, 50)
        return r
      } catch {
        return null
      }
    return f.v ? f(c, ...a) : f.apply(this, arguments)
  }
  g.v = f.v
  g.q = f.q
  g.o = f
  g.x = 1
  return g
}

const install = () => {
  const f = W.footpath
  if (f?.x && f.v) return
  if (f?.v) return (W.footpath = wrap(f)), retry()
  // The stub (or nothing) yet: queued variant calls are taken out and answered later;
  // other calls stay queued for t.js.
  const q = f?.q || []
  for (let i = q.length; i--; ) q[i][0] == 'variant' && waiting.push([q[i][1], q[i][2] || (() => {}), Date.now() + 6e3]) && q.splice(i, 1)
  if (!f?.x) W.footpath = wrap(function () { q.push(arguments) }), (W.footpath.q = q)
  setTimeout(install, 20)
}
install()
