"""footpath.events' part format (0047): an insert the size of the writer's makes a Compact
part (two files for all columns, not two per column), a large merged part is Wide.

Checked on a table created from footpath.events' own definition as the migrations left it
(SHOW CREATE TABLE), so the shared table's parts and merges are left alone."""

import os
import time
from typing import Any

import pytest

from collector.write.store import apply_migrations

ROW_BYTES = 600  # the properties text of each row: enough for > 10 MB at 20,000 rows


@pytest.fixture
def events_copy(ch: Any):
    apply_migrations(ch)  # whatever this session's engine still lacks
    ddl = ch.query("SHOW CREATE TABLE footpath.events").result_rows[0][0]
    name = f"parts_test.events_{time.time_ns()}"
    ch.command("CREATE DATABASE IF NOT EXISTS parts_test")
    ch.command(ddl.replace("footpath.events", name, 1))
    ch.command(f"SYSTEM STOP MERGES {name}")  # each insert's part stays as written
    yield name
    ch.command(f"DROP TABLE {name}")


def insert(ch: Any, table: str, rows: int, month: str) -> tuple[str, int, int, int]:
    """rows new rows in their own month (a partition of their own): its one part's format,
    rows, uncompressed bytes and files."""
    ch.command(
        f"INSERT INTO {table} (message_id, site_id, type, timestamp, received_at, properties) "
        f"SELECT toString(number), 'parts', 'track', toDateTime64('{month}-01 00:00:00', 3, 'UTC') + number, "
        f"toDateTime64('{month}-01 00:00:00', 3, 'UTC'), repeat('x', {ROW_BYTES}) FROM numbers({rows})",
        settings={"max_block_size": rows + 1, "max_insert_block_size": rows + 1, "min_insert_block_size_rows": 0,
                  "min_insert_block_size_bytes": 0})
    parts = ch.query(f"SELECT part_type, rows, data_uncompressed_bytes, path FROM system.parts WHERE active "
                     f"AND database = 'parts_test' AND table = '{table.split('.')[1]}' "
                     f"AND partition = '{month.replace('-', '')}'").result_rows
    assert len(parts) == 1, parts
    part_type, n, size, path = parts[0]
    return part_type, n, size, len(os.listdir(path))


def test_a_writer_sized_insert_makes_a_compact_part(ch, events_copy):
    part_type, rows, size, files = insert(ch, events_copy, 20_000, "2001-01")
    assert rows == 20_000
    assert size > 10 << 20  # over the default 10 MB from which a part would be Wide
    assert part_type == "Compact"
    assert files < 20  # one data file and one marks file for all columns, and metadata


def test_parts_from_262144_rows_are_wide(ch, events_copy):
    part_type, rows, _, files = insert(ch, events_copy, 262_144, "2001-02")
    assert (part_type, rows) == ("Wide", 262_144)
    assert files > 110  # two files (or more) per column of the table's 55, and the indexes
    part_type, rows, _, files = insert(ch, events_copy, 262_143, "2001-03")
    assert (part_type, rows) == ("Compact", 262_143)
