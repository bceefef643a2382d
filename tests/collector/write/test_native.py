"""The buffer's compact rows as Native blocks (collector/write/native.py): the engine must
store exactly what it stores when it parses the same rows as JSON itself, and any row
outside the converter's grammar must send the whole payload back to the JSON insert."""

from __future__ import annotations

import importlib.util
import random
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from collector.buffer import layouts
from collector.buffer.wal import WriteAheadBuffer, table_record
from collector.ops import metrics
from collector.write import native
from collector.write.store import apply_migrations
from collector.write.writer import INSERT_SETTINGS, Writer

COLS = layouts.columns(layouts.CURRENT)
NASTY = ['', 'plain', 'quote " and \\ backslash', 'tab\tnew\nline\rcr', '\x00nul\x01\x1f\x7f', 'é ü ß 中文',
         '😀 emoji 𝄞', '\u2028\u2029', '{"json":"in a string","n":[1,2.5,null]}', '/path/with/slashes', ' ' * 300,
         'x' * 5000]


@pytest.fixture(scope="module")
def db(ch: Any) -> Any:
    apply_migrations(ch)  # idempotent: footpath.events as the migrations make it
    return ch


def types(client: Any) -> dict[str, str]:
    return dict(client.query("SELECT name, type FROM system.columns WHERE database = 'footpath' "
                             "AND table = 'events'").result_rows)


@pytest.fixture(scope="module")
def kinds(db: Any) -> dict[str, int]:
    """Each events column's value kind, as native.plan reads the table's types."""
    return {c: native.KINDS[t][0] for c, t in types(db).items() if t in native.KINDS}


def stamp(rnd: random.Random) -> str:
    """A timestamp as the pipeline writes it (isoformat with milliseconds), sometimes with
    another UTC offset."""
    t = datetime(1972, 1, 1, tzinfo=UTC) + timedelta(milliseconds=rnd.randrange(0, 287 * 365 * 86400 * 1000))
    if rnd.random() < 0.3:
        t = t.astimezone(timezone(timedelta(minutes=rnd.choice([-720, -480, -150, 0, 330, 345, 840]))))
    return t.isoformat(timespec="milliseconds")


def random_row(rnd: random.Random, i: int, kinds: dict[str, int]) -> list[Any]:
    row: list[Any] = []
    for name in COLS:
        k = kinds[name]
        if name == "message_id":
            row.append(f"m{i:06d}")
        elif k == native.STRING:
            row.append(rnd.choice(NASTY) if rnd.random() < 0.5 else "".join(
                chr(rnd.choice([rnd.randrange(32, 127), rnd.randrange(0, 0x2FFFF)])) for _ in range(rnd.randrange(12))
            ).encode("utf-8", "ignore").decode())
        elif k == native.UINT32:
            row.append(rnd.choice([0, 1, 9, 10, 4294967295, rnd.randrange(1 << 32)]))
        elif k == native.BOOL:
            row.append(rnd.random() < 0.5)
        elif k == native.NULLABLE_DT64 and rnd.random() < 0.3:
            row.append(None)
        else:
            row.append(stamp(rnd))
    return row


def payload_of(rows: list[list[Any]]) -> bytes:
    return b"\n".join(map(orjson.dumps, rows))  # as pipeline.encode_compact writes them


def stored(client: Any, name: str, fmt: str, data: Any) -> list[tuple]:
    client.command("CREATE DATABASE IF NOT EXISTS native_test")
    table = f"native_test.{name}_{time.time_ns()}"
    client.command(f"CREATE TABLE {table} AS footpath.events ENGINE = MergeTree PARTITION BY tuple() ORDER BY message_id")
    try:
        client.raw_insert(table, COLS, insert_block=data, fmt=fmt, settings=INSERT_SETTINGS)
        return client.query(f"SELECT * FROM {table} ORDER BY message_id").result_rows
    finally:
        client.command(f"DROP TABLE {table}")


def stored_both_ways(client: Any, payload: bytes) -> tuple[list[tuple], list[tuple]]:
    """The rows the engine stores from payload parsed as JSON, and from our Native blocks."""
    p = native.plan(COLS, types(client))
    assert p is not None
    block = native.to_native(payload, p)
    assert block is not None
    return stored(client, "json", "JSONCompactEachRow", payload), stored(client, "native", "Native", block)


def test_random_rows_store_exactly_as_the_engines_json_parse_stores_them(db, kinds):
    rnd = random.Random(8)
    rows = [random_row(rnd, i, kinds) for i in range(3000)]  # several blocks of native.BLOCK rows
    as_json, as_native = stored_both_ways(db, payload_of(rows))
    assert len(as_json) == len(rows)
    assert as_native == as_json


