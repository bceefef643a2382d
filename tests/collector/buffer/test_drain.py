"""The drain's chunked segment reader: same records, ranges and tokens as reading the whole
segment, whatever the chunk size, with torn tails and per-table records."""

from collector.buffer import drain
from collector.buffer.drain import BufferReader
from collector.buffer.wal import WriteAheadBuffer, frame, list_segments, read_records, table_record


def _fill(path):
    wal = WriteAheadBuffer(path, fsync="off", segment_bytes=4000)
    for i in range(60):
        rows = b"\n".join(b'{"i":%d,"pad":"%s"}' % (i, b"x" * (i * 7)) for _ in range(1 + i % 3))
        wal.append_nowait([rows, table_record("footpath.quarantine", b'{"q":%d}' % i)] if i % 10 == 0 else rows)
    wal.close()


def _drain_all(path, max_rows):
    reader = BufferReader(path)
    out = []
    while (b := reader.next_batch(max_rows)) is not None:
        reader.begin(b)
        out.append((b.token, b.ranges, b.payloads, b.rows))
        reader.commit(b)
    return out


def test_small_chunks_read_the_same_batches_as_large_ones(tmp_path, monkeypatch):
    _fill(tmp_path / "a")
    _fill(tmp_path / "b")
    for d in "ab":
        (tmp_path / d / "buffer_id").write_text("same-id")  # same tokens in both
    big = _drain_all(tmp_path / "a", 7)
    monkeypatch.setattr(drain, "_CHUNK", 13)  # every record spans chunks
    small = _drain_all(tmp_path / "b", 7)
    assert big == small
    rows = [ln for _, _, p, _ in big for ln in p["footpath.events"].split(b"\n")]
    assert len(rows) == sum(1 + i % 3 for i in range(60))
    assert sum(n for *_, n in big) == len(rows) + 6  # the quarantine rows count too


def test_scan_matches_read_records_and_stops_at_a_torn_tail(tmp_path, monkeypatch):
    p = tmp_path / "w0-000000000001.wal"
    good = [b'{"a":1}', table_record("footpath.x", b'{"b":2}\n{"b":3}'), b"", b'{"c":4}']
    p.write_bytes(b"".join(frame(x) for x in good) + frame(b'{"torn":1}')[:-3])
    monkeypatch.setattr(drain, "_CHUNK", 5)
    recs = list(drain._scan(p))
    assert [(r.start, r.end) for r in recs] == [(r.start, r.end) for r in read_records(p)]
    assert [(r.table, bytes(r.body), r.rows) for r in recs] == [
        ("footpath.events", b'{"a":1}', 1), ("footpath.x", b'{"b":2}\n{"b":3}', 2),
        ("footpath.events", b"", 0), ("footpath.events", b'{"c":4}', 1)]
    # a corrupt CRC ends the segment as well
    data = bytearray(p.read_bytes())
    data[recs[1].start + 10] ^= 0xFF
    p.write_bytes(bytes(data))
    assert [bytes(r.body) for r in drain._scan(p)] == [b'{"a":1}']


def test_inflight_replay_reads_exactly_the_recorded_ranges(tmp_path, monkeypatch):
    monkeypatch.setattr(drain, "_CHUNK", 11)
    _fill(tmp_path)
    r1 = BufferReader(tmp_path)
    b = r1.next_batch(20)
    r1.begin(b)
    again = BufferReader(tmp_path).pending_inflight()
    assert (again.token, again.payloads, again.rows) == (b.token, b.payloads, b.rows)
    assert len(list_segments(tmp_path)) > 1


def test_max_bytes_bounds_a_batch_across_segments(tmp_path):
    _fill(tmp_path)
    reader = BufferReader(tmp_path)
    sizes = []
    while (b := reader.next_batch(10**9, max_bytes=3000)) is not None:
        reader.begin(b)
        sizes.append(sum(end - start for _, start, end in b.ranges))
        reader.commit(b)
    # every batch but the last reached the bound, none overshot it by more than a record
    assert len(sizes) > 2
    assert all(3000 <= s < 3000 + 2000 for s in sizes[:-1]) and 0 < sizes[-1] < 3000 + 2000
