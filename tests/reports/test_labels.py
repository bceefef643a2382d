"""A path report's label list (collector/reports/labels.py) is read once per part of
report_steps and is always what a DISTINCT over the site's rows of those months gives:
after new inserts, a merge, a deletion, with another site's rows beside it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from collector.reports import labels

SITE, OTHER = "labels-site", "labels-other-site"
T0 = int(datetime(2031, 3, 5, tzinfo=UTC).timestamp() * 1000)  # a month no other test writes
MONTH = ["203103"]


class Counting:
    """The engine client, counting the queries that read labels from rows."""

    def __init__(self, client: Any):
        self.client, self.reads = client, 0

    def query(self, sql: str, **kw: Any) -> Any:
        if "FROM footpath.report_steps" in sql:
            self.reads += 1
        return self.client.query(sql, **kw)


def insert(ch: Any, site: str, rows: list[str], at: int) -> None:
    """One insert (one part): a page row per label, one session."""
    values = ", ".join(f"('{site}', {at}, {(at + i) << 21}, 0, 'page', '{lab}')" for i, lab in enumerate(rows))
    ch.command(f"INSERT INTO footpath.report_steps (site_id, ck, t, flags, key, label) VALUES {values}")


def distinct(ch: Any, site: str) -> list[str]:
    return sorted(r[0] for r in ch.query(
        "SELECT DISTINCT toString(label) FROM footpath.report_steps WHERE site_id = {s:String} "
        "AND _partition_id = '203103'", parameters={"s": site}).result_rows)


def test_labels_are_read_once_per_part_and_stay_exact(ch: Any, reports_env: Any) -> None:
    """(reports_env: the engine migrated, other sites' rows beside these.)"""
    c = Counting(ch)
    assert labels.site_labels(c, SITE, MONTH) == [] and c.reads == 0  # no part holds the month yet
    insert(ch, SITE, ["/a", "/b", "/a"], T0)
    insert(ch, OTHER, ["/other"], T0)
    assert labels.site_labels(c, SITE, MONTH) == distinct(ch, SITE) == ["/a", "/b"]
    assert c.reads == 1
    assert labels.site_labels(c, SITE, MONTH) == ["/a", "/b"] and c.reads == 1  # nothing new: no rows read
    assert labels.site_labels(c, OTHER, MONTH) == ["/other"] and c.reads == 2  # kept per site

    insert(ch, SITE, ["/c", ""], T0 + 60_000)  # a new part: only it is read
    assert labels.site_labels(c, SITE, MONTH) == distinct(ch, SITE) == ["", "/a", "/b", "/c"]
    assert c.reads == 3

    ch.command("OPTIMIZE TABLE footpath.report_steps PARTITION ID '203103' FINAL")  # one merged part
    assert labels.site_labels(c, SITE, MONTH) == distinct(ch, SITE) == ["", "/a", "/b", "/c"]
    assert c.reads == 4

    # a deletion rewrites the part under a new name: the deleted label is gone
    ch.command("ALTER TABLE footpath.report_steps DELETE WHERE site_id = {s:String} AND label = '/b'",
               parameters={"s": SITE}, settings={"mutations_sync": 2})
    assert labels.site_labels(c, SITE, MONTH) == distinct(ch, SITE) == ["", "/a", "/c"]
    assert labels.site_labels(c, OTHER, MONTH) == distinct(ch, OTHER) == ["/other"]
    assert labels.site_labels(c, SITE, []) == []


def test_a_part_merged_away_before_it_is_read_is_read_in_the_part_it_went_into(ch: Any, reports_env: Any) -> None:
    site = "labels-race-site"
    insert(ch, site, ["/x"], T0 + 7)
    insert(ch, site, ["/y", "/x"], T0 + 9)

    class MergingFirst(Counting):
        """Merges the month's parts just before the first read: the listed parts are gone."""

        def query(self, sql: str, **kw: Any) -> Any:
            if "FROM footpath.report_steps" in sql and not self.reads:
                ch.command("OPTIMIZE TABLE footpath.report_steps PARTITION ID '203103' FINAL")
            return super().query(sql, **kw)

    c = MergingFirst(ch)
    assert labels.site_labels(c, site, MONTH) == distinct(ch, site) == ["/x", "/y"]
    assert c.reads == 2  # the vanished parts, then the part they went into


def test_without_a_table_uuid_nothing_is_kept_and_the_rows_answer(ch: Any, reports_env: Any,
                                                                   monkeypatch: Any) -> None:
    """An Ordinary database gives its tables no UUID, and a re-created table would name its
    parts again: then the labels come from the rows every time."""
    site = "labels-no-uuid-site"
    insert(ch, site, ["/n", "/m"], T0 + 11)
    real = labels._parts
    monkeypatch.setattr(labels, "_parts", lambda c, p: (labels._NO_UUID, *real(c, p)[1:]))
    c = Counting(ch)
    for reads in (1, 2):
        assert labels.site_labels(c, site, MONTH) == distinct(ch, site) == ["/m", "/n"] and c.reads == reads
    assert not [k for k in labels._kept if k[0] == labels._NO_UUID]
