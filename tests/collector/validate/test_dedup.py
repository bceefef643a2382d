"""The message-id cache: exact membership with the documented rotation, fixed memory."""

from __future__ import annotations

import random

import pytest

from collector.validate.dedup import RecentIds


class Model:
    """The rotation rule with Python sets: two generations, the current one turns old when
    it has taken capacity/2 ids, forget removes an id but not its place in the count."""

    def __init__(self, capacity: int):
        self.half = max(capacity // 2, 1)
        self.cur: set[tuple[str, str]] = set()
        self.old: set[tuple[str, str]] = set()
        self.used = 0

    def seen_or_add(self, site: str, mid: str) -> bool:
        k = (site, mid)
        if k in self.cur or k in self.old:
            return True
        self.cur.add(k)
        self.used += 1
        if self.used >= self.half:
            self.old, self.cur, self.used = self.cur, set(), 0
        return False

    def forget(self, site: str, mid: str) -> None:
        self.cur.discard((site, mid))
        self.old.discard((site, mid))


def test_a_resent_id_is_seen_and_another_site_is_not() -> None:
    r = RecentIds(100)
    assert r.seen_or_add("shop", "m1") is False
    assert r.seen_or_add("shop", "m1") is True
    assert r.seen_or_add("blog", "m1") is False  # ids are per site


@pytest.mark.parametrize("capacity", [2, 16, 100, 1000])
def test_random_operations_agree_with_the_rotation_model(capacity: int) -> None:
    rng = random.Random(capacity)
    r, m = RecentIds(capacity), Model(capacity)
    pool = [f"id{i}" for i in range(capacity * 3)]  # re-sends and ids old enough to be forgotten
    for step in range(capacity * 40):
        site, mid = rng.choice(("a", "b")), rng.choice(pool)
        if rng.random() < 0.05:
            r.forget(site, mid)
            m.forget(site, mid)
        else:
            assert r.seen_or_add(site, mid) == m.seen_or_add(site, mid), (step, site, mid)


def test_an_id_is_remembered_for_at_least_half_the_capacity_and_at_most_all_of_it() -> None:
    capacity = 64
    for before in range(capacity):  # where the id falls in its generation
        r = RecentIds(capacity)
        for i in range(before):
            r.seen_or_add("s", f"pre{i}")
        r.seen_or_add("s", "x")
        later = 0
        while r.seen_or_add("s", "x"):  # each check is a re-send; then one more new id
            r.seen_or_add("s", f"later{later}")
            later += 1
        assert capacity // 2 - 1 <= later <= capacity - 1, (before, later)


def test_forget_keeps_the_other_keys_of_a_probe_chain() -> None:
    r = RecentIds(64)  # 32 per generation in a 64-slot table: probe chains form
    ids = [f"m{i}" for i in range(31)]
    for mid in ids:
        assert not r.seen_or_add("s", mid)
    for gone in ids[::3]:
        r.forget("s", gone)
    for mid in ids:
        assert r.seen_or_add("s", mid) is (mid not in ids[::3]), mid


def test_memory_is_taken_at_start_and_does_not_grow() -> None:
    r = RecentIds(10_000)
    size = r.table_bytes
    assert size == 2 * 8 * 16384  # two tables of the next power of two >= capacity, 8 bytes a slot
    for i in range(50_000):  # five times the capacity: several rotations
        r.seen_or_add("s", str(i))
    assert r.table_bytes == size
    assert len(r) <= 10_000
