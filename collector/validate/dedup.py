"""Recently seen message_ids, so a client re-send (the tag's retry, a Segment library's
retry after a timeout) is acknowledged but not stored twice.  Two rotating generations
of hashed keys bound the memory (~70 bytes an id); warmed at start from ClickHouse and
the buffer, so a restart does not forget.  The insert tokens and the Replacing engine
stand behind it for anything that slips past."""

from __future__ import annotations

import threading


class RecentIds:
    def __init__(self, capacity: int):
        self.half = max(capacity // 2, 1)
        self._cur: set[int] = set()
        self._old: set[int] = set()
        self._lock = threading.Lock()

    @staticmethod
    def key(site_id: str, message_id: str) -> int:
        return hash((site_id, message_id))

    def seen_or_add(self, site_id: str, message_id: str) -> bool:
        k = hash((site_id, message_id))
        with self._lock:
            if k in self._cur or k in self._old:
                return True
            self._cur.add(k)
            if len(self._cur) >= self.half:
                self._old, self._cur = self._cur, set()
            return False

    def forget(self, site_id: str, message_id: str) -> None:
        """Undo an add when the buffer append failed (the sender will retry)."""
        k = hash((site_id, message_id))
        with self._lock:
            self._cur.discard(k)
            self._old.discard(k)

    def __len__(self) -> int:
        return len(self._cur) + len(self._old)
