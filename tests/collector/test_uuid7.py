"""Generated message ids: RFC 9562 UUIDv7, unique, ordered by their millisecond."""

import time
import uuid

from collector.pipeline import uuid7


def test_uuid7_layout_time_and_uniqueness() -> None:
    before = time.time_ns() // 1_000_000
    ids = [uuid7() for _ in range(20_000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    stamps = []
    for text in ids:
        u = uuid.UUID(text)
        assert str(u) == text  # canonical lower-case 8-4-4-4-12
        assert u.version == 7 and u.variant == uuid.RFC_4122
        stamps.append(u.int >> 80)  # the first 48 bits: unix milliseconds
    assert before <= stamps[0] and stamps[-1] <= after
    assert stamps == sorted(stamps)  # time-ordered across the milliseconds they span


def test_uuid7_random_bits_all_vary() -> None:
    ids = [uuid.UUID(uuid7()).int for _ in range(2_000)]
    rand_mask = (0xFFF << 64) | 0x3FFFFFFFFFFFFFFF  # rand_a (12 bits) and rand_b (62 bits)
    seen_ones = 0
    seen_zeros = 0
    for v in ids:
        seen_ones |= v & rand_mask
        seen_zeros |= ~v & rand_mask
    assert seen_ones == rand_mask and seen_zeros == rand_mask  # no random bit is stuck


def test_a_forked_child_draws_other_ids_than_its_parent() -> None:
    import os

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(r)
        os.write(w, ",".join(uuid7() for _ in range(50)).encode())
        os._exit(0)
    os.close(w)
    mine = {uuid7()[15:] for _ in range(50)}  # the random parts only (after the version digit)
    with os.fdopen(r) as f:
        theirs = {u[15:] for u in f.read().split(",")}
    os.waitpid(pid, 0)
    assert len(theirs) == 50 and not mine & theirs
