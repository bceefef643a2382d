# cython: annotation_typing=True, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The buffer's compact rows as ClickHouse Native blocks, so the engine has nothing to parse.

ClickHouse parsing the compact JSON rows was most of the writer's cost: ~4.3 of ~8 CPU us
per row with every view, against ~0.3 for the same rows in Native, its own columnar
format (BENCHMARKS.md, Writer).  The rows are JSON arrays as orjson wrote them
(collector/buffer/layouts.py), a narrow grammar: strings, unsigned integers, true/false,
null and RFC 3339 timestamps, no whitespace.  This module reads exactly that grammar
in compiled code and writes the values column by column; anything outside it (a
float, an unusual timestamp, a value of the wrong type, a torn line) returns None, and
the writer inserts that payload as JSON as before, where ClickHouse's parser stays the
judge of what is valid.  tests/collector/write/test_native.py holds both paths to the same
stored rows.

Two passes per block of up to BLOCK rows: scan() finds each value (a string's span in
the payload, a number's value), block() writes each column's values one after another
(strings unescaped).  Columns are sent as the table's own types, except
LowCardinality(String), which goes as String and is converted by the engine on insert
(input_format_native_allow_types_conversion, on by default); the engine fills columns the
layout does not name from their defaults, as with JSON.

Compiled with Cython (collector/_compiled.py).  As plain Python it gives the same bytes,
~170x slower (246 against 1.4 us a row): the writer uses it only when compiled (COMPILED)."""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    import cython

    COMPILED: bool = cython.compiled
except ImportError:  # plain Python without Cython: the annotations are never evaluated
    import contextlib
    import types

    class _NoGil(contextlib.nullcontext):  # `with cython.nogil:` and `@cython.nogil`
        def __call__(self, f: Any) -> Any:
            return f

    def _same(f: Any) -> Any:
        return f

    cython = types.SimpleNamespace(nogil=_NoGil(), cfunc=_same, inline=_same,
                                   exceptval=lambda *a, **k: _same)
    COMPILED = False

# value kinds, by the table's column type
STRING = 0
UINT32 = 1
BOOL = 2
DT64 = 3  # DateTime64(3, 'UTC'): milliseconds since the epoch, Int64
NULLABLE_DT64 = 4
KINDS: dict[str, tuple[int, str]] = {  # type -> kind, type name sent in the block
    "String": (STRING, "String"),
    "LowCardinality(String)": (STRING, "String"),
    "UInt32": (UINT32, "UInt32"),
    "Bool": (BOOL, "Bool"),
    "DateTime64(3, 'UTC')": (DT64, "DateTime64(3, 'UTC')"),
    "Nullable(DateTime64(3, 'UTC'))": (NULLABLE_DT64, "Nullable(DateTime64(3, 'UTC'))"),
}
BLOCK = 1024  # rows per Native block: its payload and spans stay in the CPU caches (4096: +10 % time)
MIN_YEAR, MAX_YEAR = 1971, 2260  # timestamps outside: JSON (the engine's DateTime64 range rules)

# the same as C constants, for the code that runs without the GIL
_STRING = cython.declare(cython.int, STRING)
_UINT32 = cython.declare(cython.int, UINT32)
_BOOL = cython.declare(cython.int, BOOL)
_DT64 = cython.declare(cython.int, DT64)
_NULLABLE_DT64 = cython.declare(cython.int, NULLABLE_DT64)
_MIN_YEAR = cython.declare(cython.int, MIN_YEAR)
_MAX_YEAR = cython.declare(cython.int, MAX_YEAR)
_UINT32_MAX = cython.declare(cython.longlong, (1 << 32) - 1)


class Plan:
    """How one layout's columns go into Native: each column's kind and its name-and-type
    header.  None from plan() when a column's type is not one this module writes."""

    def __init__(self, kinds: list[int], heads: list[bytes]):
        self.kinds = np.array(kinds, dtype=np.int32)
        self.heads = b"".join(heads)
        self.head_ends = np.cumsum([len(h) for h in heads]).astype(np.int64)


def plan(columns: tuple[str, ...], types: dict[str, str]) -> Plan | None:
    kinds, heads = [], []
    for name in columns:
        kind = KINDS.get(types.get(name, ""))
        if kind is None:
            return None
        kinds.append(kind[0])
        heads.append(_text(name.encode()) + _text(kind[1].encode()))
    return Plan(kinds, heads)


def _text(b: bytes) -> bytes:
    return _varint(len(b)) + b


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def to_native(payload: bytes, p: Plan, lines: int = -1) -> memoryview | None:
    """payload (compact rows, one JSON array per line) as Native blocks, or None when a
    row is outside the grammar above.  lines: the payload's line count when the caller has
    it (counting is ~a quarter of the conversion's time); at least its rows."""
    ncols = len(p.kinds)
    n = len(payload)
    lines = max(lines, payload.count(b"\n") + 1 if lines < 0 else 1)
    # the most the blocks can take: a value's text is at least one byte and becomes at most
    # that many bytes plus 9 (a 5-byte length; 8 bytes and a null flag for a timestamp),
    # and each block adds its header (boundscheck is off: this bound is what keeps it safe)
    cap = n + lines * ncols * 9 + (lines // BLOCK + 1) * (len(p.heads) + 20)
    out = np.empty(cap, dtype=np.uint8)
    a = np.empty((BLOCK, ncols), dtype=np.int64)
    b = np.empty((BLOCK, ncols), dtype=np.int64)
    state = np.zeros(2, dtype=np.int64)  # [payload position, output position]
    heads = memoryview(p.heads)
    buf = memoryview(payload)
    total = 0
    while True:
        rows = scan(buf, state, p.kinds, a, b)
        if rows < 0:
            return None
        if rows == 0:
            return memoryview(out)[: state[1]]
        total += rows
        if total > lines:  # cap was sized for fewer: refuse before writing past it
            raise ValueError(f"to_native: the payload has more than the {lines} lines it was said to have")
        if block(buf, rows, p.kinds, a, b, heads, p.head_ends, out, state) < 0:
            return None


@cython.cfunc
@cython.inline
@cython.nogil
@cython.exceptval(check=False)
def _put_varint(out: cython.uchar[::1], o: cython.Py_ssize_t, v: cython.ulonglong) -> cython.Py_ssize_t:
    while v >= 0x80:
        out[o] = (v & 0x7F) | 0x80
        v >>= 7
        o += 1
    out[o] = v
    return o + 1


@cython.cfunc
@cython.inline
@cython.nogil
@cython.exceptval(check=False)
def _put_le(out: cython.uchar[::1], o: cython.Py_ssize_t, v: cython.ulonglong, width: cython.int) -> cython.Py_ssize_t:
    i: cython.int
    for i in range(width):
        out[o + i] = (v >> (8 * i)) & 0xFF
    return o + width


@cython.cfunc
@cython.inline
@cython.nogil
@cython.exceptval(check=False)
def _digits(buf: cython.const[cython.uchar][::1], p: cython.Py_ssize_t, count: cython.int) -> cython.longlong:
    """The decimal number in buf[p:p+count], or -1 when a character is not a digit."""
    v: cython.longlong = 0
    i: cython.int
    ch: cython.int
    for i in range(count):
        ch = buf[p + i] - 48
        if ch < 0 or ch > 9:
            return -1
        v = v * 10 + ch
    return v


@cython.cfunc
@cython.inline
@cython.nogil
@cython.exceptval(check=False)
def _days(y: cython.longlong, m: cython.longlong, d: cython.longlong) -> cython.longlong:
    """Days from 1970-01-01 to the proleptic Gregorian date (Howard Hinnant's days_from_civil)."""
    era: cython.longlong
    yoe: cython.longlong
    doy: cython.longlong
    doe: cython.longlong
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@cython.cfunc
@cython.inline
@cython.nogil
@cython.exceptval(check=False)
def _timestamp(buf: cython.const[cython.uchar][::1], s: cython.Py_ssize_t, e: cython.Py_ssize_t,
               ok: cython.int[::1]) -> cython.longlong:
    """Milliseconds of YYYY-MM-DDTHH:MM:SS.fff followed by Z or +HH:MM / -HH:MM in buf[s:e];
    ok[0] = 0 when the text is anything else or out of range."""
    length: cython.Py_ssize_t = e - s
    y: cython.longlong
    mo: cython.longlong
    d: cython.longlong
    h: cython.longlong
    mi: cython.longlong
    sec: cython.longlong
    frac: cython.longlong
    oh: cython.longlong = 0
    om: cython.longlong = 0
    sign: cython.int = 0
    dim: cython.int
    ok[0] = 0
    if length != 24 and length != 29:
        return 0
    if (buf[s + 4] != 45 or buf[s + 7] != 45 or buf[s + 10] != 84 or buf[s + 13] != 58 or buf[s + 16] != 58
            or buf[s + 19] != 46):  # - - T : : .
        return 0
    y = _digits(buf, s, 4)
    mo = _digits(buf, s + 5, 2)
    d = _digits(buf, s + 8, 2)
    h = _digits(buf, s + 11, 2)
    mi = _digits(buf, s + 14, 2)
    sec = _digits(buf, s + 17, 2)
    frac = _digits(buf, s + 20, 3)
    if length == 24:
        if buf[s + 23] != 90:  # Z
            return 0
    else:
        if buf[s + 23] == 43:  # +
            sign = 1
        elif buf[s + 23] == 45:
            sign = -1
        else:
            return 0
        if buf[s + 26] != 58:
            return 0
        oh = _digits(buf, s + 24, 2)
        om = _digits(buf, s + 27, 2)
        if oh < 0 or om < 0 or oh > 14 or om > 59:
            return 0
    if y < _MIN_YEAR or y > _MAX_YEAR or mo < 1 or mo > 12 or d < 1 or h < 0 or h > 23 or mi < 0 or mi > 59:
        return 0
    if sec < 0 or sec > 59 or frac < 0:
        return 0
    dim = 31
    if mo == 4 or mo == 6 or mo == 9 or mo == 11:
        dim = 30
    elif mo == 2:
        dim = 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    if d > dim:
        return 0
    ok[0] = 1
    return ((_days(y, mo, d) * 24 + h) * 60 + mi - sign * (oh * 60 + om)) * 60000 + sec * 1000 + frac


def scan(buf: cython.const[cython.uchar][::1], state: cython.longlong[::1], kinds: cython.const[cython.int][::1],
         a: cython.longlong[:, ::1], b: cython.longlong[:, ::1]) -> int:
    """Reads up to len(a) rows from buf at state[0] (skipping empty lines), moving state[0]
    past them.  Per row r and column c: a string's first byte in a[r, c] and its end in
    b[r, c], negated when it holds escapes; a number, bool or timestamp in a[r, c], with
    b[r, c] = 1 for a null.  Returns the number of rows read, or -1 when the text is not a
    row of this layout."""
    ok: cython.int[::1] = np.zeros(1, dtype=np.int32)  # typed before the GIL is released
    r: cython.Py_ssize_t
    with cython.nogil:
        r = _scan(buf, state, kinds, a, b, ok)
    return r


@cython.cfunc
@cython.inline
@cython.nogil
@cython.exceptval(check=False)
def _scan(buf: cython.const[cython.uchar][::1], state: cython.longlong[::1], kinds: cython.const[cython.int][::1],
          a: cython.longlong[:, ::1], b: cython.longlong[:, ::1], okv: cython.int[::1]) -> cython.Py_ssize_t:
    n: cython.Py_ssize_t = buf.shape[0]
    p: cython.Py_ssize_t = state[0]
    ncols: cython.Py_ssize_t = kinds.shape[0]
    cap: cython.Py_ssize_t = a.shape[0]
    r: cython.Py_ssize_t = 0
    c: cython.Py_ssize_t
    s: cython.Py_ssize_t
    k: cython.int
    ch: cython.int
    esc: cython.int
    v: cython.longlong
    while r < cap:
        while p < n and buf[p] == 10:
            p += 1
        if p >= n:
            break
        if buf[p] != 91:  # [
            return -1
        p += 1
        for c in range(ncols):
            if c:
                if p >= n or buf[p] != 44:  # ,
                    return -1
                p += 1
            if p >= n:
                return -1
            k = kinds[c]
            ch = buf[p]
            if ch == 34:  # a string
                p += 1
                s = p
                esc = 0
                while p < n and buf[p] != 34:
                    if buf[p] == 92:  # backslash: the escaped character is skipped
                        esc = 1
                        p += 1
                    elif buf[p] < 32:
                        return -1
                    p += 1
                if p >= n:
                    return -1
                if k == _STRING:
                    a[r, c] = s
                    b[r, c] = -p if esc else p
                elif k in (_DT64, _NULLABLE_DT64) and not esc:
                    a[r, c] = _timestamp(buf, s, p, okv)
                    if not okv[0]:
                        return -1
                    b[r, c] = 0
                else:
                    return -1
                p += 1
            elif ch == 110 and k == _NULLABLE_DT64:  # null
                if p + 4 > n or buf[p + 1] != 117 or buf[p + 2] != 108 or buf[p + 3] != 108:
                    return -1
                a[r, c] = 0
                b[r, c] = 1
                p += 4
            elif ch == 116 and k == _BOOL:  # true
                if p + 4 > n or buf[p + 1] != 114 or buf[p + 2] != 117 or buf[p + 3] != 101:
                    return -1
                a[r, c] = 1
                b[r, c] = 0
                p += 4
            elif ch == 102 and k == _BOOL:  # false
                if (p + 5 > n or buf[p + 1] != 97 or buf[p + 2] != 108 or buf[p + 3] != 115
                        or buf[p + 4] != 101):
                    return -1
                a[r, c] = 0
                b[r, c] = 0
                p += 5
            elif 48 <= ch <= 57 and k == _UINT32:
                v = 0
                s = p
                while p < n and 48 <= buf[p] <= 57 and p - s < 11:
                    v = v * 10 + (buf[p] - 48)
                    p += 1
                if v > _UINT32_MAX or (buf[s] == 48 and p - s > 1):
                    return -1
                a[r, c] = v
                b[r, c] = 0
            else:
                return -1
        if p >= n or buf[p] != 93:  # ]
            return -1
        p += 1
        if p < n and buf[p] != 10:
            return -1
        r += 1
    state[0] = p
    return r


@cython.cfunc
@cython.inline
@cython.nogil
@cython.exceptval(check=False)
def _hex(buf: cython.const[cython.uchar][::1], p: cython.Py_ssize_t) -> cython.long:
    """The four hex digits at buf[p:p+4], or -1."""
    v: cython.long = 0
    i: cython.int
    ch: cython.int
    for i in range(4):
        ch = buf[p + i]
        if 48 <= ch <= 57:
            ch -= 48
        elif 97 <= ch <= 102:
            ch -= 87
        elif 65 <= ch <= 70:
            ch -= 55
        else:
            return -1
        v = v * 16 + ch
    return v


@cython.cfunc
@cython.inline
@cython.nogil
@cython.exceptval(check=False)
def _unescape(buf: cython.const[cython.uchar][::1], s: cython.Py_ssize_t, e: cython.Py_ssize_t,
              out: cython.uchar[::1], o: cython.Py_ssize_t, write: cython.int) -> cython.Py_ssize_t:
    """The JSON string text buf[s:e] unescaped: writes it at out[o] when write is set and
    returns its length in bytes, or -1 for an invalid escape or a lone surrogate."""
    p: cython.Py_ssize_t = s
    n: cython.Py_ssize_t = 0
    ch: cython.int
    cp: cython.long
    lo: cython.long
    while p < e:
        ch = buf[p]
        if ch != 92:
            if write:
                out[o + n] = ch
            n += 1
            p += 1
            continue
        ch = buf[p + 1]
        p += 2
        cp = -1
        if ch == 34 or ch == 92 or ch == 47:  # " \ /
            cp = ch
        elif ch == 98:
            cp = 8
        elif ch == 102:
            cp = 12
        elif ch == 110:
            cp = 10
        elif ch == 114:
            cp = 13
        elif ch == 116:
            cp = 9
        elif ch == 117:  # \uXXXX, a surrogate pair as two
            if p + 4 > e:
                return -1
            cp = _hex(buf, p)
            if cp < 0:
                return -1
            p += 4
            if 0xDC00 <= cp <= 0xDFFF:
                return -1
            if 0xD800 <= cp <= 0xDBFF:
                if p + 6 > e or buf[p] != 92 or buf[p + 1] != 117:
                    return -1
                lo = _hex(buf, p + 2)
                if lo < 0xDC00 or lo > 0xDFFF:
                    return -1
                p += 6
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
            if cp >= 0x80:  # UTF-8, two to four bytes
                if cp < 0x800:
                    if write:
                        out[o + n] = 0xC0 | (cp >> 6)
                        out[o + n + 1] = 0x80 | (cp & 0x3F)
                    n += 2
                elif cp < 0x10000:
                    if write:
                        out[o + n] = 0xE0 | (cp >> 12)
                        out[o + n + 1] = 0x80 | ((cp >> 6) & 0x3F)
                        out[o + n + 2] = 0x80 | (cp & 0x3F)
                    n += 3
                else:
                    if write:
                        out[o + n] = 0xF0 | (cp >> 18)
                        out[o + n + 1] = 0x80 | ((cp >> 12) & 0x3F)
                        out[o + n + 2] = 0x80 | ((cp >> 6) & 0x3F)
                        out[o + n + 3] = 0x80 | (cp & 0x3F)
                    n += 4
                continue
        else:
            return -1
        if write:
            out[o + n] = cp
        n += 1
    return n


def block(buf: cython.const[cython.uchar][::1], rows: cython.Py_ssize_t, kinds: cython.const[cython.int][::1],
          a: cython.longlong[:, ::1], b: cython.longlong[:, ::1], heads: cython.const[cython.uchar][::1],
          head_ends: cython.const[cython.longlong][::1], out: cython.uchar[::1], state: cython.longlong[::1]) -> int:
    """Writes one Native block of the rows scan() found at out[state[1]] and moves state[1]
    past it.  Returns 0, or -1 for a string with an invalid escape."""
    r: cython.int
    with cython.nogil:
        r = _block(buf, rows, kinds, a, b, heads, head_ends, out, state)
    return r


@cython.cfunc
@cython.inline
@cython.nogil
@cython.exceptval(check=False)
def _block(buf: cython.const[cython.uchar][::1], rows: cython.Py_ssize_t, kinds: cython.const[cython.int][::1],
            a: cython.longlong[:, ::1], b: cython.longlong[:, ::1], heads: cython.const[cython.uchar][::1],
            head_ends: cython.const[cython.longlong][::1], out: cython.uchar[::1],
            state: cython.longlong[::1]) -> cython.int:
    ncols: cython.Py_ssize_t = kinds.shape[0]
    o: cython.Py_ssize_t = state[1]
    c: cython.Py_ssize_t
    r: cython.Py_ssize_t
    h: cython.Py_ssize_t = 0
    s: cython.Py_ssize_t
    e: cython.Py_ssize_t
    length: cython.Py_ssize_t
    k: cython.int
    o = _put_varint(out, o, ncols)
    o = _put_varint(out, o, rows)
    for c in range(ncols):
        while h < head_ends[c]:
            out[o] = heads[h]
            o += 1
            h += 1
        k = kinds[c]
        if k == _STRING:
            for r in range(rows):
                s = a[r, c]
                e = b[r, c]
                if e >= 0:
                    o = _put_varint(out, o, e - s)
                    while s < e:
                        out[o] = buf[s]
                        o += 1
                        s += 1
                else:
                    length = _unescape(buf, s, -e, out, 0, 0)
                    if length < 0:
                        return -1
                    o = _put_varint(out, o, length)
                    o += _unescape(buf, s, -e, out, o, 1)
        elif k == _UINT32:
            for r in range(rows):
                o = _put_le(out, o, a[r, c], 4)
        elif k == _BOOL:
            for r in range(rows):
                out[o] = a[r, c]
                o += 1
        else:
            if k == _NULLABLE_DT64:
                for r in range(rows):
                    out[o] = b[r, c]
                    o += 1
            for r in range(rows):
                o = _put_le(out, o, a[r, c], 8)
    state[1] = o
    return 0
