"""Markov chain attribution, solved with linear algebra (no simulation: the same input gives
the same credits on every run): LU up to DENSE_STATES states, above that the same linear
system by sparse fixed-point iteration x <- r + Q x to a relative change under 1e-13.

States: start, one state per observed tuple of the last k channels (order k; a path's
first states hold fewer than k), and the absorbing conversion and null.  Consecutive
identical channels of a path are collapsed first.  Transition probabilities are the
observed transition counts over all converting and non-converting paths, normalised per
state.  P(conversion) solves (I - Q) x = r with r the one-step conversion probabilities;
it equals observed conversions / paths (flow conservation of the estimated chain).

Removal effect of channel c: RE_c = 1 - P_c / P, where P_c is P with every state whose
tuple contains c removed (transitions into them go to null).  Conversion credit:
C * RE_c / sum(RE).

Value: a conversion's value is taken as the mean value of the conversions whose paths end
in the same state, so the chain's expected value E solves the same system with
r_v(s) = (value of conversions ending in s) / visits(s) and equals V / paths.  Value credit:
V * (E - E_c) / sum over channels of (E - E_c).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collector.attribution.paths import PathData

DENSE_STATES = 1000  # up to here: LU (np.linalg.solve); above: sparse fixed-point iteration
MAX_STATES = 200_000
TOLERANCE = 1e-13


class TooManyStates(ValueError):
    pass


@dataclass
class Chain:
    """Transient states 0..S-1 (channel tuples) and S (start); Q as sparse edges."""

    src: np.ndarray  # edge origin state
    dst: np.ndarray  # edge target state
    prob: np.ndarray  # transition probability
    r: np.ndarray  # (S+1, 2): one-step conversion probability, and conversion value per visit
    contains: np.ndarray  # (channels, S+1) bool: state s holds channel c (start holds none)
    states: list[tuple[int, ...]]  # channel indices of each state, oldest first

    @property
    def size(self) -> int:
        return len(self.r)


def collapse(pd: PathData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(channel per kept touch, its path, its position) with consecutive repeats removed."""
    owner = pd.path_of_touch()
    keep = pd.position() == 0
    keep[1:] |= pd.flat[1:] != pd.flat[:-1]
    flat, own = pd.flat[keep], owner[keep]
    starts = np.searchsorted(own, np.arange(pd.n))
    return flat, own, np.arange(len(flat)) - starts[own]


def build_chain(pd: PathData, order: int) -> Chain:
    k = len(pd.channels)
    base = k + 1
    if base ** order >= 2 ** 62:
        raise TooManyStates(f"order {order} over {k} channels cannot be encoded; lower markov_order")
    flat, own, pos = collapse(pd)
    code = np.zeros(len(flat), np.int64)
    for j in range(order):  # digit j: the channel j steps back (+1), 0 before the path start
        prev = np.zeros(len(flat), np.int64)
        if j < len(flat):
            prev[j:] = flat[:len(flat) - j] + 1
        code += np.where(pos >= j, prev, 0) * base ** j
    uniq, sid = np.unique(code, return_inverse=True)
    n = len(uniq) + 1  # + start
    if n - 1 > MAX_STATES:
        raise TooManyStates(f"{n - 1} Markov states (limit {MAX_STATES}); lower markov_order "
                            "or use a coarser channel")
    start = n - 1
    weight = pd.conv + pd.nulls
    first = pos == 0
    same = own[1:] == own[:-1]
    src = np.concatenate([np.full(int(first.sum()), start), sid[:-1][same]])
    dst = np.concatenate([sid[first], sid[1:][same]])
    w = np.concatenate([weight[own[first]], weight[own[1:][same]]])
    edges, inv = np.unique(src * n + dst, return_inverse=True)
    counts = np.bincount(inv.reshape(-1), weights=w, minlength=len(edges))
    src, dst = edges // n, edges % n
    last = np.append(~same, True) if len(flat) else np.zeros(0, bool)
    to_conv = np.bincount(sid[last], weights=pd.conv[own[last]], minlength=n)
    to_null = np.bincount(sid[last], weights=pd.nulls[own[last]], minlength=n)
    value_end = np.bincount(sid[last], weights=pd.value[own[last]], minlength=n)
    out = np.bincount(src, weights=counts, minlength=n) + to_conv + to_null
    out_safe = np.where(out > 0, out, 1.0)
    r = np.stack([to_conv / out_safe, value_end / out_safe], axis=1)
    digits = [[(int(c) // base ** j) % base - 1 for j in reversed(range(order))] for c in uniq]
    states = [tuple(d for d in ds if d >= 0) for ds in digits]
    contains = np.zeros((k, n), bool)
    for s, chans in enumerate(states):
        contains[list(chans), s] = True
    return Chain(src, dst, counts / out_safe[src], r, contains, states)


def absorb(chain: Chain, keep: np.ndarray | None = None) -> tuple[float, float]:
    """(P(conversion), expected value) from start; transitions into states outside `keep`
    go to null.  Solves (I - Q) x = r: LU when small, else x <- r + Q x to convergence."""
    n = chain.size
    keep = np.ones(n, bool) if keep is None else keep
    live = keep[chain.src] & keep[chain.dst]
    src, dst, prob = chain.src[live], chain.dst[live], chain.prob[live]
    r = np.where(keep[:, None], chain.r, 0.0)
    if n <= DENSE_STATES + 1:
        idx = np.flatnonzero(keep)
        pos = np.full(n, -1)
        pos[idx] = np.arange(len(idx))
        a = np.eye(len(idx))
        np.add.at(a, (pos[src], pos[dst]), -prob)
        x = np.linalg.solve(a, r[idx])
        return float(x[pos[n - 1], 0]), float(x[pos[n - 1], 1])
    x = r.copy()
    for _ in range(1_000_000):
        nxt = r + np.stack([np.bincount(src, weights=prob * x[dst, j], minlength=n) for j in (0, 1)], axis=1)
        done = np.max(np.abs(nxt - x)) <= TOLERANCE * max(1.0, float(np.max(np.abs(nxt))))
        x = nxt
        if done:
            break
    return float(x[n - 1, 0]), float(x[n - 1, 1])


def removal_effects(pd: PathData, order: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(removal effect per channel, expected value lost per channel, P(conversion))."""
    k = len(pd.channels)
    if pd.conv.sum() <= 0:
        return np.zeros(k), np.zeros(k), 0.0
    chain = build_chain(pd, order)
    p, e = absorb(chain)
    re = np.zeros(k)
    lost = np.zeros(k)
    for c in range(k):
        if not chain.contains[c].any():
            continue
        pc, ec = absorb(chain, ~chain.contains[c])
        re[c] = 1.0 - pc / p if p > 0 else 0.0
        lost[c] = e - ec
    return re, lost, p


def markov(pd: PathData, order: int = 1) -> tuple[tuple[np.ndarray, np.ndarray], dict[str, object]]:
    re, lost, p = removal_effects(pd, order)
    total_c, total_v = float(pd.conv.sum()), float(pd.value.sum())
    conv = total_c * re / re.sum() if re.sum() > 0 else np.zeros_like(re)
    if lost.sum() > 0:
        val = total_v * lost / lost.sum()
    else:  # no value signal (e.g. all values 0): value follows conversion credit
        val = total_v * conv / total_c if total_c > 0 else np.zeros_like(re)
    info = {"conversion_probability": p,
            "removal_effects": {pd.channels[c]: float(re[c]) for c in range(len(re))}}
    return (conv, val), info
