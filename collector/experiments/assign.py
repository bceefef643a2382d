"""Deterministic assignment, identical in Python and in the tag (sdk_js/src/experiments.js).

bucket(experiment, unit) = fmix32(fnv1a32(utf8("experiment:unit"))) / 2**32, a number in
[0, 1).  FNV-1a is cheap to write the same way in both languages; murmur3's finaliser
(fmix32) then spreads every input bit over the whole word, so ids that differ only in
their last character land far apart and buckets of different experiments are independent.
A variant owns the interval [sum of the weights before it, + its weight) / total weight;
the cumulative sums are computed in the same order in both languages (IEEE doubles), so
the two agree on every id."""

from __future__ import annotations

from collections.abc import Sequence

_M32 = 0xFFFFFFFF


def fnv1a32(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & _M32
    return h


def fmix32(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    h ^= h >> 16
    return h


def bucket(experiment: str, unit: str) -> float:
    """The unit's position in [0, 1) for this experiment."""
    return fmix32(fnv1a32(f"{experiment}:{unit}".encode())) / 4294967296.0


def pick(u: float, weights: Sequence[float]) -> int:
    """Index of the variant whose share of [0, 1) holds u."""
    total = 0.0
    for w in weights:
        total += w
    if total <= 0:
        return 0
    acc = 0.0
    for i, w in enumerate(weights):
        acc += w / total
        if u < acc:
            return i
    return len(weights) - 1


def assign(experiment: str, unit: str, weights: Sequence[float]) -> int:
    """Variant index for a unit (user id when known, else anonymous id)."""
    return pick(bucket(experiment, unit), weights)
