// Write-ahead queue in localStorage, safe across tabs.
//
// Each tab keeps its not-yet-acknowledged events under its own key, P + the site's
// public key + '.' + tab id (the prefix keeps two sites on one origin apart), as
// {t: last write ms, e: [{m: message, e: enqueued ms, n: sends so far, f: in flight}]}. A tab only
// ever writes its own key, so two tabs never overwrite each other's events. A tab id
// lives in sessionStorage, so a reload (or the next page in the same tab) takes its
// own leftovers back at once; a key nobody has written for STALE ms belongs to a tab
// that is gone, and the next tab to look adopts its events and removes the key. If
// an adopted tab was only asleep it writes its events back from memory: the worst
// case is a re-send, which the collector absorbs by messageId, never a loss.
export const P = 'fp_q',
  STALE = 6e4,
  CAP = 500,
  TTL = 6048e5

// Events in storage (own key `me` plus stale tabs' keys under `prefix`) that are not in `have` yet,
// oldest first, with their in-flight marks (f) cleared: whoever sent them is gone.
export const claim = (ls, prefix, me, now, have) => {
  const ids = have.map((x) => x.m.messageId),
    out = []
  Object.keys(ls).map(
    (k, v) =>
      k.startsWith(prefix) &&
      ((v = JSON.parse(ls.getItem(k))), k == me || !(v.t > now - STALE)) &&
      (v.e.map((x) => ids.includes(x.m.messageId) || (ids.push(x.m.messageId), out.push(x), (x.f = 0))), k != me && ls.removeItem(k))
  )
  return out.sort((a, b) => a.e - b.e)
}

// Without the events past their time-to-live, and the oldest beyond CAP.
export const prune = (q, now) => q.filter((x) => x.e > now - TTL).slice(-CAP)

// The shape claim() reads: {t: now, e: q}, the key removed when q is empty. (core.js
// writes the same through its own storage helper, persist(), which is smaller in t.js.)
export const save = (ls, me, q, now) => (q.length ? ls.setItem(me, JSON.stringify({ t: now, e: q })) : ls.removeItem(me))

// Hands a list to send(); when send refuses it (sendBeacon over the browser's quota),
// splits it in halves and tries again, down to single events. A refused list is cut
// in place (splice): its first half goes on as a new list, the rest stays in it.
export const split = (l, send) => send(l) || (l[1] && (split(l.splice(0, l.length / 2), send), split(l, send)))

// Bounded buffer (consent pending): appends, drops the oldest past cap; returns drops.
export const bounded = (b, m, cap) => (b.push(m) > cap ? (b.shift(), 1) : 0)
