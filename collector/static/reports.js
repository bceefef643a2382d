// Footpath report page: fallout bars and a path Sankey from POST /v1/reports/{fallout,paths}.
// The admin token is typed in and kept in sessionStorage for this tab only.
(function () {
  'use strict'
  const $ = (s, el) => (el || document).querySelector(s)
  const $$ = (s, el) => Array.from((el || document).querySelectorAll(s))
  const SVG = 'http://www.w3.org/2000/svg'
  const fmt = (n) => Number(n).toLocaleString('en-US')
  const pct = (x) => (x * 100).toFixed(1) + '%'
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])

  function status(msg, ok) {
    const el = $('#status')
    el.textContent = msg || ''
    el.className = ok ? 'ok' : ''
  }

  async function api(method, path, body) {
    const token = $('#token').value.trim()
    if (!token) throw new Error('enter the admin token first')
    const r = await fetch(path, {
      method,
      headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    })
    let doc = {}
    try { doc = await r.json() } catch (e) { doc = { error: 'HTTP ' + r.status } }
    if (!r.ok) throw new Error(doc.error || 'HTTP ' + r.status)
    return doc
  }

  // -- common controls ----------------------------------------------------------------------
  const day = (d) => d.toISOString().slice(0, 10)
  function defaults() {
    const to = new Date(Date.now() + 86400e3)
    $('#to').value = day(to)
    $('#from').value = day(new Date(to.getTime() - 30 * 86400e3))
  }

  async function loadSites() {
    sessionStorage.setItem('fp_admin_token', $('#token').value.trim())
    try {
      const doc = await api('GET', '/v1/reports/sites')
      const sel = $('#site')
      const keep = sel.value
      sel.innerHTML = doc.sites.map((s) => `<option value="${esc(s)}">${esc(s)}</option>`).join('')
      if (doc.sites.includes(keep)) sel.value = keep
      status(doc.sites.length ? '' : 'no sites configured', true)
    } catch (e) { status(e.message) }
  }

  function common() {
    if (!$('#site').value) throw new Error('choose a site')
    return {
      site: $('#site').value, from: $('#from').value, to: $('#to').value,
      container: $('#container').value, include_bots: $('#bots').checked,
    }
  }

  // -- steps --------------------------------------------------------------------------------
  function stepRow(parent, type, value) {
    const row = $('#step-row').content.firstElementChild.cloneNode(true)
    $('.step-type', row).value = type
    $('.step-value', row).value = value || ''
    $('.remove', row).onclick = () => { row.remove(); number() }
    parent.appendChild(row)
    number()
    return row
  }
  function number() { $$('#steps .step').forEach((r, i) => r.setAttribute('data-n', i + 1)) }
  function readStep(row) {
    const type = $('.step-type', row).value
    const value = $('.step-value', row).value.trim()
    if (!value) return { type }
    return type === 'page' ? { type, path: value } : { type, event: value }
  }

  // -- fallout ------------------------------------------------------------------------------
  async function runFallout(ev) {
    ev.preventDefault()
    try {
      const body = {
        ...common(),
        steps: $$('#steps .step').map(readStep),
        window_seconds: Math.round(Number($('#window').value) * Number($('#window-unit').value)),
        mode: $('#mode').value,
        breakdown: $('#breakdown').value || null,
      }
      status('running…', true)
      const doc = await api('POST', '/v1/reports/fallout', body)
      drawFallout(doc)
      status(`${doc.source === 'mv' ? 'materialized views' : 'raw table'}, ${doc.elapsed_ms} ms`, true)
    } catch (e) { status(e.message) }
  }

  function drawFallout(doc) {
    const out = $('#fallout-out')
    const first = doc.steps.length ? doc.steps[0].entered : 0
    let html = '<div class="funnel">'
    doc.steps.forEach((s, i) => {
      const w = first ? (100 * s.entered) / first : 0
      html += `<div class="label">${i + 1}. ${esc(s.label)}</div>
        <div class="bar-wrap funnel-step" data-index="${i}" data-entered="${s.entered}" data-fell-out="${s.fell_out}"
             data-conversion="${s.conversion_from_first}">
          <div class="bar" style="width:${w.toFixed(2)}%"></div>
          <span class="bar-text"><span class="entered">${fmt(s.entered)}</span> · ${pct(s.conversion_from_first)} of first</span>
        </div>`
      if (i + 1 < doc.steps.length) {
        const drop = s.entered ? s.fell_out / s.entered : 0
        const med = s.median_seconds_to_next == null ? '' : `<span class="median">median ${s.median_seconds_to_next.toFixed(1)} s to next</span>`
        html += `<div class="drop" data-index="${i}">▼ <span class="drop-pct">${pct(drop)}</span> drop off
          (<span class="fell-out">${fmt(s.fell_out)}</span>)${med}</div>`
      }
    })
    html += '</div>'
    const values = Object.keys(doc.breakdown || {})
    if (values.length) {
      html += '<table class="breakdown"><thead><tr><th>value</th>' +
        doc.steps.map((s, i) => `<th>${i + 1}. ${esc(s.label)}</th>`).join('') + '<th>conversion</th></tr></thead><tbody>'
      for (const v of values) {
        const st = doc.breakdown[v].steps
        html += `<tr data-value="${esc(v)}"><td>${esc(v)}</td>` + st.map((s) => `<td>${fmt(s.entered)}</td>`).join('') +
          `<td>${pct(st[st.length - 1].conversion_from_first)}</td></tr>`
      }
      html += '</tbody></table>'
    }
    out.innerHTML = html
  }

  // -- paths --------------------------------------------------------------------------------
  async function runPaths(ev) {
    ev.preventDefault()
    try {
      const body = {
        ...common(),
        depth: Number($('#depth').value), top: Number($('#top').value),
        include: $$('.include').filter((c) => c.checked).map((c) => c.value),
        collapse_repeats: $('#collapse').checked,
      }
      const kind = $('#anchor-kind').value
      if (kind) body[kind] = readStep($('#anchor-step .step'))
      status('running…', true)
      const doc = await api('POST', '/v1/reports/paths', body)
      drawSankey(doc)
      status(`${fmt(doc.containers)} ${body.container}s, ${doc.source === 'mv' ? 'materialized views' : 'raw table'}, ${doc.elapsed_ms} ms`, true)
    } catch (e) { status(e.message) }
  }

  function el(name, attrs, parent) {
    const e = document.createElementNS(SVG, name)
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v)
    if (parent) parent.appendChild(e)
    return e
  }

  function drawSankey(doc) {
    const out = $('#paths-out')
    out.innerHTML = ''
    if (!doc.nodes.length) { out.textContent = 'No paths in this range.'; return }
    const depths = [...new Set(doc.nodes.map((n) => n.depth))].sort((a, b) => a - b)
    const cols = depths.map((d) => doc.nodes.filter((n) => n.depth === d))
    const special = (n) => /^\((exit|entry|other)\)$/.test(n.label)
    cols.forEach((c) => c.sort((a, b) => special(a) - special(b) || b.count - a.count))
    const W = Math.max(860, 200 * cols.length), H = 520, M = 24, NW = 12, PAD = 10
    const tallest = Math.max(...cols.map((c) => c.reduce((s, n) => s + n.count, 0)))
    const most = Math.max(...cols.map((c) => c.length))
    const k = (H - 2 * M - PAD * (most - 1)) / tallest
    const pos = {}
    cols.forEach((c, i) => {
      const x = M + (i * (W - 2 * M - NW - 140)) / Math.max(1, cols.length - 1)
      let y = M
      for (const n of c) {
        pos[n.id] = { x, y, h: Math.max(1, n.count * k), out: 0, in: 0, n }
        y += pos[n.id].h + PAD
      }
    })
    const svg = el('svg', { class: 'sankey', viewBox: `0 0 ${W} ${H}`, width: W, height: H })
    const links = doc.links.slice().sort((a, b) => pos[a.source].y - pos[b.source].y || pos[a.target].y - pos[b.target].y)
    const linkG = el('g', {}, svg)
    for (const l of links) {
      const s = pos[l.source], t = pos[l.target], w = Math.max(1, l.value * k)
      const y0 = s.y + s.out + w / 2, y1 = t.y + t.in + w / 2
      s.out += l.value * k
      t.in += l.value * k
      const x0 = s.x + NW, x1 = t.x, xm = (x0 + x1) / 2
      const p = el('path', {
        class: 'link', d: `M${x0},${y0} C${xm},${y0} ${xm},${y1} ${x1},${y1}`, 'stroke-width': w,
        'data-source': l.source, 'data-target': l.target, 'data-value': l.value,
      }, linkG)
      el('title', {}, p).textContent = `${s.n.label} → ${t.n.label}: ${fmt(l.value)}`
    }
    for (const id of Object.keys(pos)) {
      const p = pos[id]
      const g = el('g', { class: 'node' + (special(p.n) ? ' special' : ''), 'data-id': id, 'data-count': p.n.count }, svg)
      el('rect', { x: p.x, y: p.y, width: NW, height: p.h }, g)
      const t = el('text', { x: p.x + NW + 4, y: p.y + Math.min(p.h / 2, 14) + 4 }, g)
      t.textContent = `${p.n.label} `
      const c = el('tspan', { class: 'count' }, t)
      c.textContent = `(${fmt(p.n.count)})`
      el('title', {}, g).textContent = `${p.n.label}: ${fmt(p.n.count)} at depth ${p.n.depth}`
    }
    out.appendChild(svg)
  }

  // -- wiring -------------------------------------------------------------------------------
  function init() {
    defaults()
    $('#token').value = sessionStorage.getItem('fp_admin_token') || ''
    $('#token').addEventListener('change', loadSites)
    if ($('#token').value) loadSites()
    stepRow($('#steps'), 'page', '/*')
    stepRow($('#steps'), 'track', '')
    $('#add-step').onclick = () => stepRow($('#steps'), 'track', '')
    stepRow($('#anchor-step'), 'page', '/')
    $('.remove', $('#anchor-step')).remove()
    $('#anchor-kind').onchange = () => { $('#anchor-step').hidden = !$('#anchor-kind').value }
    $('#fallout-form').onsubmit = runFallout
    $('#paths-form').onsubmit = runPaths
    $$('.tab').forEach((b) => b.onclick = () => {
      $$('.tab').forEach((x) => x.classList.toggle('active', x === b))
      $$('.tab-body').forEach((s) => { s.hidden = s.id !== b.dataset.tab + '-tab' })
    })
  }
  init()
})()
