// Retry policy: network errors (status 0), 408, 429 and 5xx are retried; other 4xx
// are final (the batch is dropped and counted).
export const retryable = (s) => !s || s == 408 || s == 429 || s > 499

// Delay before retry number a (1, 2, ...): exponential from 1 s, capped at 30 s, with
// equal jitter (half fixed, half random), and never shorter than Retry-After in
// seconds (the form the collector sends; an HTTP date counts as absent).
export const wait = (a, ra, rnd = Math.random()) => Math.max((Math.min(3e4, 500 * 2 ** a) * (1 + rnd)) / 2, ra * 1e3 || 0)
