"""The HTTP connection guard: uvicorn's httptools protocol with a read deadline and a
header size limit, which uvicorn itself does not have (found in QA).

- Without a deadline, a client that opened a connection and sent nothing, or half a
  request's headers, or a body slower than a byte a minute, held its place for good: about
  2,000 such sockets (uvicorn's limit_concurrency) put every endpoint at 503, with no key
  needed.  Now a connection must start a request within read_timeout_s of connecting, and
  deliver the request's headers and body within read_timeout_s of its first byte; else it
  is answered 408 (where no response has started) and closed.  Idle keep-alive
  connections between requests are uvicorn's (timeout_keep_alive), and a request whose
  body has arrived is never timed here, however long its answer takes.
- Without a header limit, httptools gathered headers of any size (a 300 MB header was
  read and accepted).  Now the request line and headers together may take max_header_bytes;
  beyond, 431 and the connection is closed.

The deadline costs a clock read per request: one timer per process (every second) closes
the connections past it, instead of a timer per request.  A determined client can still
open many connections within the deadline: in front of the public internet, run a proxy
that buffers requests (docs/deployment.md)."""

from __future__ import annotations

import asyncio
from time import monotonic
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

SWEEP_SECONDS = 1.0


class Limits:
    """Set once per process from the settings (configure); read by every connection."""

    read_timeout = 15.0
    max_header_bytes = 64 * 1024


def configure(read_timeout_s: float, max_header_bytes: int) -> None:
    Limits.read_timeout = float(read_timeout_s)
    Limits.max_header_bytes = int(max_header_bytes)


def _sweep(loop: asyncio.AbstractEventLoop, connections: set[Any]) -> None:
    now = monotonic()
    for c in list(connections):
        since = getattr(c, "_since", None)
        if since is not None and now - since > Limits.read_timeout:
            c.timed_out()
    loop.call_later(SWEEP_SECONDS, _sweep, loop, connections)


def _reply(status: bytes, text: str) -> bytes:
    body = text.encode()
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body)


class GuardedHttpTools(HttpToolsProtocol):
    """HttpToolsProtocol with the deadline and the header limit (module doc).  _since: when
    the request being read began (or the connection, before its first request); None while
    no request is being read."""

    _since: float | None = None
    _in_head = True
    _head_bytes = 0
    _tail = b""  # the last bytes of an unfinished head: its end may be split across reads
    _parsed = 0  # bytes of the request line, headers and trailers the parser handed over
    _answered = False  # this guard answered (408/431): uvicorn's own 400 for the parser error is not sent

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._since = monotonic()
        if not getattr(self.server_state, "footpath_swept", False):  # one sweep per server
            self.server_state.footpath_swept = True  # type: ignore[attr-defined]
            self.loop.call_later(SWEEP_SECONDS, _sweep, self.loop, self.connections)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self._in_head:  # counted before the parser sees them: it gathers headers of any size
            buf = self._tail + data
            end = buf.find(b"\r\n\r\n")
            size = self._head_bytes + (end + 4 - len(self._tail) if end >= 0 else len(data))
            if size > Limits.max_header_bytes:
                self._close_with(b"431 Request Header Fields Too Large",
                                 f"request line and headers over {Limits.max_header_bytes:,} bytes")
                return
            if end < 0:
                self._head_bytes, self._tail = size, buf[-3:]
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._since = monotonic()
        self._parsed = 0

    # What the parser hands over is counted too: a head that starts in the read that ended
    # the request before it (pipelining) and a chunked body's trailers escape the count
    # above (found in QA: 100 KB headers pipelined, 10 MB of trailers).
    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._count(len(name) + len(value) + 4)

    def _count(self, n: int) -> None:
        self._parsed += n
        if self._parsed > Limits.max_header_bytes:
            self._close_with(b"431 Request Header Fields Too Large",
                             f"request line and headers over {Limits.max_header_bytes:,} bytes")
            raise HeadersTooLarge  # stops the parser; uvicorn's answer to a parser error is skipped

    def send_400_response(self, msg: str) -> None:
        if not self._answered:
            super().send_400_response(msg)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._since = None
        self._in_head, self._head_bytes, self._tail = True, 0, b""

    def timed_out(self) -> None:
        self._since = None
        if not self.transport.is_closing():
            self._close_with(b"408 Request Timeout",
                             f"the request did not arrive within {Limits.read_timeout:g} s")

    def _close_with(self, status: bytes, text: str) -> None:
        """Answer status where no response has started on this connection, then close it."""
        self._answered = True
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
            self.transport.write(_reply(status, text))
        self.transport.close()


class HeadersTooLarge(Exception):
    """Raised from a parser callback once the headers pass max_header_bytes (answered 431)."""
