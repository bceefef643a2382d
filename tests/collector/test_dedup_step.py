"""The dedup step: a re-sent messageId is dropped, a generated one takes no cache place."""

from datetime import UTC, datetime

import pytest

from collector import pipeline
from collector.enrich.geo import GeoIP
from collector.enrich.useragent import UAClassifier
from collector.sites import Site
from collector.validate.dedup import RecentIds, SharedRecentIds
from collector.validate.limits import Limits


def _run(recent: RecentIds, batch: list[dict]) -> pipeline.Outcome:
    sv = pipeline.Services(Limits(32768, 8, 300, 8192), GeoIP(), UAClassifier(), recent, 400, 86400)
    rq = pipeline.RequestContext(Site(id="s", public_key="pk_sss1"), "server", datetime.now(UTC), "127.0.0.1",
                                 "", False, None, True)
    return pipeline.run(rq, sv, batch)


def test_resent_ids_are_dropped_and_generated_ids_are_not_remembered() -> None:
    recent = RecentIds(1000)
    with_ids = [{"type": "track", "event": "E", "anonymousId": "a", "messageId": f"m{i}"} for i in range(3)]
    without = [{"type": "track", "event": "E", "anonymousId": "a"} for _ in range(5)]
    out = _run(recent, with_ids + without)
    assert out.accepted == 8 and len(out.rows) == 8 and not out.dropped
    assert len({r["message_id"] for r in out.rows}) == 8  # each id-less message got its own id
    assert len(recent) == 3  # only the sender's ids hold cache places
    assert out.added_ids == ["m0", "m1", "m2"]  # what a failed buffer append must forget
    again = _run(recent, with_ids + without)
    assert again.dropped == {"duplicate": 3} and len(again.rows) == 5


def test_the_shared_cache_is_one_cache_for_every_process_mapping_it(tmp_path) -> None:
    """SharedRecentIds (serve --workers): two mappings of one file, as two edge processes
    hold it, see each other's ids; the generations rotate as in RecentIds (an id is kept
    for at least capacity/2 later ids); forget undoes an add; a file made for another
    capacity is refused."""
    path = str(tmp_path / "recent_ids")
    SharedRecentIds.create(path, 40)
    a, b = SharedRecentIds(path, 40), SharedRecentIds(path, 40)
    assert a.seen_or_add("s", "m1") is False and b.seen_or_add("s", "m1") is True
    assert b.seen_or_add("t", "m1") is False  # another site's id
    assert a.seen_or_add_many([("s", f"x{i}") for i in range(20)]) == 20
    assert all(b.seen_or_add("s", f"x{i}") for i in range(20))
    for i in range(60):  # three rotations of half = 20
        b.seen_or_add("s", f"y{i}")
    assert not a.seen_or_add("s", "x0")  # long gone
    assert all(a.seen_or_add("s", f"y{i}") for i in range(40, 60))  # the last half are kept
    b.seen_or_add("s", "late")
    a.forget("s", "late")
    assert b.seen_or_add("s", "late") is False
    with pytest.raises(ValueError, match="capacity"):
        SharedRecentIds(path, 4000)
    a.close()
    b.close()
