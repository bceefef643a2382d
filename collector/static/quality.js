// The data-quality page: renders GET /v1/quality (admin token kept in this tab's
// sessionStorage; never put in the URL that reaches the server). Event names, property
// names and examples are user data: everything is inserted as text, never as HTML.
'use strict'

const $ = (s) => document.querySelector(s)
const form = $('#q')
const statusEl = $('#status')

function el(tag, attrs, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v
    else if (k.startsWith('data-')) e.setAttribute(k, v)
    else e[k] = v
  }
  for (const c of children.flat()) if (c != null) e.append(c instanceof Node ? c : String(c))
  return e
}

const int = (n) => Number(n).toLocaleString('en-US')
const pct = (r) => (r == null ? '–' : (r * 100).toFixed(1) + ' %')

function sparkline(hourly, from, to) {
  const start = Math.floor(Date.parse(from) / 3.6e6)
  const end = Math.ceil(Date.parse(to) / 3.6e6)
  const n = Math.max(1, Math.min(end - start, 24 * 93))
  const ys = new Array(n).fill(0)
  const bad = new Array(n).fill(0)
  for (const h of hourly) {
    const i = Math.floor(Date.parse(h.hour) / 3.6e6) - start
    if (i >= 0 && i < n) { ys[i] = h.events; bad[i] = h.violating }
  }
  const W = 220, H = 36, max = Math.max(1, ...ys)
  const pts = (arr) => arr.map((y, i) => `${((i + 0.5) * W / n).toFixed(1)},${(H - 2 - (y / max) * (H - 4)).toFixed(1)}`).join(' ')
  const NS = 'http://www.w3.org/2000/svg'
  const svg = document.createElementNS(NS, 'svg')
  svg.setAttribute('width', W); svg.setAttribute('height', H); svg.setAttribute('viewBox', `0 0 ${W} ${H}`)
  for (const [arr, color] of [[ys, '#3559e0'], [bad, '#b42318']]) {
    const p = document.createElementNS(NS, 'polyline')
    p.setAttribute('points', pts(arr)); p.setAttribute('fill', 'none'); p.setAttribute('stroke', color); p.setAttribute('stroke-width', '1.5')
    svg.append(p)
  }
  const t = document.createElementNS(NS, 'title')
  t.textContent = `peak ${int(max)} events/hour; red: violating`
  svg.append(t)
  return svg
}

function card(key, value, labelText, cls) {
  return el('div', { class: 'card' }, el('div', { class: 'v ' + (cls || ''), 'data-k': key }, value), el('div', { class: 'l' }, labelText))
}

