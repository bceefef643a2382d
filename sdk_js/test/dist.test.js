// Checks the built files (npm run build first; make test does): compile-time flags
// really remove code, and every output is a self-contained script.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'

const read = (f) => {
  try {
    return readFileSync(new URL('../dist/' + f, import.meta.url), 'utf8')
  } catch {
    assert.fail(`dist/${f} is missing: run npm run build first`)
  }
}

test('the core is within the size budget (gzip -9)', () => {
  const n = gzipSync(read('t.js'), { level: 9 }).length
  assert.ok(n <= 4096, `t.js is ${n} bytes gzip -9`)
})

test('the core has no autocapture code, only the loader for t/ac.js', () => {
  const t = read('t.js')
  assert.ok(!t.includes('Outbound Link Clicked'))
  assert.ok(t.includes('t/ac.js'))
  assert.ok(t.includes('Page Engaged') && t.includes('hashchange'))
})

test('full.js has autocapture built in and loads nothing', () => {
  const t = read('full.js')
  assert.ok(t.includes('Outbound Link Clicked') && t.includes('Form Submitted') && t.includes('File Downloaded'))
  assert.ok(!t.includes('t/ac.js'))
})

test('lite.js has neither engagement nor hash routes', () => {
  const t = read('lite.js')
  assert.ok(!t.includes('Page Engaged') && !t.includes('hashchange') && !t.includes('scrollHeight'))
})

test('ac.js reports through the public footpath() function', () => {
  const t = read('ac.js')
  assert.ok(t.includes('footpath') && t.includes('Outbound Link Clicked'))
})

test('each file is one IIFE that declares no globals', () => {
  for (const f of ['t.js', 'ac.js', 'full.js', 'lite.js']) {
    const t = read(f).trim()
    assert.match(t, /^\(\(\)=>\{[\s\S]*\}\)\(\);?$/, f)
  }
})
