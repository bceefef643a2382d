"""`footpath serve --workers N`: N edge processes buffer, one writer process owns the
embedded engine; admin requests reach the writer through any edge."""

import threading

import httpx

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