function render(doc) {
  const t = doc.totals, c = doc.completeness
  $('#cards').replaceChildren(
    card('events', int(t.events), 'events received'),
    card('checked', int(t.checked), 'checked against the plan'),
    card('violation_rate', pct(t.violation_rate), 'violation rate', t.violation_rate > 0.05 ? 'bad' : ''),
    card('blocked', int(t.blocked), 'blocked (quarantined)'),
    card('quarantined', int(doc.quarantine.quarantined), 'waiting in quarantine'),
    card('rejected', int(doc.rejected.total), 'rejected (refused as invalid)', doc.rejected.total > 0 ? 'bad' : ''),
    card('completeness', pct(c.estimated), `estimated completeness (tag dropped ${int(c.dropped)}, retried ${int(c.retried)})`),
  )
  const p = doc.plan
  $('#plan').replaceChildren(el('h2', {}, 'Tracking plan'), p
    ? el('div', {}, el('span', { 'data-k': 'plan-version' }, `version ${p.version ?? '–'}`), ` · mode `,
        el('b', { 'data-k': 'plan-mode' }, p.mode), ` · ${p.events.length} planned events · `, el('code', {}, p.path),
        p.error ? el('div', { class: 'bad', 'data-k': 'plan-error' }, 'not reloaded: ' + p.error) : null)
    : el('div', { class: 'muted' }, 'no tracking plan for this site (tracking_plan in the site table)'))
  $('#incidents').replaceChildren(doc.incidents.length
    ? el('table', {}, el('tbody', {}, doc.incidents.map((i) => el('tr', { 'data-incident': i.id },
        el('td', {}, el('span', { class: 'badge ' + i.state }, i.state)), el('td', {}, i.opened_at),
        el('td', {}, i.kind), el('td', {}, i.summary)))))
    : el('div', { class: 'muted' }, 'none in this range'))
  const rj = doc.rejected.fields
  $('#rejected').replaceChildren(rj.length
    ? el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'field'), el('th', {}, 'type'), el('th', { class: 'n' }, 'count'),
        el('th', {}, 'latest reason'), el('th', {}, 'from'), el('th', {}, 'last'))),
        el('tbody', {}, rj.map((f) => el('tr', { 'data-rejected': `${f.field}:${f.type}` },
          el('td', {}, el('code', {}, f.field || '(message)')), el('td', {}, f.type || '–'),
          el('td', { class: 'n', 'data-k': 'count' }, int(f.count)), el('td', { 'data-k': 'reason' }, f.reason),
          el('td', {}, f.libraries.join(', ') || '–'), el('td', {}, f.last)))))
    : el('div', { class: 'muted' }, 'none in this range'))
  const rows = []
  for (const e of doc.events) {
    const key = `${e.type}:${e.event}`
    const plan = e.planned == null ? '–' : e.planned ? 'planned' : e.type === 'track' ? 'unplanned' : 'no schema'
    const tr = el('tr', { class: 'event', 'data-event': key },
      el('td', { 'data-k': 'label' }, e.label), el('td', { 'data-k': 'planned', class: plan === 'unplanned' ? 'bad' : '' }, plan),
      el('td', { class: 'n', 'data-k': 'events' }, int(e.events)),
      el('td', { class: 'n ' + (e.violation_rate > 0.05 ? 'bad' : ''), 'data-k': 'violation_rate' }, pct(e.violation_rate)),
      el('td', { class: 'n', 'data-k': 'unplanned' }, int(e.unplanned)),
      el('td', { class: 'n', 'data-k': 'blocked' }, int(e.blocked)),
      el('td', {}, sparkline(e.hourly, doc.from, doc.to)))
    const viol = e.violations.length
      ? el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'rule'), el('th', {}, 'property'), el('th', { class: 'n' }, 'count'), el('th', {}, 'example'))),
          el('tbody', {}, e.violations.map((v) => el('tr', { 'data-violation': `${v.rule}:${v.property}` },
            el('td', {}, v.rule), el('td', {}, v.property || '–'), el('td', { class: 'n', 'data-k': 'count' }, int(v.count)),
            el('td', {}, v.example, el('div', { class: 'muted' }, el('code', {}, v.example_message_id)))))))
      : el('div', { class: 'muted' }, 'no violations')
    const fill = e.fill_rates.length
      ? el('table', {}, el('tbody', {}, e.fill_rates.map((f) => el('tr', { 'data-fill': f.property },
          el('td', {}, f.property), el('td', { class: 'n', 'data-k': 'rate' }, pct(f.rate)),
          el('td', {}, el('span', { class: 'bar', style: `width:${Math.round((f.rate || 0) * 80)}px` }))))))
      : el('div', { class: 'muted' }, 'no properties')
    const detail = el('tr', { class: 'detail', hidden: true, 'data-detail': key },
      el('td', { colSpan: 7 }, el('div', { class: 'cols' },
        el('div', {}, el('h2', {}, 'Top violations'), viol), el('div', {}, el('h2', {}, 'Fill rates'), fill))))
    tr.addEventListener('click', () => { detail.hidden = !detail.hidden })
    rows.push(tr, detail)
  }
  $('#events tbody').replaceChildren(...rows)
  $('#out').hidden = false
}

async function load() {
  const f = new FormData(form)
  const token = f.get('token') || sessionStorage.getItem('fp_admin') || ''
  if (f.get('token')) sessionStorage.setItem('fp_admin', f.get('token'))
  const params = new URLSearchParams()
  for (const k of ['site', 'from', 'to']) if (f.get(k)) params.set(k, f.get(k))
  history.replaceState(null, '', '?' + params)
  statusEl.className = ''
  statusEl.textContent = 'loading…'
  try {
    const r = await fetch('/v1/quality?' + params, { headers: { Authorization: 'Bearer ' + token } })
    const doc = await r.json()
    if (!r.ok) throw new Error(doc.error || 'HTTP ' + r.status)
    render(doc)
    statusEl.textContent = `${doc.site}: ${doc.from} .. ${doc.to}`
    document.body.dataset.loaded = '1'
  } catch (e) {
    statusEl.className = 'error'
    statusEl.textContent = String(e.message || e)
  }
}

form.addEventListener('submit', (ev) => { ev.preventDefault(); load() })

// ?site=&from=&to= fill the form; #token=... (never sent to the server) is stored and removed.
const qs = new URLSearchParams(location.search)
for (const k of ['site', 'from', 'to']) if (qs.get(k)) form.elements[k].value = qs.get(k)
const frag = new URLSearchParams(location.hash.slice(1))
if (frag.get('token')) {
  sessionStorage.setItem('fp_admin', frag.get('token'))
  history.replaceState(null, '', location.pathname + location.search)
}
if (qs.get('site')) load()
