"""Rule-based models and the simplified Shapley value, vectorised over distinct paths.

Each model gives every touch of a converting path a weight, the weights of one path sum
to 1, and a channel's credit is the sum of its touches' weights times the path's
conversions (and, for value, times the path's value: each conversion's value follows its
own path, and identical paths share weights).  time_decay is the exception: its weights
depend on each conversion's timing, so ClickHouse sums them per path position (paths.py).
"""

from __future__ import annotations

import numpy as np

from collector.attribution.channels import DIRECT
from collector.attribution.paths import PathData

Credit = tuple[np.ndarray, np.ndarray]  # (conversions, value) per channel index


def _spread(pd: PathData, w: np.ndarray) -> Credit:
    k = len(pd.channels)
    owner = pd.path_of_touch()
    conv = np.bincount(pd.flat, weights=w * pd.conv[owner], minlength=k)
    val = np.bincount(pd.flat, weights=w * pd.value[owner], minlength=k)
    return conv, val


def first_touch(pd: PathData) -> Credit:
    return _spread(pd, (pd.position() == 0).astype(float))


def last_touch(pd: PathData) -> Credit:
    return _spread(pd, (pd.position() == np.repeat(pd.lengths, pd.lengths) - 1).astype(float))


def last_non_direct(pd: PathData) -> Credit:
    """The last touch that is not Direct; the last touch when every touch is Direct."""
    idx = np.arange(len(pd.flat))
    direct = pd.channels.index(DIRECT) if DIRECT in pd.channels else -1
    cand = np.where(pd.flat != direct, idx, -1)
    last_nd = np.maximum.reduceat(cand, pd.offsets[:-1]) if len(cand) else cand
    chosen = np.where(last_nd >= 0, last_nd, pd.offsets[1:] - 1)
    w = np.zeros(len(pd.flat))
    w[chosen] = 1.0
    return _spread(pd, w)


def linear(pd: PathData) -> Credit:
    return _spread(pd, 1.0 / np.repeat(pd.lengths, pd.lengths))


def position_based(pd: PathData) -> Credit:
    """1 touch: 100 %; 2: 50/50; more: 40 % first, 40 % last, 20 % over the middle."""
    n = np.repeat(pd.lengths, pd.lengths).astype(float)
    pos = pd.position()
    ends = (pos == 0) | (pos == n - 1)
    middle = np.where(n > 2, 0.2 / np.maximum(n - 2, 1), 0.0)
    w = np.where(n == 1, 1.0, np.where(n == 2, 0.5, np.where(ends, 0.4, middle)))
    return _spread(pd, w)


def time_decay(pd: PathData) -> Credit:
    k = len(pd.channels)
    return (np.bincount(pd.flat, weights=pd.td_w, minlength=k),
            np.bincount(pd.flat, weights=pd.td_v, minlength=k))


def shapley(pd: PathData) -> Credit:
    """Simplified Shapley value (Zhao et al. 2018), v(S) = conversions whose distinct channel
    set lies within S.  A path of distinct set T only adds to coalitions containing T, and
    by symmetry splits its conversions equally over T: linear credit over distinct channels."""
    owner = pd.path_of_touch()
    k = max(len(pd.channels), 1)
    key = owner * k + pd.flat
    _, first = np.unique(key, return_index=True)
    w = np.zeros(len(pd.flat))
    w[first] = 1.0
    distinct = np.bincount(owner[first], minlength=pd.n).astype(float)
    return _spread(pd, w / np.maximum(distinct[owner], 1.0))


RULE_MODELS = {
    "first_touch": first_touch, "last_touch": last_touch, "last_non_direct": last_non_direct,
    "linear": linear, "position_based": position_based, "time_decay": time_decay, "shapley": shapley,
}
