"""Recently seen message_ids, so a client re-send (the tag's retry, a Segment library's
retry after a timeout) is acknowledged but not stored twice.  Warmed at start from
ClickHouse and the buffer, so a restart does not forget.  The insert tokens and the
Replacing engine stand behind it for anything that slips past.

Memory is fixed and taken up front: two generations, each an open-addressing table of
64-bit key hashes (8 bytes a slot, at most half full), allocated and touched when the
collector starts.  So the cache costs ~8 x capacity x 2 bytes from the first second on
(32 MiB for the default 2,000,000 ids) and the process's RSS does not creep up while it
fills, where Python sets of ints cost ~70 bytes an id and grew for as long as traffic took
to reach the bound (BENCHMARKS.md, memory soak).  When the current generation holds
capacity/2 keys it becomes the old one and the old table, zeroed, the current one: an id
is remembered for at least capacity/2 and at most capacity later ids.

A key is Python's 64-bit hash of (site_id, message_id): two different ids share one with
probability ~capacity / 2**64 per new id (~1e-13 at the default), the only way a genuine
event could be taken for a re-send."""

from __future__ import annotations

import ctypes
import threading
from array import array

_EMPTY, _GONE = 0, 1  # slot markers; keys are never 0 or 1 (see _key)


def _key(site_id: str, message_id: str) -> int:
    k = hash((site_id, message_id))
    return k + 2 if 0 <= k <= 1 else k


class _Table:
    __slots__ = ("slots", "mask", "n")

    def __init__(self, size: int):
        self.slots = array("q", bytes(8 * size))  # copying the zeros touches every page now
        self.mask = size - 1
        self.n = 0

    def clear(self) -> None:
        addr, length = self.slots.buffer_info()
        ctypes.memset(addr, 0, length * self.slots.itemsize)  # in place: no second table's worth
        self.n = 0


class RecentIds:
    def __init__(self, capacity: int):
        self.half = max(capacity // 2, 1)
        size = 1 << max(4, (2 * self.half - 1).bit_length())  # >= 2 x half: load <= 1/2
        self._cur = _Table(size)
        self._old = _Table(size)
        self._lock = threading.Lock()

    def seen_or_add(self, site_id: str, message_id: str) -> bool:
        k = hash((site_id, message_id))  # _key, inlined: once per event on the hot path
        if 0 <= k <= 1:
            k += 2
        with self._lock:
            old = self._old
            slots, mask = old.slots, old.mask
            i = k & mask
            while (v := slots[i]) != _EMPTY:  # a removed key (_GONE) does not end a probe
                if v == k:
                    return True
                i = (i + 1) & mask
            cur = self._cur
            slots = cur.slots
            i = k & mask
            while (v := slots[i]) != _EMPTY:
                if v == k:
                    return True
                i = (i + 1) & mask
            slots[i] = k
            cur.n += 1
            if cur.n >= self.half:
                old.clear()
                self._old, self._cur = cur, old
            return False

    def forget(self, site_id: str, message_id: str) -> None:
        """Undo an add when the buffer append failed (the sender will retry)."""
        k = _key(site_id, message_id)
        with self._lock:
            for t in (self._cur, self._old):
                slots, mask = t.slots, t.mask
                i = k & mask
                while (v := slots[i]) != _EMPTY:
                    if v == k:
                        # _GONE keeps later keys of the probe chain reachable; the slot stays
                        # counted in n, so a table never fills with removed keys
                        slots[i] = _GONE
                        break
                    i = (i + 1) & mask

    def __len__(self) -> int:
        """Slots taken (ids added, a forgotten one included until its table rotates out)."""
        return self._cur.n + self._old.n

    @property
    def table_bytes(self) -> int:
        return 2 * len(self._cur.slots) * self._cur.slots.itemsize
