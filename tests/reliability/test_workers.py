"""`footpath serve --workers N`: N edge processes buffer, one writer process owns the
embedded engine; admin requests reach the writer through any edge."""

import os
import signal
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import ADMIN
from tests.reliability.test_durability import Loader, exactly_once


def test_two_edge_workers_and_one_writer(live_collector_factory):
    lc = live_collector_factory(args=("--workers", "2"))
    loader = Loader(lc)
    threads = [threading.Thread(target=lambda: [loader.send(loader.batch()) for _ in range(10)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loader.acked) == 4 * 10 * 20
    buffer_dir = lc.tmp / "data" / "buffer"
    edge_series = {p.name.split("-")[0] for p in buffer_dir.glob("e*.wal")}
    assert len(edge_series) == 2, edge_series  # both workers took traffic, each its own series
    assert exactly_once(lc, loader) == (800, 800)  # /v1/sql answered by the writer, via an edge
    assert httpx.get(lc.url + "/readyz").json() == {"ready": True, "problems": []}
    lc.stop()
    assert not list(buffer_dir.glob("e*.wal")) or all(p.stat().st_size == 0 for p in buffer_dir.glob("e*.wal"))
    lc.start()
    lc.flush()
    # the previous run's edge series are dead and drained: their files are gone
    assert not {p.name.split("-")[0] for p in buffer_dir.glob("e*.wal")} & edge_series
    assert exactly_once(lc, loader) == (800, 800)


def _resend(lc, batch: list[dict], times: int) -> list[dict]:
    """The same batch posted `times` times, each on a new connection (the kernel spreads
    connections over the edges), as a client's retries arrive."""
    out = []
    for _ in range(times):
        r = httpx.post(lc.url + "/v1/batch", json={"batch": batch}, auth=(lc.write_key, ""), timeout=10)
        assert r.status_code == 200, r.text
        out.append(r.json())
    return out


def _stored(lc, ids: list[str]) -> dict[str, tuple[int, int]]:
    """Per message id: rows in footpath.events and in the report view's table, without FINAL
    (what the views were fed)."""
    events = dict(lc.sql("SELECT message_id, count() FROM footpath.events WHERE site_id = 'test' "
                         "GROUP BY message_id"))
    steps = dict(lc.sql("SELECT anonymous_id, count() FROM footpath.report_steps WHERE site_id = 'test' "
                        "GROUP BY anonymous_id"))
    return {m: (events.get(m, 0), steps.get("dev-" + m, 0)) for m in ids}


def test_a_resend_is_stored_once_whichever_edge_takes_it_and_after_a_restart(live_collector_factory):
    """Found in QA: each edge kept its own message-id cache, so a re-send that reached the
    other edge was stored again (report_steps and the quality views keep both copies for
    good; footpath.events collapses them only at merge time), and after a restart every edge
    started cold.  The processes now share one cache, which the writer warms from storage."""
    lc = live_collector_factory(args=("--workers", "2"))
    ids = [f"dup-{i}" for i in range(5)]
    batch = [{"type": "track", "event": "Dup", "anonymousId": "dev-" + m, "messageId": m} for m in ids]
    answers = _resend(lc, batch, 12)
    assert answers[0] == {"accepted": 5, "rejected": []}
    assert all(a.get("dropped") == {"duplicate": 5} for a in answers[1:]), answers
    lc.flush()
    assert _stored(lc, ids) == {m: (1, 1) for m in ids}
    lc.stop()
    lc.start()
    lc.flush()
    answers = _resend(lc, batch, 8)
    assert all(a.get("dropped") == {"duplicate": 5} for a in answers), answers
    lc.flush()
    assert _stored(lc, ids) == {m: (1, 1) for m in ids}


def test_answers_through_an_edge_carry_one_date_and_server_header_and_no_client_log_lines(live_collector_factory):
    """Found in QA: a response proxied from the writer kept the writer's Date and Server
    headers beside the edge's own, and every forwarded request (load balancer probes of
    /readyz included) logged an httpx INFO line."""
    lc = live_collector_factory(args=("--workers", "2"))
    for path in ("/readyz", "/v1/admin/flush"):
        r = httpx.request("GET" if path == "/readyz" else "POST", lc.url + path,
                          headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30)
        assert r.status_code == 200, r.text
        assert len(r.headers.get_list("date")) == 1 and len(r.headers.get_list("server")) <= 1, r.headers
    assert "HTTP Request:" not in (lc.tmp / "serve.log").read_text()


def _writer_pid(lc) -> int:
    """The writer child of `serve --workers`: the serve process started with --public-port."""
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--public-port" in argv and str(lc.port).encode() in argv and b"serve" in argv:
            return int(proc.name)
    raise AssertionError("no writer process found")


def test_a_killed_writer_process_is_started_again_and_writes_what_the_edges_buffered(live_collector_factory):
    """Found in QA: after kill -9 of the writer process nothing noticed; the edges kept
    acknowledging into their buffers and nothing was written until a manual restart."""
    lc = live_collector_factory(args=("--workers", "2"))
    first = _writer_pid(lc)
    os.kill(first, signal.SIGKILL)
    batch = [{"type": "track", "event": "While down", "anonymousId": "w", "messageId": f"wd-{i}"} for i in range(7)]
    r = httpx.post(lc.url + "/v1/batch", json={"batch": batch}, auth=(lc.write_key, ""), timeout=10)
    assert r.status_code == 200 and r.json()["accepted"] == 7
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            lc.flush()
            break
        except Exception:  # noqa: BLE001 - 503 until the writer is back
            time.sleep(0.5)
    assert _writer_pid(lc) != first
    assert lc.sql("SELECT count() FROM footpath.events WHERE message_id LIKE 'wd-%'") == [[7]]
    log = (lc.tmp / "serve.log").read_text()
    assert f"the writer process (pid {first}) exited with code -9" in log


def _metric(text: str, name: str) -> float:
    values = [float(ln.split()[-1]) for ln in text.splitlines() if ln.startswith(name + " ")]
    assert len(values) == 1, (name, values)
    return values[0]


def test_metrics_through_an_edge_show_the_writers_storage_side(live_collector_factory):
    """Found in QA: an edge's /metrics showed its own storage-side families, which only the
    writer process updates: footpath_storage_up 0 with storage fine, no rows inserted, the
    backlog of its own series.  Ingestion counters stay the answering edge's (RELIABILITY.md)."""
    lc = live_collector_factory(args=("--workers", "2"))
    batch = [{"type": "track", "event": "M", "anonymousId": "m", "messageId": f"met-{i}"} for i in range(9)]
    assert httpx.post(lc.url + "/v1/batch", json={"batch": batch}, auth=(lc.write_key, ""), timeout=10).status_code == 200
    lc.flush()
    stored = lc.sql("SELECT count() FROM footpath.events")[0][0]
    for _ in range(4):  # whichever edge answers
        text = httpx.get(lc.url + "/metrics", timeout=10).text
        assert _metric(text, "footpath_storage_up") == 1.0
        assert _metric(text, "footpath_rows_inserted_total") >= stored >= 9
        assert _metric(text, "footpath_buffer_backlog_bytes") == 0.0
        assert text.count("# TYPE footpath_storage_up ") == 1 and "footpath_messages_received_total" in text


def test_head_through_an_edge_has_the_length_and_metrics_without_the_writer_say_so(live_collector_factory):
    """Found in QA: HEAD through an edge answered content-length 0; with the writer process
    stopped, an edge's /metrics showed its own buffer files as the backlog."""
    lc = live_collector_factory(args=("--workers", "2"))
    get = httpx.get(lc.url + "/reports", timeout=10)
    head = httpx.head(lc.url + "/reports", timeout=10)
    assert get.status_code == head.status_code == 200
    assert int(head.headers["content-length"]) == len(get.content) > 0
    pid = _writer_pid(lc)
    os.kill(pid, signal.SIGSTOP)
    try:
        text = httpx.get(lc.url + "/metrics", timeout=20).text
    finally:
        os.kill(pid, signal.SIGCONT)
    assert _metric(text, "footpath_storage_up") == 0.0
    assert "footpath_buffer_backlog_bytes" not in text and "footpath_messages_received_total" in text


def test_resends_right_after_a_restart_wait_for_the_stored_ids(live_collector_factory):
    """Found in QA: re-sends arriving in the first seconds after a restart, before the
    writer had read the stored ids into the cache, were stored again (the report views kept
    both copies).  Ingestion now waits for those ids (at most Collector.WARM_GATE_S)."""
    lc = live_collector_factory(args=("--workers", "2"))
    ids = [f"early-{i}" for i in range(300)]
    batch = [{"type": "track", "event": "Early", "anonymousId": "dev-" + m, "messageId": m} for m in ids]
    for k in range(0, 300, 100):
        r = httpx.post(lc.url + "/v1/batch", json={"batch": batch[k:k + 100]}, auth=(lc.write_key, ""), timeout=10)
        assert r.status_code == 200 and r.json()["accepted"] == 100
    lc.flush()
    lc.stop()
    lc.start(wait_ready=False)  # as soon as the edges answer, not once /readyz says ready
    for k in range(0, 300, 100):
        r = httpx.post(lc.url + "/v1/batch", json={"batch": batch[k:k + 100]}, auth=(lc.write_key, ""), timeout=30)
        assert r.status_code == 200 and r.json().get("dropped") == {"duplicate": 100}, r.text
    lc.flush()
    assert _stored(lc, ids) == {m: (1, 1) for m in ids}