def test_escapes_orjson_never_writes_still_mean_what_json_says(db, kinds):
    base = orjson.loads(payload_of([random_row(random.Random(1), 0, kinds)]))
    line = orjson.dumps(base).decode()
    props = COLS.index("properties")
    texts = [r'"\/ \b\f\n\r\t \" \\"', r'"\u00e9\u4e2d\ud83d\ude00 \u0000\u001F"', r'"\uD834\uDD1E"', '""']
    lines = []
    for i, text in enumerate(texts):
        row = orjson.loads(line)
        row[props] = "PLACEHOLDER"
        row[COLS.index("message_id")] = f"e{i}"
        lines.append(orjson.dumps(row).replace(b'"PLACEHOLDER"', text.encode()))
    for i, ts in enumerate(["2026-03-01T12:00:00.123Z", "2024-02-29T23:59:59.999-08:00", "2000-01-01T00:00:00.000+05:30"]):
        row = orjson.loads(line)
        row[COLS.index("message_id")] = f"t{i}"
        row[COLS.index("timestamp")] = ts
        lines.append(orjson.dumps(row))
    as_json, as_native = stored_both_ways(db, b"\n".join(lines) + b"\n\n")
    assert len(as_json) == len(lines)
    assert as_native == as_json
    stored = {r[0]: r for r in as_json}  # message_id is the first column of footpath.events
    assert stored["e1"][list(types(db)).index("properties")] == "é中😀 \x00\x1f"


@pytest.mark.parametrize(("column", "text"), [
    ("seq", "1.5"), ("seq", "-1"), ("seq", '"5"'), ("seq", "4294967296"), ("seq", "007"), ("seq", "null"),
    ("is_bot", "1"), ("is_bot", "null"), ("user_id", "null"), ("user_id", "5"), ("user_id", "true"),
    ("user_id", '"raw\ttab"'), ("user_id", r'"\x41"'), ("user_id", r'"\ud800"'), ("user_id", r'"\udc00\ud800"'),
    ("user_id", r'"\u12"'), ("timestamp", '"2026-01-01T00:00:00+00:00"'), ("timestamp", '"2026-01-01T00:00:00.123456+00:00"'),
    ("timestamp", '"2026-01-01 00:00:00.000+00:00"'), ("timestamp", '"2026-01-01T00:00:00.000"'),
    ("timestamp", '"2026-02-30T00:00:00.000Z"'), ("timestamp", '"2026-13-01T00:00:00.000Z"'),
    ("timestamp", '"2026-01-01T24:00:00.000Z"'), ("timestamp", '"1969-12-31T23:59:59.999Z"'),
    ("timestamp", '"2026-01-01T00:00:00.000+15:00"'), ("timestamp", "1767225600000"),
    ("sent_at", '"2026-01-01T00:00:00.000+0000"'),
])
def test_a_value_outside_the_grammar_sends_the_payload_to_json(db, kinds, column, text):
    good = random_row(random.Random(2), 0, kinds)
    good[COLS.index(column)] = "PLACEHOLDER"
    bad = orjson.dumps(good).replace(b'"PLACEHOLDER"', text.encode())
    p = native.plan(COLS, types(db))
    ok = payload_of([random_row(random.Random(3), 1, kinds)])
    assert native.to_native(ok, p) is not None
    assert native.to_native(ok + b"\n" + bad, p) is None


@pytest.mark.parametrize("text", [b"[", b'["a"]', b"{}", b'["unterminated', b"x", b" []"])
def test_a_line_that_is_not_a_row_of_the_layout_sends_the_payload_to_json(db, kinds, text):
    p = native.plan(COLS, types(db))
    ok = payload_of([random_row(random.Random(3), 1, kinds)])
    assert native.to_native(ok + b"\n" + text, p) is None
    assert native.to_native(ok + b" ", p) is None  # trailing bytes after a row


def test_plan_sends_low_cardinality_as_string_and_refuses_other_types():
    p = native.plan(("a", "b"), {"a": "LowCardinality(String)", "b": "UInt32"})
    assert p is not None and list(p.kinds) == [native.STRING, native.UINT32]
    assert b"\x01a\x06String" in p.heads and b"LowCardinality" not in p.heads
    assert native.plan(("a", "c"), {"a": "String", "c": "Array(String)"}) is None
    assert native.plan(("a", "missing"), {"a": "String"}) is None


