import { test } from 'node:test'
import assert from 'node:assert/strict'
import { tick } from '../src/session.js'

const MIN = 60 * 1000,
  HOUR = 60 * MIN
let n = 0
const id = () => 'S' + ++n
const T0 = Date.UTC(2025, 4, 1, 9, 0, 0)

// Replays a list of [time, campaign] events and returns [sessionId, seq] per event.
const run = (events, s = null) =>
  events.map(([t, c]) => {
    s = tick(s && JSON.parse(JSON.stringify(s)), t, c, id) // as stored: a JSON round trip
    return [s.i, s.n]
  })

test('a first event starts a session at seq 1, later ones count up', () => {
  n = 0
  assert.deepEqual(run([[T0, ''], [T0 + MIN, ''], [T0 + 2 * MIN, false]]), [['S1', 1], ['S1', 2], ['S1', 3]])
})

test('30 minutes idle is still the same session, a moment more is a new one', () => {
  n = 0
  const r = run([[T0, ''], [T0 + 30 * MIN, ''], [T0 + 60 * MIN + 1, ''], [T0 + 61 * MIN, '']])
  assert.deepEqual(r, [['S1', 1], ['S1', 2], ['S2', 1], ['S2', 2]])
})

test('a session never lasts more than 24 hours, however active', () => {
  n = 0
  const events = []
  for (let t = T0; t <= T0 + 25 * HOUR; t += 20 * MIN) events.push([t, ''])
  const r = run(events)
  const ids = [...new Set(r.map((x) => x[0]))]
  assert.deepEqual(ids, ['S1', 'S2'])
  // 24 h / 20 min = 72 intervals: events at 0..24h inclusive are 73 events of S1
  assert.equal(r.filter((x) => x[0] == 'S1').length, 73)
  assert.deepEqual(r[73], ['S2', 1])
})

test('a page view with a different campaign starts a new session; same or none does not', () => {
  n = 0
  const a = 'utm_source,news&utm_campaign,spring',
    b = 'utm_source,ads&utm_campaign,summer'
  const r = run([[T0, ''], [T0 + MIN, a], [T0 + 2 * MIN, ''], [T0 + 3 * MIN, a], [T0 + 4 * MIN, b], [T0 + 5 * MIN, false]])
  assert.deepEqual(r, [['S1', 1], ['S2', 1], ['S2', 2], ['S2', 3], ['S3', 1], ['S3', 2]])
})

test('an event older than the last one (clock moved back, buffered) does not end the session', () => {
  n = 0
  let s = tick(null, T0 + 10 * MIN, '', id)
  s = tick(s, T0, '', id)
  assert.equal(s.i, 'S1')
  assert.equal(s.n, 2)
  assert.equal(s.l, T0 + 10 * MIN) // last activity does not go backwards
  s = tick(s, T0 + 39 * MIN, '', id)
  assert.equal(s.i, 'S1')
})

test('the session id is made from the time of the event that starts it', () => {
  const seen = []
  tick(null, T0 + 5, '', (t) => (seen.push(t), 'x'))
  assert.deepEqual(seen, [T0 + 5])
})
