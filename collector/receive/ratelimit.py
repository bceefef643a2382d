"""Token buckets per site (events/s) and per client IP (requests/s), so overload turns
into 429 + Retry-After before latency explodes.  Client buckets live in a bounded LRU:
memory stays flat however many addresses show up."""

from __future__ import annotations

import math
import time
from collections import OrderedDict


class Bucket:
    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()

    def take(self, n: float) -> float:
        """0 when allowed, else seconds until n tokens would be available."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= n:
            self.tokens -= n
            return 0.0
        return (n - self.tokens) / self.rate


class RateLimiter:
    def __init__(self, max_clients: int = 100_000):
        self.sites: dict[str, Bucket] = {}
        self.clients: OrderedDict[tuple[str, str], Bucket] = OrderedDict()
        self.max_clients = max_clients

    def check(self, site_id: str, site_rate: int, client: str, client_rate: int, events: int) -> int:
        """Seconds to wait (Retry-After), or 0 when the request may proceed."""
        if client_rate > 0:
            key = (site_id, client)
            b = self.clients.get(key)
            if b is None:
                b = self.clients[key] = Bucket(client_rate, client_rate * 2)
                if len(self.clients) > self.max_clients:
                    self.clients.popitem(last=False)
            else:
                self.clients.move_to_end(key)
            wait = b.take(1)
            if wait:
                return max(1, math.ceil(wait))
        if site_rate > 0:
            b = self.sites.get(site_id)
            if b is None:
                b = self.sites[site_id] = Bucket(site_rate, site_rate * 2)
            wait = b.take(min(events, b.burst))
            if wait:
                return max(1, math.ceil(wait))
        return 0
