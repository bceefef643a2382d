"""A real webhook receiver on 127.0.0.1 that records what it is sent."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Receiver:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)  # every attempt: status, headers, body
    script: list[int] = field(default_factory=list)  # statuses to answer, in order; then 200

    @property
    def delivered(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.received if r["status"] == 200]

    def wait(self, n: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.time() + timeout
        while len(self.delivered) < n:
            assert time.time() < deadline, f"webhook got {self.received}"
            time.sleep(0.05)
        return self.delivered


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status = rec.script.pop(0) if rec.script else 200
            rec.received.append({"status": status, "headers": dict(self.headers), "body": body})
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{srv.server_address[1]}/hook"
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield rec
    srv.shutdown()
    srv.server_close()
