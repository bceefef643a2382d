import { test } from 'node:test'
import assert from 'node:assert/strict'
import { clean, campaign as key } from '../src/url.js'

const DENY = ['email', 'token', 'password']

test('clean drops denylisted query parameters, any case, and keeps the rest in order', () => {
  const u = clean('https://shop.example/a/b?x=1&Email=a%40b.c&utm_source=news&TOKEN=t&y=2&password=p#frag', DENY)
  assert.equal(u.href, 'https://shop.example/a/b?x=1&utm_source=news&y=2')
  assert.equal(u.search, '?x=1&utm_source=news&y=2')
  assert.equal(u.pathname, '/a/b')
})

test('clean removes repeated parameters and leaves an empty query empty', () => {
  assert.equal(clean('https://s.example/?token=1&token=2', DENY).href, 'https://s.example/')
})

test('clean keeps campaign and click ids, which the collector parses from the URL', () => {
  const u = 'https://s.example/p?utm_source=a&utm_medium=b&utm_campaign=c&gclid=G&fbclid=F&msclkid=M'
  assert.equal(clean(u, DENY).href, u)
})

test('clean drops the fragment unless hash routes are on', () => {
  assert.equal(clean('https://s.example/app#/cart?email=x', DENY).href, 'https://s.example/app')
  const h = clean('https://s.example/app?email=x#/cart', DENY, true)
  assert.equal(h.href, 'https://s.example/app#/cart')
  assert.equal(h.hash, '#/cart')
})

test('clean honours a site-specific denylist', () => {
  assert.equal(clean('https://s.example/?session=1&q=shoes', ['session']).href, 'https://s.example/?q=shoes')
})

test('clean returns undefined for what is not a URL (empty referrer)', () => {
  assert.equal(clean('', DENY), undefined)
  assert.equal(clean(undefined, DENY), undefined)
})

test('campaign is the utm_* and click-id part of the query, empty when none', () => {
  const campaign = (u) => key(new URL(u).search)
  assert.equal(campaign('https://s.example/?utm_source=a&x=1&utm_campaign=b'), 'utm_source,a&utm_campaign,b')
  assert.equal(campaign('https://s.example/?gclid=1'), 'gclid,1')
  assert.equal(campaign('https://s.example/?msclkid=1&q=2'), 'msclkid,1')
  assert.equal(campaign('https://s.example/?li_fat_id=9&wbraid=w'), 'li_fat_id,9&wbraid,w')
  assert.equal(campaign('https://s.example/?q=shoes&utmost=1&clid=no_prefix_is_fine'), 'clid,no_prefix_is_fine')
  assert.equal(campaign('https://s.example/?q=shoes'), '')
  assert.equal(key(''), '')
  assert.equal(key('nonsense'), '')
})

test('different campaigns give different keys, the same campaign the same key', () => {
  const campaign = (u) => key(new URL(u).search)
  const a = campaign('https://s.example/x?utm_source=news&utm_campaign=spring')
  const b = campaign('https://s.example/y?utm_source=news&utm_campaign=summer')
  const a2 = campaign('https://s.example/z?q=1&utm_source=news&utm_campaign=spring')
  assert.notEqual(a, b)
  assert.equal(a, a2)
})

test('with hash routes the query inside the fragment loses denylisted parameters too', () => {
  const h = clean('https://s.example/app?x=1#/login?email=bob%40x.com&next=%2Fa&TOKEN=s3cret', DENY, true)
  assert.equal(h.href, 'https://s.example/app?x=1#/login?next=%2Fa')
  assert.equal(clean('https://s.example/#/login?email=bob&token=t', DENY, true).href, 'https://s.example/#/login')
  // Nothing denylisted: the fragment is left exactly as it was.
  assert.equal(clean('https://s.example/#/p?q=a%20b&x', DENY, true).href, 'https://s.example/#/p?q=a%20b&x')
  assert.equal(clean('https://s.example/#/p', DENY, true).href, 'https://s.example/#/p')
})
