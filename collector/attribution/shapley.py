"""shapley_rate: the Shapley value over each converting path's distinct channel set T, with
v(S) = conversion rate of the paths whose exact distinct channel set is S (0 where no path
has that set; a path is a conversion's path or a non-converting path, as in the Markov
model).  Negative contributions are clipped to 0, then the conversions and value of the
paths with set T are shared in proportion.  Exact (every subset enumerated) up to
MAX_EXACT channels per path; larger sets fall back to equal shares (noted in the answer).
"""

from __future__ import annotations

from math import factorial

import numpy as np

from collector.attribution.paths import PathData

MAX_EXACT = 15


def channel_sets(pd: PathData) -> tuple[np.ndarray, np.ndarray]:
    """(bitmask rows (paths, words) of uint64, words) of each path's distinct channels."""
    words = max(1, (len(pd.channels) + 63) // 64)
    masks = np.zeros((pd.n, words), np.uint64)
    bits = np.left_shift(np.uint64(1), (pd.flat % 64).astype(np.uint64))
    np.bitwise_or.at(masks, (pd.path_of_touch(), pd.flat // 64), bits)
    return masks, np.array(words)


def _keys(rows: np.ndarray) -> list[bytes]:
    return [r.tobytes() for r in rows]


def shapley_values(members: list[int], rate: dict[bytes, float], words: int) -> np.ndarray:
    """Exact Shapley values of the members (channel indices) under v = rate (0 if unseen)."""
    n = len(members)
    lo = np.arange(1 << n, dtype=np.int64)
    sub = np.zeros((1 << n, words), np.uint64)
    for j, m in enumerate(members):
        sel = ((lo >> j) & 1).astype(bool)
        sub[sel, m // 64] |= np.uint64(1) << np.uint64(m % 64)
    v = np.array([rate.get(k, 0.0) for k in _keys(sub)])
    pop = np.zeros(1 << n, np.int64)
    for j in range(n):
        pop += (lo >> j) & 1
    weights = np.array([factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)])
    phi = np.zeros(n)
    for j in range(n):
        without = lo[((lo >> j) & 1) == 0]
        phi[j] = float(np.sum(weights[pop[without]] * (v[without | (1 << j)] - v[without])))
    return phi


def shapley_rate(pd: PathData) -> tuple[tuple[np.ndarray, np.ndarray], dict[str, object]]:
    k = len(pd.channels)
    conv_credit, val_credit = np.zeros(k), np.zeros(k)
    if pd.n == 0:
        return (conv_credit, val_credit), {}
    masks, words = channel_sets(pd)
    w = int(words)
    uniq, inv = np.unique(masks, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    conv = np.bincount(inv, weights=pd.conv, minlength=len(uniq))
    nulls = np.bincount(inv, weights=pd.nulls, minlength=len(uniq))
    value = np.bincount(inv, weights=pd.value, minlength=len(uniq))
    seen = conv + nulls
    rate = dict(zip(_keys(uniq), (conv / np.where(seen > 0, seen, 1)).tolist(), strict=True))
    fallback = 0
    for g in np.flatnonzero(conv > 0):
        members = [c for c in range(k) if int(uniq[g, c // 64]) >> (c % 64) & 1]
        if len(members) > MAX_EXACT:
            share = np.full(len(members), 1.0 / len(members))
            fallback += int(conv[g])
        else:
            phi = np.clip(shapley_values(members, rate, w), 0.0, None)
            share = phi / phi.sum()
        conv_credit[members] += conv[g] * share
        val_credit[members] += value[g] * share
    info: dict[str, object] = {}
    if fallback:
        info["note"] = (f"shapley_rate: {fallback} conversions had paths with more than {MAX_EXACT} "
                        "distinct channels and were shared equally")
    return (conv_credit, val_credit), info
