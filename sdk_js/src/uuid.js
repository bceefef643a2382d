// UUIDv7 (RFC 9562): 48-bit Unix time in ms, version 7, variant 10, 74 random bits.
// Ids made later sort after ids made earlier (to the millisecond), which keeps
// ClickHouse primary keys and dedupe windows friendly. getRandomValues, unlike
// randomUUID, also works on plain-http pages.
// Digit k (0-11) of the time is (t / 16^(11-k)) & 15: & keeps the low 32 bits of the
// integer part, exact for any t below 2^53. A random digit is r & 15 in place of a 0,
// 8 | r & 3 (variant 10) in place of the 8.
// i and r are working state: call with the time or nothing.
export const uuid7 = (t = Date.now(), i = 0, r = crypto.getRandomValues(new Uint8Array(32))) =>
  '00000000-0000-7000-8000-000000000000'.replace(/[08]/g, (c) => ((i < 12 ? t / 16 ** (11 - i++) : c ^ (r[i++] & (15 >> (c / 4)))) & 15).toString(16))
