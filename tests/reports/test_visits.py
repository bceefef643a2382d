"""Session reports cut a device's rows without a session id into visits at 30-minute gaps:
the streamed rows re-keyed block by block (visits.Splitter) against a brute-force reference,
with blocks cut anywhere; the SQL of the raw table is checked against the views and the model
in test_fallout.py and test_paths.py."""

from __future__ import annotations

import itertools
import random

import numpy as np

from collector.reports import visits
from collector.reports.sources import SEQ_BITS

GAP = visits.VISIT_GAP_MS
T0 = 1_767_225_600_000


def stream(rng: random.Random, devices: int) -> list[tuple[int, int, int]]:
    """(key, packed time, split bits), sorted by key and time, as the engine streams them:
    devices with a session id (split 0) and without (bit 0), some rows activity only (bit 1)."""
    rows = []
    for key in sorted(rng.sample(range(1, 1 << 40), devices)):
        sessionless = rng.random() < 0.6
        t = T0 + rng.randrange(0, 10 * GAP)
        for _ in range(rng.randrange(1, 12)):
            t += rng.choice((0, 1, 1000, GAP - 1, GAP, GAP + 1, 3 * GAP, rng.randrange(0, 2 * GAP)))
            split = (visits.SESSIONLESS if sessionless else 0)
            if sessionless and rng.random() < 0.3:
                split |= visits.ACTIVITY_ONLY
            rows.append((key, (t << SEQ_BITS) + rng.randrange(0, 1 << 20), split))
    return rows


def reference(rows: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """(device, visit number) of each row the report keeps, in order: a new visit where more
    than GAP ms pass since the device's previous row (activity rows included)."""
    out = []
    for key, group in itertools.groupby(rows, key=lambda r: r[0]):
        visit, prev = 0, None
        for _, t, split in group:
            ms = t >> SEQ_BITS
            if split & visits.SESSIONLESS and prev is not None and ms - prev > GAP:
                visit += 1
            prev = ms
            if not split & visits.ACTIVITY_ONLY:
                out.append((key, visit))
    return out


def run(rows: list[tuple[int, int, int]], cuts: list[int]) -> tuple[list[int], list[int]]:
    """The keys and times Splitter hands on, block after block."""
    splitter = visits.Splitter()
    keys: list[int] = []
    times: list[int] = []
    for a, b in itertools.pairwise([0, *cuts, len(rows)]):
        part = rows[a:b]
        cols = [np.array([r[0] for r in part], dtype=np.uint64), np.array([r[1] for r in part], dtype=np.uint64)]
        out = splitter(cols, np.array([r[2] for r in part], dtype=np.uint8))
        keys += out[0].tolist()
        times += out[1].tolist()
    return keys, times


def same_partition(keys: list[int], ref: list[tuple[int, int]]) -> bool:
    """Neighbouring rows share a key exactly when they share a (device, visit)."""
    return all((keys[i] == keys[i + 1]) == (ref[i] == ref[i + 1]) for i in range(len(keys) - 1))


def test_visits_match_the_reference_with_blocks_cut_anywhere() -> None:
    rng = random.Random(11)
    rows = stream(rng, 300)
    ref = reference(rows)
    assert len({v for _, v in ref}) > 3  # devices with several visits are exercised
    kept = [r[1] for r in rows if not r[2] & visits.ACTIVITY_ONLY]
    for cuts in ([], *(sorted(rng.sample(range(len(rows) + 1), rng.randint(1, 80)) + [9, 9]) for _ in range(8))):
        keys, times = run(rows, cuts)
        assert times == kept  # activity-only rows are left out, the rest keep their order
        assert same_partition(keys, ref)


def test_the_gap_is_more_than_thirty_minutes_not_equal() -> None:
    t = T0 << SEQ_BITS
    ms = 1 << SEQ_BITS
    rows = [(5, t, 1), (5, t + GAP * ms, 1), (5, t + (2 * GAP + 1) * ms, 1)]  # 30:00.000, then 30:00.001
    keys, _ = run(rows, [])
    assert keys[0] == keys[1] != keys[2]
    # one row a block, and an empty block between: the visit still carries across blocks
    assert run(rows, [1, 2])[0] == keys
    assert run(rows, [2, 2])[0] == keys


def test_a_row_read_only_for_activity_keeps_the_visit_going() -> None:
    t, ms = T0 << SEQ_BITS, 1 << SEQ_BITS
    rows = [(5, t, 1), (5, t + 20 * 60_000 * ms, 1 | 2), (5, t + 40 * 60_000 * ms, 1)]
    keys, times = run(rows, [])
    assert len(keys) == 2 and keys[0] == keys[1]  # 20 + 20 minutes, not 40
    # a device with session ids is never cut, whatever its gaps
    assert len(set(run([(6, t, 0), (6, t + 5 * GAP * ms, 0)], [])[0])) == 1


def test_plain_python_source_gives_the_compiled_answers(monkeypatch) -> None:
    """Without a C compiler visitkeys runs as Python: the same keys."""
    from tests.reports.conftest import as_plain_python

    rows = stream(random.Random(5), 60)
    cuts = [7, 7, 30, 31]
    compiled = run(rows, cuts)
    monkeypatch.setattr(visits, "visitkeys", as_plain_python(visits.visitkeys))
    assert run(rows, cuts) == compiled