def test_the_plain_python_module_writes_the_same_bytes(db, kinds):
    """The source run as plain Python (no Cython build) and the compiled module agree."""
    spec = importlib.util.spec_from_file_location("native_plain", Path(native.__file__).with_name("native.py"))
    plain = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plain)
    assert not plain.COMPILED
    rnd = random.Random(5)
    payload = payload_of([random_row(rnd, i, kinds) for i in range(40)])
    t = types(db)
    plain.BLOCK = native.BLOCK = 16
    try:
        a = plain.to_native(payload, plain.plan(COLS, t))
        b = native.to_native(payload, native.plan(COLS, t))
    finally:
        native.BLOCK = plain.BLOCK = 1024
    assert a is not None and bytes(a) == bytes(b)


class Scripted:
    """The session's engine as the writer's store (one chDB engine per process), recording
    each insert's format; fail(fmt, n) may return an exception to raise for the n-th insert
    instead of inserting.  insert=False: record only, insert nothing."""

    url = "chdb://session"
    embedded = True

    def __init__(self, client: Any, fail: Any = None, insert: bool = True):
        self.formats: list[str] = []
        outer = self

        class Client:
            def query(self, *a: Any, **k: Any) -> Any:
                return client.query(*a, **k)

            def raw_insert(self, table: str, columns: Any, insert_block: Any, fmt: str, settings: Any) -> None:
                outer.formats.append(fmt)
                error = fail(fmt, len(outer.formats)) if fail else None
                if error is not None:
                    raise error
                if insert:
                    client.raw_insert(table, columns, insert_block=insert_block, fmt=fmt, settings=settings)

        self.client = Client()

    def writer(self) -> Any:
        return self.client

    def reset(self) -> None:
        pass


def buffer_of(path: Path, rows: list[list[Any]], per_record: int = 20) -> Path:
    """A write-ahead buffer holding rows as compact records of per_record rows."""
    wal = WriteAheadBuffer(path, fsync="off")
    for i in range(0, len(rows), per_record):
        wal.append_nowait(table_record(layouts.record_key(layouts.EVENTS_TABLE, layouts.CURRENT),
                                       payload_of(rows[i:i + per_record])))
    wal.close()
    return path


def drained(store: Any, buffer: Path, **kw: Any) -> Writer:
    w = Writer(store, buffer, 100, 10, **kw)
    w.start()
    try:
        assert w.wait_idle(30), w.last_error
    finally:
        w.stop()
    return w


def test_the_writer_inserts_compact_records_as_native_and_falls_back_per_payload(db, kinds, tmp_path: Path):
    """Through the writer and a real engine: good batches go in as Native, a batch with a row
    the converter refuses goes in as JSON, and every row is stored as the JSON insert stores it."""
    site = f"native-{time.time_ns()}"
    rnd = random.Random(9)
    rows = [random_row(rnd, i, kinds) for i in range(400)]
    for r in rows:
        r[COLS.index("site_id")] = site
        r[COLS.index("timestamp")] = f"2026-01-{rnd.randrange(1, 32):02d}T{rnd.randrange(24):02d}:00:00.{rnd.randrange(1000):03d}+00:00"
    rows[250][COLS.index("timestamp")] = "2026-01-01T00:00:00+00:00"  # no milliseconds: JSON's to parse
    before = metrics.NATIVE_FALLBACKS._value.get()
    w = drained(Scripted(db), buffer_of(tmp_path / "buffer", rows), batch_bytes=40_000)  # several batches
    assert w.native_inserts >= 3
    assert metrics.NATIVE_FALLBACKS._value.get() == before + 1
    got = db.query("SELECT * FROM footpath.events WHERE site_id = {s:String} ORDER BY message_id",
                   parameters={"s": site}).result_rows
    as_json = stored(db, "json", "JSONCompactEachRow", payload_of(rows))
    assert len(got) == len(rows)
    assert got == as_json


def test_a_line_count_below_the_rows_is_refused_before_anything_is_written(db, kinds):
    rnd = random.Random(4)
    payload = payload_of([random_row(rnd, i, kinds) for i in range(30)])
    p = native.plan(COLS, types(db))
    assert native.to_native(payload, p, 30) is not None
    with pytest.raises(ValueError, match="more than the 29 lines"):
        native.to_native(payload, p, 29)


def test_insert_format_json_keeps_every_insert_json(db, kinds, tmp_path: Path):
    """The insert_format setting: json turns the Native writer off."""
    rows = [random_row(random.Random(6), i, kinds) for i in range(30)]
    for setting, want in ((False, "JSONCompactEachRow"), (True, "Native")):
        store = Scripted(db, insert=False)
        drained(store, buffer_of(tmp_path / f"buffer-{setting}", rows, per_record=30), native=setting)
        assert store.formats == [want]


