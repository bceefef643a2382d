import { test } from 'node:test'
import assert from 'node:assert/strict'
import { retryable, wait } from '../src/backoff.js'

test('network errors, 408, 429 and 5xx are retried; other statuses are not', () => {
  for (const s of [0, undefined, 408, 429, 500, 502, 503, 504, 599]) assert.equal(retryable(s), true, String(s))
  for (const s of [200, 204, 301, 400, 401, 403, 404, 409, 413, 422]) assert.equal(retryable(s), false, String(s))
})

test('backoff doubles from 1 s with equal jitter: between half and all of 2^(a-1) s', () => {
  const want = [1000, 2000, 4000, 8000, 16000]
  want.forEach((b, i) => {
    assert.equal(wait(i + 1, null, 0), b / 2)
    assert.equal(wait(i + 1, null, 1), b)
    assert.equal(wait(i + 1, null, 0.5), b * 0.75)
  })
})

test('backoff is capped at 30 s', () => {
  for (const a of [6, 7, 10, 40]) {
    assert.equal(wait(a, null, 1), 30000)
    assert.equal(wait(a, null, 0), 15000)
  }
})

test('jitter spreads retries over the whole window', () => {
  const xs = Array.from({ length: 2000 }, () => wait(3))
  assert.ok(Math.min(...xs) >= 2000 && Math.max(...xs) <= 4000)
  assert.ok(Math.max(...xs) - Math.min(...xs) > 1500)
})

test('Retry-After (seconds) is a floor, never shortened by the backoff', () => {
  assert.equal(wait(1, '120', 0), 120000)
  assert.equal(wait(1, '0', 0), 500)
  assert.equal(wait(6, '5', 1), 30000) // backoff already longer
})

test('a Retry-After that is not a number of seconds is ignored', () => {
  assert.equal(wait(1, 'Wed, 21 Oct 2015 07:28:00 GMT', 0), 500)
  assert.equal(wait(1, '', 0), 500)
  assert.equal(wait(1, undefined, 1), 1000)
})
