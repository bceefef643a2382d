"""POST /v1/sql: read-only SQL for admins.  Read-only is the engine's readonly=1 setting
on a dedicated client (writes and DDL fail in ClickHouse, not in a string filter), and
the time, row and memory limits are set on that client before it is locked."""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import re
import uuid
from collections.abc import Iterable
from typing import Any

from clickhouse_connect.driver.binding import bind_query
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from collector.receive.body import parse_json
from collector.write.store import Store


class QueryError(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def sql_limits(max_seconds: int, max_rows: int, max_memory: int, max_result_bytes: int = 64 << 20) -> dict[str, Any]:
    """The read-only clients' limits.  The result's rows and bytes bound what a /v1/sql
    answer holds in the collector (found in QA: 40 rows of 20 MB each passed every other
    limit and took 3.5 GB of memory and 39 s to answer); the reports' streams drop both
    (Store.new_reader)."""
    return {"max_execution_time": max_seconds, "max_result_rows": max_rows, "max_result_bytes": max_result_bytes,
            "result_overflow_mode": "throw", "max_memory_usage": max_memory}


_INT64 = (-(1 << 63), (1 << 64) - 1)  # what orjson writes as a number (Int64 .. UInt64)


def jsonable(v: Any) -> Any:
    """A value of a result as JSON can carry it.  Found in QA, each a 500 before: integers
    past 64 bits (Int128, UInt256) are strings, as ClickHouse's own JSON output writes
    them; a Time is [-]H:MM:SS[.ffffff].  DateTime64 keeps microseconds where it has them."""
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.UTC)
        return v.isoformat(timespec="milliseconds" if not v.microsecond % 1000 else "microseconds")
    if isinstance(v, int) and not isinstance(v, bool) and not _INT64[0] <= v <= _INT64[1]:
        return str(v)
    if isinstance(v, dt.timedelta):
        us = abs(v) // dt.timedelta(microseconds=1)
        sec, frac = divmod(us, 1_000_000)
        text = f"{sec // 3600}:{sec // 60 % 60:02d}:{sec % 60:02d}" + (f".{frac:06d}" if frac else "")
        return ("-" if v < dt.timedelta(0) else "") + text
    if isinstance(v, (dt.date, uuid.UUID, ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(v)
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, float) and v != v:  # NaN is not JSON
        return None
    return v


def sql_request(body: bytes, query: Iterable[tuple[str, str]]) -> tuple[Any, dict[str, Any] | None]:
    """A /v1/sql request's statement and parameters.  A body that starts with `{` is the
    JSON form, {"sql": ..., "params": {...}}; any other body is the statement itself, as
    ClickHouse's own HTTP interface takes it, with each `{name:Type}` placeholder's value
    in the query string as `param_name=value` (ClickHouse's convention), so a query pasted
    from clickhouse-client runs unchanged: curl --data-binary @q.sql '.../v1/sql?param_site=demo'."""
    if body.lstrip()[:1] == b"{":
        doc, _ = parse_json(body)  # a document that starts with { is an object
        return doc.get("sql"), doc.get("params")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise QueryError(400, f"body is not valid UTF-8 (byte {e.start})") from None
    if not text.strip():
        raise QueryError(400, 'empty body: send the statement as the body, or {"sql": "...", "params": {...}}')
    params = {k[len("param_"):]: v for k, v in query if k.startswith("param_") and len(k) > len("param_")}
    return text, params or None


def run_readonly(store: Store, sql: str, params: dict[str, Any] | None) -> dict[str, Any]:
    if not isinstance(sql, str) or not sql.strip():
        raise QueryError(400, "field 'sql' must be a non-empty string")
    if params is not None and not isinstance(params, dict):
        raise QueryError(400, "field 'params' must be an object")
    with store.reading() as client:  # this request's own client: a failure here closes it alone
        _vet(client, _as_sent(sql, params))
        return _run(client, sql, params, store.sql_limits.get("max_result_bytes") or 0)


def _size(v: Any) -> int:
    """About the bytes a JSON value takes (strings their length, numbers 8)."""
    if isinstance(v, str):
        return len(v) + 2
    if isinstance(v, list):
        return sum(_size(x) for x in v) + 2
    if isinstance(v, dict):
        return sum(len(k) + _size(x) for k, x in v.items()) + 2
    return 8


def _run(client: Client, sql: str, params: dict[str, Any] | None, max_bytes: int = 0) -> dict[str, Any]:
    """The statement's result as JSON-ready rows, read block by block; past max_bytes
    (sql_max_result_bytes) a 400.  The engine's own max_result_bytes (sql_limits) is checked
    per block in the embedded engine, so a few rows of huge values passed it (found in QA:
    40 rows of 20 MB took 3.5 GB of the collector's memory); counted here, the collector
    holds at most the cap and one block."""
    rows: list[list[Any]] = []
    size = 0
    try:
        try:
            with client.query_row_block_stream(sql, parameters=params or None) as stream:
                columns = list(stream.source.column_names)
                for block in stream:
                    for row in block:
                        out = [jsonable(v) for v in row]
                        rows.append(out)
                        size += sum(_size(v) for v in out) if max_bytes else 0
                    if max_bytes and size > max_bytes:
                        raise QueryError(400, f"the result passes {max_bytes:,} bytes (the collector's sql_max_result_"
                                              "bytes): aggregate, add a LIMIT or select fewer columns")
        except ClickHouseError as e:
            if "Streaming query is not supported" not in str(e):
                raise
            # not a SELECT (SHOW, DESCRIBE, a write the engine will refuse): no stream; small answers
            result = client.query(sql, parameters=params or None)
            columns, rows = list(result.column_names), [[jsonable(v) for v in row] for row in result.result_rows]
    except (ValueError, TypeError, KeyError, IndexError) as e:
        # Raised before anything reaches the engine: without {name:Type} placeholders the
        # client formats params into the text Python-style (%(name)s), and a stray % or a
        # value it cannot render fails there.
        raise QueryError(400, f"params do not fit the query: {type(e).__name__}: {str(e)[:300]} "
                              "(use {name:Type} placeholders)") from None
    except ClickHouseError as e:
        msg = str(e)
        status = 403 if "READONLY" in msg or "readonly" in msg else 400
        reason = msg.split("Stack trace")[0].strip()[:2000]
        if "SYNTAX_ERROR" in msg and (_OWN_OUTPUT.search(sql) or (_ANY_FORMAT.search(sql) and _parses(client, sql))):
            # the client appends its own FORMAT, which a user's FORMAT (pasted from
            # clickhouse-client, at the end or before SETTINGS) makes a syntax error that
            # points past the user's text
            reason = ('the statement sets its own output format (FORMAT): /v1/sql always answers JSON, '
                      '{"columns": [...], "rows": [...]}; leave that clause out')
        elif "SYNTAX_ERROR" in msg:  # the quoted text ends in the client's own FORMAT: not the user's
            reason = reason.replace("\n FORMAT Native", "")
        elif "TOO_MANY_ROWS_OR_BYTES" in msg and "result" in msg.lower():
            reason = (reason.split("(TOO_MANY")[0].strip() + " (the collector's sql_max_rows / sql_max_result_bytes: "
                      "aggregate, add a LIMIT or select fewer columns)")
        elif (missing := re.search(r"Substitution `([^`]+)` is not set", msg)):
            name = missing.group(1)
            reason += f' (give its value in "params": {{"{name}": ...}}, or as param_{name}=... in the URL)'
        raise QueryError(status, reason) from None
    if not columns:  # an empty result comes without its header block: the names from the analyser
        try:
            columns = [r[0] for r in client.query(f"DESCRIBE ({sql})", parameters=params or None).result_rows]
        except (ClickHouseError, ValueError, TypeError, KeyError, IndexError):
            pass  # not a SELECT: no columns to name
    return {"columns": columns, "rows": rows}


# a statement that ends in a clause choosing its own output; one that may hold one elsewhere
_OWN_OUTPUT = re.compile(r"(?is)\bFORMAT\s+\w+\s*;?\s*$")
_ANY_FORMAT = re.compile(r"(?is)\bFORMAT\s+\w+")


def _formatted(client: Client, sql: str) -> tuple[str, str]:
    """(the statement as ClickHouse's own parser prints it, or '', and the parser's error, or '')."""
    try:
        return client.query("SELECT formatQuery({q:String})", parameters={"q": sql}).result_rows[0][0], ""
    except ClickHouseError as e:
        return "", str(e)


def _parses(client: Client, sql: str) -> bool:
    """Whether the statement alone is valid SQL."""
    return not _formatted(client, sql)[1]


def _as_sent(sql: str, params: dict[str, Any] | None) -> str:
    """The statement as the client will send it: Python-style %(name)s params are put into
    the text by clickhouse-connect before it goes out, so the text _vet reads must be that
    one (found in QA: with a %(p)s param the statement did not parse, and a KILL or an INTO
    OUTFILE behind it passed).  {name:Type} placeholders stay: the engine binds them."""
    if not params:
        return sql
    try:
        text = bind_query(sql, params)[0]
    except Exception:  # noqa: BLE001 - params that do not fit: _run reports them
        return sql
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else text


def _vet(client: Client, sql: str) -> None:
    """What the engine would run wrongly, decided by ClickHouse's own parser (formatQuery:
    words inside a string literal or a comment are not clauses), in one round trip and only
    for a text that could hold either:

    - several statements (a trailing ';' is fine).  The engine would run them all and answer
      with their results one after another: rows of different queries mixed in one table,
      or, where their columns differ, a stream the client cannot read (the error was raw
      binary).
    - INTO OUTFILE.  The engine runs in this process, so the clause that clickhouse-client
      handles on the client's machine writes the file here, on the collector's host, with
      its rights, and readonly = 1 does not stop it (measured: a file landed in the working
      directory; with TRUNCATE it overwrites one).  In a string literal the words are
      refused too, which costs nothing but a clear error.

    - KILL QUERY / KILL MUTATION, which readonly = 1 allows: any admin could cancel another
      request's query, the writer's inserts or an erasure's mutations (found in QA).

    Any other syntax error is left for the query itself to report."""
    low = sql.lower()
    if ";" not in sql and "outfile" not in low and "kill" not in low:
        return
    formatted, msg = _formatted(client, sql)
    if formatted.lstrip().upper().startswith("KILL"):
        raise QueryError(403, "KILL cancels other queries (the writer's inserts, erasures); /v1/sql only reads")
    if msg:
        if "Multi-statements are not allowed" in msg:
            at = re.search(r"failed at position (\d+)", msg)
            where = f" (another follows the ';' at character {at.group(1)})" if at else ""
            raise QueryError(400, f"one SQL statement per request{where}; send each query on its own") from None
        return
    if "INTO OUTFILE" in formatted.upper():
        raise QueryError(403, "INTO OUTFILE would write a file on the collector's host; /v1/sql only reads and "
                              "answers JSON: leave the clause out")
