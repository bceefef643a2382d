// Session rules: a new session after 30 min idle, after 24 h in all, or when a page
// view arrives with a campaign (utm_* / click id) different from the session's own.
// s: the stored session {i: id, s: start ms, l: last ms, n: seq, c: campaign} or null;
// t: the event time; c: the campaign key of a page view ('' otherwise); id(): new id.
export const IDLE = 18e5,
  MAX = 864e5

export const tick = (s, t, c, id) => {
  if (!s || t - s.l > IDLE || t - s.s > MAX || (c && c != s.c)) s = { i: id(t), s: t, l: t, n: 0, c }
  s.n++
  if (t > s.l) s.l = t
  return s
}
