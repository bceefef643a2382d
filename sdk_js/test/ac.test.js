import { test } from 'node:test'
import assert from 'node:assert/strict'
import { linkEvent, formEvent } from '../src/ac.js'

const HERE = 'https://shop.example/products/1'
// An <a> element stand-in: what linkEvent reads (closest, href, innerText, attributes).
const link = (href, text = 'go', attrs = {}) => {
  const a = {
    href: new URL(href, HERE).href,
    innerText: text,
    hasAttribute: (k) => k in attrs,
    closest: (sel) => (sel == 'a[href]' ? a : null),
  }
  return a
}
const child = (a) => ({ closest: (sel) => a.closest(sel) })

test('a click on an outbound link, or inside one, is Outbound Link Clicked', () => {
  assert.deepEqual(linkEvent(link('https://partner.example/x?ref=1#top', '  Partner  '), HERE), [
    'Outbound Link Clicked',
    { url: 'https://partner.example/x?ref=1', text: 'Partner' },
  ])
  assert.equal(linkEvent(child(link('https://partner.example/')), HERE)[0], 'Outbound Link Clicked')
})

test('denylisted parameters never leave in a link URL', () => {
  assert.equal(linkEvent(link('https://partner.example/x?email=a@b.c&token=1&k=v'), HERE)[1].url, 'https://partner.example/x?k=v')
})

test('same-host links are not captured; other schemes are not captured', () => {
  assert.equal(linkEvent(link('/cart'), HERE), undefined)
  assert.equal(linkEvent(link('https://shop.example/checkout'), HERE), undefined)
  assert.equal(linkEvent(link('mailto:hi@shop.example'), HERE), undefined)
  assert.equal(linkEvent(link('javascript:void 0'), HERE), undefined)
  assert.equal(linkEvent({ closest: () => null }, HERE), undefined)
  assert.equal(linkEvent(null, HERE), undefined)
})

test('file links (by extension or download attribute) are File Downloaded, on any host', () => {
  assert.deepEqual(linkEvent(link('/files/Guide.PDF', 'Guide'), HERE), [
    'File Downloaded',
    { url: 'https://shop.example/files/Guide.PDF', text: 'Guide', file_extension: 'pdf' },
  ])
  assert.equal(linkEvent(link('https://cdn.example/app.dmg'), HERE)[1].file_extension, 'dmg')
  assert.deepEqual(linkEvent(link('/export', 'Export', { download: '' }), HERE)[1].file_extension, '')
  assert.equal(linkEvent(link('/report.xlsx'), HERE)[0], 'File Downloaded')
  assert.equal(linkEvent(link('/page.html'), HERE), undefined)
})

test('form submissions report the form, never its fields, even when fields shadow form properties', () => {
  const attrs = { id: 'login', action: '/session', method: 'POST' }
  const form = { getAttribute: (k) => attrs[k] ?? null, id: { tagName: 'INPUT' }, action: { tagName: 'INPUT' } }
  assert.deepEqual(formEvent(form), ['Form Submitted', { form_id: 'login', form_name: '', action: '/session', method: 'post' }])
  assert.deepEqual(formEvent({ getAttribute: () => null }), ['Form Submitted', { form_id: '', form_name: '', action: '', method: 'get' }])
})
