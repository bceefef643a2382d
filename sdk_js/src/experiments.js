// Deterministic assignment, identical to collector/experiments/assign.py:
// fmix32(fnv1a32(utf8(experiment + ':' + unit))) / 2^32, then the variant whose share of
// [0, 1) holds it (cumulative weights summed in the same order as in Python).
export const bucket = (exp, unit) => {
  let h = 0x811c9dc5
  for (const b of new TextEncoder().encode(exp + ':' + unit)) h = Math.imul(h ^ b, 0x01000193)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return (h >>> 0) / 4294967296
}

export const pick = (u, weights) => {
  let total = 0,
    acc = 0
  for (const w of weights) total += w
  if (total <= 0) return 0
  for (let i = 0; i < weights.length; i++) if (u < (acc += weights[i] / total)) return i
  return weights.length - 1
}
