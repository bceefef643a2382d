"""footpath.events_person carries every column of footpath.events, also after the table
changed: the collector re-creates the view from its migration when the columns differ."""

from __future__ import annotations

from identity.service import ensure_view_columns


def columns(ch, table: str) -> list[str]:
    return [r[0] for r in ch.query("SELECT name FROM system.columns WHERE database = 'footpath' AND table = {t:String} "
                                   "ORDER BY position", parameters={"t": table}).result_rows]


def test_view_has_every_event_column_and_is_repaired(ch, server):
    events = columns(ch, "events")
    assert columns(ch, "events_person") == events + ["person_id", "person_key"]
    ensure_view_columns(ch)  # nothing to do
    # A view made before footpath.events gained columns lacks them; simulate with a narrower view.
    ch.command("CREATE OR REPLACE VIEW footpath.events_person AS SELECT message_id, '' AS person_id, "
               "toUInt64(0) AS person_key FROM footpath.events")
    try:
        assert ensure_view_columns(ch) is True
    finally:
        ensure_view_columns(ch)
    assert columns(ch, "events_person") == events + ["person_id", "person_key"]
    assert ensure_view_columns(ch) is False
