"""Rows of one container at the same time (collector/reports/ties.py finds them, stream.
ties_ordered puts them in the report's order): found exactly when two neighbours share
both key and time, whatever else they share, compiled and as plain Python."""

from __future__ import annotations

import random

import numpy as np
import pytest

from collector.reports import ties
from collector.reports.stream import ties_ordered
from tests.reports.conftest import as_plain_python


def block(rng: random.Random, rows: int, tie_at: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (key, time) rows with distinct times inside each key, except a copy of the
    row before tie_at's time there; neighbours of other keys often share a time."""
    keys, ts = [], []
    key, t = 1, 1000
    for i in range(rows):
        if rng.random() < 0.3:
            key += 1
            t = 1000 + rng.randrange(3)  # the next key starts near the last one's times
        else:
            t += 1 + rng.randrange(3)
        if i == tie_at and keys and keys[-1] == key:
            t = ts[-1]
        keys.append(key)
        ts.append(t)
    return np.array(keys, dtype=np.uint64), np.array(ts, dtype=np.uint64)


def test_a_tie_is_two_neighbours_with_the_same_key_and_time() -> None:
    plain = as_plain_python(ties)
    assert not plain.COMPILED  # stream.ties_ordered then takes numpy's test instead of this loop
    rng = random.Random(5)
    found = {True: 0, False: 0}
    for _ in range(300):
        keys, ts = block(rng, rng.randrange(0, 60), rng.choice([None, rng.randrange(1, 60)]))
        expect = bool(((keys[1:] == keys[:-1]) & (ts[1:] == ts[:-1])).any())
        assert ties.has_ties(keys, ts) is expect
        assert plain.has_ties(keys, ts) is expect
        found[expect] += 1
    assert found[True] > 50 and found[False] > 50  # both answers were asked for
    # the same time in another container is no tie
    assert not ties.has_ties(np.array([1, 2, 3], dtype=np.uint64), np.array([7, 7, 7], dtype=np.uint64))
    assert ties.has_ties(np.array([1, 2, 2], dtype=np.uint64), np.array([7, 7, 7], dtype=np.uint64))


@pytest.mark.parametrize("compiled", [True, False])
def test_tied_rows_are_put_in_the_order_of_the_named_columns(monkeypatch: pytest.MonkeyPatch, compiled: bool) -> None:
    """Found by the compiled pass, or by numpy's test where ties.py runs as plain Python."""
    monkeypatch.setattr(ties, "COMPILED", compiled and ties.COMPILED)
    keys = np.array([1, 1, 1, 2, 2], dtype=np.uint64)
    ts = np.array([5, 5, 6, 5, 5], dtype=np.uint64)
    mask = np.array([4, 1, 2, 2, 1], dtype=np.uint16)
    out = ties_ordered([keys, ts, mask], (2,))
    assert [x.tolist() for x in out] == [[1, 1, 1, 2, 2], [5, 5, 6, 5, 5], [1, 4, 2, 1, 2]]
    untouched = [keys[2:4], ts[2:4], mask[2:4]]  # no tie: the same arrays back
    assert all(a is b for a, b in zip(ties_ordered(untouched, (2,)), untouched, strict=True))