def test_a_table_that_refuses_native_blocks_gets_json_from_then_on(db, kinds, tmp_path: Path, caplog):
    """A server that fails a Native insert which then takes the same rows as JSON: the rows
    go in once, and the writer sends that table JSON from then on."""
    rows = [random_row(random.Random(7), i, kinds) for i in range(60)]
    refusal = DatabaseError("Code: 70. Conversion from String to LowCardinality(String) is not supported")
    store = Scripted(db, fail=lambda fmt, n: refusal if fmt == "Native" else None, insert=False)
    w = drained(store, buffer_of(tmp_path / "buffer", rows), batch_bytes=2_000)  # a batch per record
    assert store.formats == ["Native", "JSONCompactEachRow", "JSONCompactEachRow", "JSONCompactEachRow"]
    assert w.inserted_rows == 60
    assert "inserting JSON into it from now on" in caplog.text


def test_a_connection_failure_during_a_native_insert_keeps_native(db, kinds, tmp_path: Path):
    """Storage away (a connection error) says nothing about the format: the retry is Native."""
    rows = [random_row(random.Random(7), i, kinds) for i in range(20)]
    store = Scripted(db, fail=lambda fmt, n: OperationalError("connection refused") if n == 1 else None,
                     insert=False)
    drained(store, buffer_of(tmp_path / "buffer", rows))
    assert store.formats == ["Native", "Native"]


def test_a_replay_as_json_of_rows_that_landed_as_native_is_dropped_by_the_token(db, kinds):
    rows = [random_row(random.Random(11), i, kinds) for i in range(50)]
    for r in rows:
        r[COLS.index("timestamp")] = "2026-01-02T03:04:05.678+00:00"
    payload = payload_of(rows)
    block = native.to_native(payload, native.plan(COLS, types(db)))
    table = f"native_test.replay_{time.time_ns()}"
    db.command("CREATE DATABASE IF NOT EXISTS native_test")
    # a plain MergeTree with the events table's deduplication window: nothing but the token
    # can drop the replayed rows (ReplacingMergeTree would collapse them at a merge too)
    db.command(f"CREATE TABLE {table} AS footpath.events ENGINE = MergeTree PARTITION BY tuple() "
               "ORDER BY message_id SETTINGS non_replicated_deduplication_window = 100000")
    try:
        settings = {**INSERT_SETTINGS, "insert_deduplication_token": "batch-1:footpath.events!1"}
        db.raw_insert(table, COLS, insert_block=block, fmt="Native", settings=settings)
        db.raw_insert(table, COLS, insert_block=payload, fmt="JSONCompactEachRow", settings=settings)
        assert db.query(f"SELECT count() FROM {table}").result_rows[0][0] == 50
        db.raw_insert(table, COLS, insert_block=payload, fmt="JSONCompactEachRow",
                      settings={**settings, "insert_deduplication_token": "batch-2:footpath.events!1"})
        assert db.query(f"SELECT count() FROM {table}").result_rows[0][0] == 100  # another token: new rows
    finally:
        db.command(f"DROP TABLE {table}")


def test_mutated_payloads_are_either_refused_or_stored_as_json_stores_them(db, kinds):
    """Random byte edits of a valid payload: the converter never reads or writes outside its
    buffers (a crash would end the test run), and whatever it accepts, the engine's own JSON
    parse accepts and stores identically."""
    rnd = random.Random(12)
    base = bytearray(payload_of([random_row(rnd, i, kinds) for i in range(3)]))
    p = native.plan(COLS, types(db))
    alphabet = b'"\\,[]{}:0123456789.-+eEtrufalsn \n\x00\x1f\x7f\xc3\xa9\xff' + bytes(range(97, 123))
    accepted = 0
    for _ in range(300):
        b = bytearray(base)
        for _ in range(rnd.randrange(1, 4)):
            i = rnd.randrange(len(b))
            op = rnd.random()
            if op < 0.5:
                b[i] = rnd.choice(alphabet)
            elif op < 0.75:
                del b[i]
            else:
                b.insert(i, rnd.choice(alphabet))
        block = native.to_native(bytes(b), p)
        if block is None:
            continue
        accepted += 1
        assert stored(db, "native", "Native", block) == stored(db, "json", "JSONCompactEachRow", bytes(b))
    assert accepted > 20  # the edits that keep a payload valid were exercised too
