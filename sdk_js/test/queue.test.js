import { test } from 'node:test'
import assert from 'node:assert/strict'
import { claim, prune, save, split, bounded, P, STALE, CAP, TTL } from '../src/queue.js'
import { FakeStorage } from './fake-storage.js'

const NOW = 1_750_000_000_000
const ev = (id, e = NOW, extra = {}) => ({ m: { messageId: id, type: 'track' }, e, n: 0, ...extra })
const ids = (q) => q.map((x) => x.m.messageId)

test('save writes the tab key with a heartbeat and removes it when empty', () => {
  const ls = new FakeStorage()
  save(ls, P + 'A', [ev('1')], NOW)
  assert.deepEqual(JSON.parse(ls.getItem(P + 'A')), { t: NOW, e: [ev('1')] })
  save(ls, P + 'A', [], NOW)
  assert.equal(ls.getItem(P + 'A'), null)
  assert.deepEqual(Object.keys(ls), [])
})

test("a reload in the same tab takes its own leftovers back at once, in-flight marks cleared", () => {
  const ls = new FakeStorage()
  save(ls, P + 'A', [ev('1', NOW - 5, { f: 1, n: 1 }), ev('2', NOW - 3)], NOW - 1)
  const q = claim(ls, P, P + 'A', NOW, [])
  assert.deepEqual(ids(q), ['1', '2'])
  assert.equal(q[0].f, 0)
  assert.equal(q[0].n, 1) // it was sent once: a re-send counts as a retry
  assert.notEqual(ls.getItem(P + 'A'), null) // own key stays until rewritten
})

test("a live tab's queue is left alone; a silent one is adopted and its key removed", () => {
  const ls = new FakeStorage()
  save(ls, P + 'live', [ev('L')], NOW - STALE + 1000)
  save(ls, P + 'dead', [ev('D1', NOW - 9000), ev('D2', NOW - 8000)], NOW - STALE - 1)
  ls.setItem('other_app_key', 'x')
  const q = claim(ls, P, P + 'me', NOW, [])
  assert.deepEqual(ids(q), ['D1', 'D2'])
  assert.equal(ls.getItem(P + 'dead'), null)
  assert.notEqual(ls.getItem(P + 'live'), null)
  assert.equal(ls.getItem('other_app_key'), 'x')
})

test('claim merges by enqueue time and never returns an event twice', () => {
  const ls = new FakeStorage()
  save(ls, P + 'me', [ev('a', 10), ev('c', 30)], NOW)
  save(ls, P + 'x', [ev('b', 20), ev('a', 10), ev('d', 40)], NOW - 2 * STALE)
  const have = [ev('d', 40)]
  assert.deepEqual(ids(claim(ls, P, P + 'me', NOW, have)), ['a', 'b', 'c'])
})

test("another site's queue on the same origin is never taken", () => {
  const ls = new FakeStorage()
  const mine = P + 'pk_a.',
    theirs = P + 'pk_b.'
  save(ls, theirs + 'T1', [ev('B1')], NOW - 10 * STALE)
  save(ls, mine + 'T2', [ev('A1')], NOW - 10 * STALE)
  assert.deepEqual(ids(claim(ls, mine, mine + 'me', NOW, [])), ['A1'])
  assert.notEqual(ls.getItem(theirs + 'T1'), null)
})

test('two tabs writing at once lose nothing: each writes only its own key', () => {
  const ls = new FakeStorage()
  const a = [],
    b = []
  for (let i = 0; i < 50; i++) {
    a.push(ev('a' + i, NOW + i))
    save(ls, P + 'A', a, NOW + i)
    b.push(ev('b' + i, NOW + i))
    save(ls, P + 'B', b, NOW + i)
  }
  // Tab A closes; tab C opens after A has been silent long enough.
  const c = claim(ls, P, P + 'C', NOW + 49 + STALE + 1, [])
  assert.equal(c.length, 100)
  assert.equal(new Set(ids(c)).size, 100)
  assert.equal(Object.keys(ls).length, 0)
})

test('prune drops events past the time-to-live and the oldest beyond the cap', () => {
  const q = [ev('old', NOW - TTL - 1), ev('edge', NOW - TTL + 1), ev('new', NOW)]
  assert.deepEqual(ids(prune(q, NOW)), ['edge', 'new'])
  const big = Array.from({ length: CAP + 7 }, (_, i) => ev(String(i), NOW))
  const kept = prune(big, NOW)
  assert.equal(kept.length, CAP)
  assert.equal(kept[0].m.messageId, '7')
  assert.equal(kept[CAP - 1].m.messageId, String(CAP + 6))
})

test('split sends a list whole when the browser takes it', () => {
  const sent = []
  split([1, 2, 3, 4, 5], (l) => (sent.push(l), true))
  assert.deepEqual(sent, [[1, 2, 3, 4, 5]])
})

test('split halves what the browser refuses until each part fits', () => {
  // A beacon quota of 2 items: lists of 3+ are refused.
  const sent = [],
    tried = []
  split([1, 2, 3, 4, 5, 6, 7], (l) => (tried.push(l.length), l.length <= 2 && (sent.push(l), true)))
  assert.deepEqual(sent.flat(), [1, 2, 3, 4, 5, 6, 7])
  assert.ok(sent.every((l) => l.length <= 2))
  assert.deepEqual(tried, [7, 3, 1, 2, 4, 2, 2])
})

test('split gives up on a single event the browser refuses, and goes on with the rest', () => {
  const sent = []
  split(['big', 'a', 'b'], (l) => !l.includes('big') && (sent.push(...l), true))
  assert.deepEqual(sent, ['a', 'b'])
})

test('bounded keeps the newest `cap` items and reports each drop', () => {
  const b = []
  let dropped = 0
  for (let i = 0; i < 105; i++) dropped += bounded(b, i, 100)
  assert.equal(dropped, 5)
  assert.equal(b.length, 100)
  assert.equal(b[0], 5)
  assert.equal(b[99], 104)
})

test('a full localStorage makes save throw (the tag catches it and keeps the queue in memory)', () => {
  const ls = new FakeStorage(100)
  assert.throws(() => save(ls, P + 'A', Array.from({ length: 20 }, (_, i) => ev(String(i))), NOW), /quota/)
})
