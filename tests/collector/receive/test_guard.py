"""The connection guard (collector/receive/guard.py) on a real uvicorn: a read deadline and
a header size limit, which a bare uvicorn does not have (found in QA: ~2,000 idle sockets
put every endpoint at 503 for good; a 300 MB header was read and accepted)."""

from __future__ import annotations

import socket
import time

import httpx

ENV = {"FOOTPATH_READ_TIMEOUT_S": "2", "FOOTPATH_MAX_HEADER_BYTES": "8192"}


def _connect(lc) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", lc.port), timeout=15)
    return s


def _answer(s: socket.socket) -> bytes:
    """What the server sends until it closes the connection (or 15 s pass); closes it here too."""
    out = b""
    with s:
        while chunk := s.recv(65536):
            out += chunk
    return out


def _post_head(lc, length: int) -> bytes:
    return (f"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n").encode()


def test_a_connection_that_sends_nothing_or_half_a_request_is_closed_after_the_deadline(live_collector_factory):
    lc = live_collector_factory(env=ENV)
    silent, half_head, half_body = _connect(lc), _connect(lc), _connect(lc)
    half_head.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\n")
    half_body.sendall(_post_head(lc, 1000) + b"\r\n" + b'{"batch":[')
    t = time.monotonic()
    answers = [_answer(s) for s in (silent, half_head, half_body)]
    waited = time.monotonic() - t
    assert waited < 10, waited  # the 2 s deadline and a 1 s sweep, not the client's 15 s timeout
    assert answers[1].startswith(b"HTTP/1.1 408") and answers[2].startswith(b"HTTP/1.1 408"), answers
    assert answers[0] in (b"", ) or answers[0].startswith(b"HTTP/1.1 408"), answers[0]
    # the server is fine and serves the next client
    batch = {"batch": [{"type": "track", "event": "After", "anonymousId": "g", "messageId": "guard-1"}]}
    r = httpx.post(lc.url + "/v1/batch", json=batch, auth=(lc.write_key, ""), timeout=10)
    assert r.status_code == 200 and r.json()["accepted"] == 1


def test_a_request_within_the_deadline_is_served_even_when_it_comes_in_pieces(live_collector_factory):
    lc = live_collector_factory(env=ENV)
    body = b'{"batch":[{"type":"track","event":"Slow","anonymousId":"s","messageId":"guard-slow"}]}'
    import base64

    auth = base64.b64encode(f"{lc.write_key}:".encode()).decode()
    s = _connect(lc)
    s.sendall(_post_head(lc, len(body)) + f"Authorization: Basic {auth}\r\n".encode())
    time.sleep(0.5)
    s.sendall(b"\r\n" + body[:20])
    time.sleep(0.5)
    s.sendall(body[20:])
    with s:
        head = s.recv(65536)
    assert head.startswith(b"HTTP/1.1 200"), head


def test_headers_over_the_limit_are_a_431(live_collector_factory):
    lc = live_collector_factory(env=ENV)
    s = _connect(lc)
    s.sendall(_post_head(lc, 2) + b"X-Junk: " + b"a" * 20_000 + b"\r\n\r\n{}")
    answer = _answer(s)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    # streamed without end, the headers are cut off at the limit too, not gathered
    sent = 0
    with _connect(lc) as s:
        s.sendall(_post_head(lc, 2) + b"X-Junk: ")
        try:
            while sent < 50_000_000:
                s.sendall(b"a" * 65536)
                sent += 65536
        except OSError:
            pass  # the server closed the connection
    assert sent < 50_000_000
    r = httpx.get(lc.url + "/healthz", timeout=10)
    assert r.status_code == 200


def test_headers_over_the_limit_are_a_431_when_pipelined_or_sent_as_trailers(live_collector_factory):
    """Found in QA: a second request's head in the same read as the first request, and a
    chunked body's trailers, were not counted (100 KB and 10 MB passed)."""
    lc = live_collector_factory(env=ENV)
    s = _connect(lc)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
              + b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n")
    answer = _answer(s)
    # the connection ends with the 431 (the first request's answer may or may not come before it)
    assert b"HTTP/1.1 431" in answer and answer.count(b"HTTP/1.1 200") <= 1, answer
    s = _connect(lc)
    s.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n"
              + b"".join(b"X-T%d: %s\r\n" % (i, b"b" * 1000) for i in range(30)) + b"\r\n")
    answer = _answer(s)
    assert b"HTTP/1.1 431" in answer, answer[:300]
