import { test } from 'node:test'
import assert from 'node:assert/strict'
import { uuid7 } from '../src/uuid.js'

const SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

test('uuid7 has the RFC 9562 version-7 layout', () => {
  for (let i = 0; i < 2000; i++) assert.match(uuid7(), SHAPE)
})

test('uuid7 carries the Unix millisecond timestamp in its first 48 bits', () => {
  const t = Date.UTC(2025, 0, 2, 3, 4, 5, 678)
  const id = uuid7(t)
  const hex = id.replace(/-/g, '').slice(0, 12)
  assert.equal(parseInt(hex, 16), t)
  // 2025-01-02T03:04:05.678Z is 1735787045678 ms = 0x019424f8632e (computed with Python's datetime)
  assert.equal(id.slice(0, 13), '019424f8-632e')
  assert.equal(new Date(parseInt(hex, 16)).toISOString(), '2025-01-02T03:04:05.678Z')
})

test('uuid7 ids sort by creation time', () => {
  const ids = [5, 1, 3e12, 1700000000000, 1700000000001, 2].map((t) => [t, uuid7(t)])
  const byId = [...ids].sort((a, b) => (a[1] < b[1] ? -1 : 1)).map((x) => x[0])
  const byTime = [...ids].sort((a, b) => a[0] - b[0]).map((x) => x[0])
  assert.deepEqual(byId, byTime)
})

test('uuid7 random part is random: no repeats, all four variants, every hex digit', () => {
  const seen = new Set(),
    variants = new Set(),
    digits = new Set()
  for (let i = 0; i < 20000; i++) {
    const id = uuid7(1700000000000)
    seen.add(id)
    variants.add(id[19])
    for (const d of id.slice(24)) digits.add(d)
  }
  assert.equal(seen.size, 20000)
  assert.deepEqual([...variants].sort(), ['8', '9', 'a', 'b'])
  assert.equal(digits.size, 16)
})
