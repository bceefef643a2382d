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
import fcntl
import itertools
import mmap
import os
import threading
from array import array
from collections.abc import Iterable
from typing import Any

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


def _remove(slots: Any, mask: int, k: int) -> None:
    """Marks key k removed from one table, if it is there.  _GONE keeps later keys of the
    probe chain reachable; the slot stays counted in n, so a table never fills with removed
    keys."""
    i = k & mask
    while (v := slots[i]) != _EMPTY:
        if v == k:
            slots[i] = _GONE
            return
        i = (i + 1) & mask


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

    warmed = False  # the ids stored before this start are in (or the warm-up gave up)

    def mark_warmed(self) -> None:
        self.warmed = True

    def seen_or_add_many(self, pairs: Iterable[tuple[str, str]]) -> int:
        """seen_or_add for each (site_id, message_id) (the start-up warm-ups); returns how many."""
        n = 0
        for site_id, message_id in pairs:
            self.seen_or_add(site_id, message_id)
            n += 1
        return n

    def forget(self, site_id: str, message_id: str) -> None:
        """Undo an add when the buffer append failed (the sender will retry)."""
        k = _key(site_id, message_id)
        with self._lock:
            for t in (self._cur, self._old):
                _remove(t.slots, t.mask, k)

    def __len__(self) -> int:
        """Slots taken (ids added, a forgotten one included until its table rotates out)."""
        return self._cur.n + self._old.n

    @property
    def table_bytes(self) -> int:
        return 2 * len(self._cur.slots) * self._cur.slots.itemsize


class SharedRecentIds(RecentIds):
    """RecentIds in a file every process of `serve --workers` maps, so a re-send that
    reaches another edge than the first send (the kernel spreads connections over the
    edges), or any edge after a restart (the writer process warms the table from storage),
    is still recognised.  Per process the edges used to keep their own cache: such a
    re-send was stored again, and while footpath.events collapses it at merge time, the
    report and quality views kept both copies for good.

    The file: a header of three int64 (which table is current, its keys, 1 once the writer
    process warmed it from storage) and the two tables.
    Every call takes an exclusive flock on it (one uncontended lock and unlock, ~2 us) as
    well as the process's own thread lock.  Keys are Python's str hash, which is salted per
    process: `serve --workers` gives its writer and edges one PYTHONHASHSEED (a random
    one per start), so they agree on the keys.  create() makes the file (the supervising
    process, before it starts the others); each process then maps it."""

    HEADER = 24

    def __init__(self, path: str, capacity: int):
        self.half = max(capacity // 2, 1)
        self.size = 1 << max(4, (2 * self.half - 1).bit_length())
        self._fd = os.open(path, os.O_RDWR)
        need = self.HEADER + 2 * 8 * self.size
        if os.fstat(self._fd).st_size != need:
            os.close(self._fd)
            raise ValueError(f"{path} holds another capacity than {capacity:,} ids")
        self._map = mmap.mmap(self._fd, need)
        view = memoryview(self._map)
        self._head = view[:self.HEADER].cast("q")
        self._tables = (view[self.HEADER:self.HEADER + 8 * self.size].cast("q"),
                        view[self.HEADER + 8 * self.size:].cast("q"))
        self._lock = threading.Lock()

    @classmethod
    def create(cls, path: str, capacity: int) -> None:
        """A new, empty file for `capacity` ids (sparse: pages are taken as keys land)."""
        half = max(capacity // 2, 1)
        size = 1 << max(4, (2 * half - 1).bit_length())
        with open(path, "wb") as f:
            f.truncate(cls.HEADER + 2 * 8 * size)

    def _held(self) -> _FileLock:
        return _FileLock(self._lock, self._fd)

    def seen_or_add(self, site_id: str, message_id: str) -> bool:
        k = _key(site_id, message_id)
        with self._held():
            return self._seen_or_add(k)

    def seen_or_add_many(self, pairs: Iterable[tuple[str, str]]) -> int:
        """seen_or_add for each pair (the start-up warm-ups), taking the lock once per 4,096
        so the edges' requests are not held up for the whole warm-up; returns how many."""
        n = 0
        it = iter(pairs)
        while chunk := [_key(s, m) for s, m in itertools.islice(it, 4096)]:
            with self._held():
                for k in chunk:
                    self._seen_or_add(k)
            n += len(chunk)
        return n

    def _seen_or_add(self, k: int) -> bool:
        head, mask = self._head, self.size - 1
        cur = self._tables[head[0]]
        for slots in (self._tables[1 - head[0]], cur):
            i = k & mask
            while (v := slots[i]) != _EMPTY:
                if v == k:
                    return True
                i = (i + 1) & mask
        cur[i] = k
        head[1] += 1
        if head[1] >= self.half:  # the old table, emptied, becomes the current one
            old = self._tables[1 - head[0]]
            old[:] = _zeros(self.size)
            head[0], head[1] = 1 - head[0], 0
        return False

    def forget(self, site_id: str, message_id: str) -> None:
        k = _key(site_id, message_id)
        with self._held():
            for slots in self._tables:
                _remove(slots, self.size - 1, k)

    @property  # type: ignore[override]
    def warmed(self) -> bool:
        return bool(self._head[2])

    def mark_warmed(self) -> None:
        self._head[2] = 1

    def __len__(self) -> int:
        """Keys in the current table (the old table's count is not kept in the file)."""
        return int(self._head[1])

    @property
    def table_bytes(self) -> int:
        return 2 * 8 * self.size

    def close(self) -> None:
        self._head.release()
        for t in self._tables:
            t.release()
        self._map.close()
        os.close(self._fd)


def _zeros(n: int) -> memoryview:
    return memoryview(bytes(8 * n)).cast("q")


class _FileLock:
    """The thread lock, then an exclusive flock on the shared file (flock does not exclude
    the threads of one process from each other)."""

    __slots__ = ("lock", "fd")

    def __init__(self, lock: threading.Lock, fd: int):
        self.lock, self.fd = lock, fd

    def __enter__(self) -> None:
        self.lock.acquire()
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            self.lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.lock.release()
