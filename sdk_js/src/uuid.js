// UUIDv7 (RFC 9562): 48-bit Unix time in ms, version 7, variant 10, 74 random bits.
// Ids made later sort after ids made earlier (to the millisecond), which keeps
// ClickHouse primary keys and dedupe windows friendly. getRandomValues, unlike
// randomUUID, also works on plain-http pages.
export const uuid7 = (t = Date.now()) => {
  let h = t.toString(16).padStart(12, '0'),
    r = crypto.getRandomValues(new Uint8Array(32)),
    i = 0
  return 'xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) =>
    i < 12 ? h[i++] : (c < 'y' ? r[i++] & 15 : 8 | (r[i++] & 3)).toString(16)
  )
}
