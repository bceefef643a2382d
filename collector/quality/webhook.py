"""Alert webhooks: POST JSON, retried with exponential backoff, in order per URL.

One background thread; each URL has its own FIFO so a dead endpoint delays only its own
messages (a site's "resolved" never overtakes its "firing").  Retried: connection errors,
timeouts, 408, 425, 429 and 5xx (Retry-After honoured up to the backoff cap); any other
answer is final.  Every body carries `delivery_id` (also sent as Idempotency-Key), the
same on every attempt, so a receiver can drop a retry of a message it already has.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from collector.ops import metrics

log = logging.getLogger("footpath.quality.webhook")
RETRYABLE = {408, 425, 429}


@dataclass
class Delivery:
    url: str
    body: dict[str, Any]
    first_at: float = 0.0  # its first attempt: the retry window starts there, not in the queue
    next_at: float = 0.0
    attempts: int = 0


class WebhookSender:
    def __init__(self, base_delay: float = 1.0, max_delay: float = 300.0, give_up_after: float = 3600.0,
                 timeout: float = 10.0):
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.give_up_after = give_up_after
        self.timeout = timeout
        self._queues: dict[str, deque[Delivery]] = {}
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.delivered: list[dict[str, Any]] = []  # the last bodies delivered (for the report and tests)
        self.last_failure: str | None = None  # the last delivery given up on (for the report)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="footpath-webhook", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def send(self, url: str, body: dict[str, Any]) -> None:
        with self._cond:
            self._queues.setdefault(url, deque()).append(Delivery(url, body))
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return sum(len(q) for q in self._queues.values())

    # -- the loop ----------------------------------------------------------------------
    def _due(self) -> tuple[list[Delivery], float]:
        now = time.monotonic()
        due, wait = [], 1.0
        for q in self._queues.values():
            if q:
                head = q[0]
                if head.next_at <= now:
                    due.append(head)
                else:
                    wait = min(wait, head.next_at - now)
        return due, wait

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout, headers={"User-Agent": "footpath-alerts"}) as client:
            while True:
                with self._cond:
                    due, wait = self._due()
                    while not due and not self._stop:
                        self._cond.wait(wait)
                        due, wait = self._due()
                    if self._stop:
                        return
                for d in due:
                    self._attempt(client, d)

    def _attempt(self, client: httpx.Client, d: Delivery) -> None:
        d.attempts += 1
        if d.attempts == 1:  # (a delivery queued behind a failing one got one try after its wait; QA)
            d.first_at = time.monotonic()
        retry_after = 0.0
        try:
            r = client.post(d.url, content=orjson.dumps(d.body),
                            headers={"Content-Type": "application/json",
                                     "Idempotency-Key": str(d.body.get("delivery_id", ""))})
            status = r.status_code
            ok = 200 <= status < 300
            retry = not ok and (status >= 500 or status in RETRYABLE)
            if retry:
                try:
                    retry_after = float(r.headers.get("retry-after", "0"))
                except ValueError:
                    retry_after = 0.0
            why = f"HTTP {status}"
        except httpx.HTTPError as e:
            ok, retry, why = False, True, type(e).__name__
        if ok:
            metrics.QUALITY_WEBHOOK.labels("delivered").inc()
            self._done(d)
            self.delivered.append(d.body)
            del self.delivered[:-100]
            return
        elapsed = time.monotonic() - d.first_at
        if retry and elapsed < self.give_up_after:
            delay = min(self.base_delay * 2 ** (d.attempts - 1), self.max_delay)
            d.next_at = time.monotonic() + min(max(delay, retry_after), self.max_delay)
            metrics.QUALITY_WEBHOOK.labels("retry").inc()
            log.warning("alert webhook %s: %s, attempt %d, retrying in %.1fs", d.url, why, d.attempts,
                        d.next_at - time.monotonic())
            return
        metrics.QUALITY_WEBHOOK.labels("failed").inc()
        self.last_failure = (f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {d.url}: {why} after "
                             f"{d.attempts} attempt(s), {d.body.get('delivery_id')} given up")
        log.error("alert webhook %s: %s after %d attempt(s); giving up on %s", d.url, why, d.attempts,
                  d.body.get("delivery_id"))
        self._done(d)

    def _done(self, d: Delivery) -> None:
        with self._cond:
            q = self._queues.get(d.url)
            if q and q[0] is d:
                q.popleft()
