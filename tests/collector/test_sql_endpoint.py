"""POST /v1/sql: admin token, read-only by the engine, limits, bound parameters."""

import httpx

from tests.conftest import ADMIN


def _sql(server, body, token=ADMIN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(server.url + "/v1/sql", json=body, headers=headers, timeout=30)


def test_requires_the_admin_token(server):
    assert _sql(server, {"sql": "SELECT 1"}, token=None).status_code == 401
    assert _sql(server, {"sql": "SELECT 1"}, token="wrong").status_code == 401
    assert _sql(server, {"sql": "SELECT 1"}).json() == {"columns": ["1"], "rows": [[1]]}


def test_writes_and_ddl_are_refused_by_the_engine(server):
    for stmt in ("INSERT INTO footpath.events (message_id) VALUES ('x')", "DROP TABLE footpath.events",
                 "CREATE TABLE footpath.x (a UInt8) ENGINE=Memory", "ALTER TABLE footpath.events DELETE WHERE 1",
                 "SELECT 1 SETTINGS readonly = 0", "SELECT 1 SETTINGS max_execution_time = 100000"):
        r = _sql(server, {"sql": stmt})
        assert r.status_code == 403, (stmt, r.text)
        assert "readonly" in r.json()["error"].lower()
    # and the table is intact
    assert _sql(server, {"sql": "SELECT count() >= 0 FROM footpath.events"}).json()["rows"] == [[True]]


def test_row_limit_then_the_endpoint_still_works(server):
    r = _sql(server, {"sql": "SELECT number FROM numbers(10000000)"})
    assert r.status_code == 400 and "max rows" in r.json()["error"].lower()
    assert _sql(server, {"sql": "SELECT 2"}).json()["rows"] == [[2]]


def test_parameters_are_bound_not_interpolated(server):
    evil = "x' OR 1=1 --"
    r = _sql(server, {"sql": "SELECT {v:String} AS v, length({v:String})", "params": {"v": evil}})
    assert r.json()["rows"] == [[evil, len(evil)]]


def test_bad_sql_is_a_clear_400(server):
    r = _sql(server, {"sql": "SELEC nonsense"})
    assert r.status_code == 400 and "Syntax error" in r.json()["error"]
    assert _sql(server, {"sql": ""}).status_code == 400
    assert _sql(server, {"nosql": 1}).status_code == 400


def test_params_that_do_not_fit_the_query_are_400s(server):
    """Found by schemathesis: without {name:Type} placeholders the client %-formats params
    into the text, and a stray % raised ValueError (500)."""
    for body in ({"sql": "SELECT '%R'", "params": {"a": 1}}, {"sql": "SELECT %(b)s", "params": {"a": 1}}):
        r = _sql(server, body)
        assert r.status_code == 400 and "params do not fit" in r.json()["error"], r.text
    assert _sql(server, {"sql": "SELECT 1", "params": {"a": 1}}).status_code == 200


def test_one_statement_per_request(server):
    """The engine would run every statement of the text and send their results one after
    another: rows of two queries mixed in one table, or binary noise as the error where
    their columns differ."""
    for stmt in ("SELECT count() FROM footpath.events; SELECT 1", "SELECT 1; SELECT 2", "SELECT 1;\nSELECT 'a' AS b;"):
        r = _sql(server, {"sql": stmt})
        assert r.status_code == 400, (stmt, r.text)
        assert r.json()["error"].startswith("one SQL statement per request"), r.text
    assert "at character 9)" in _sql(server, {"sql": "SELECT 1; SELECT 2"}).json()["error"]
    # a trailing ';', and ';' inside a string or a comment, are one statement
    assert _sql(server, {"sql": "SELECT 1;"}).json()["rows"] == [[1]]
    assert _sql(server, {"sql": "SELECT ';' AS s -- ; SELECT 2"}).json()["rows"] == [[";"]]
    assert _sql(server, {"sql": "SELECT {v:String} AS v;", "params": {"v": "a;b"}}).json()["rows"] == [["a;b"]]
    # other syntax errors keep the engine's message
    r = _sql(server, {"sql": "SELEC 1; SELECT 2"})
    assert r.status_code == 400 and "Syntax error" in r.json()["error"], r.text


def _raw(server, text, url_params=None, content_type="text/plain"):
    return httpx.post(server.url + "/v1/sql", content=text.encode(), params=url_params, timeout=30,
                      headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": content_type})


def test_a_plain_text_body_is_the_statement_with_clickhouse_url_parameters(server):
    # as ClickHouse's HTTP interface takes it: the body is the query, {name:Type} values
    # come as param_name in the URL (bound, not pasted into the text)
    evil = "it's' OR 1=1 --"
    r = _raw(server, "SELECT {v:String} AS v, {n:UInt8} + 1 AS m\n-- a trailing comment\n",
             {"param_v": evil, "param_n": "41"})
    assert r.status_code == 200, r.text
    assert r.json() == {"columns": ["v", "m"], "rows": [[evil, 42]]}
    # curl -d's default content type is form-encoded: still the statement
    assert _raw(server, "SELECT 3", content_type="application/x-www-form-urlencoded").json()["rows"] == [[3]]
    # the read-only guard and the one-statement rule hold for text bodies too
    assert _raw(server, "DROP TABLE footpath.events").status_code == 403
    assert _raw(server, "SELECT 1; SELECT 2").status_code == 400


def test_a_missing_parameter_says_how_to_give_it(server):
    for r in (_raw(server, "SELECT {site:String}"), _sql(server, {"sql": "SELECT {site:String}"})):
        assert r.status_code == 400
        err = r.json()["error"]
        assert "param_site=" in err and '"params"' in err, err


def test_a_text_body_that_is_not_utf8_is_a_clear_400(server):
    r = httpx.post(server.url + "/v1/sql", content=b"SELECT '\xff'", timeout=30,
                   headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 400 and "UTF-8" in r.json()["error"]


def test_a_format_clause_is_named_as_the_problem(server):
    """A query pasted from clickhouse-client often ends in FORMAT: the engine's own error
    pointed at a FORMAT Native the user never wrote."""
    for text in ("SELECT 1 FORMAT TSV", "SELECT 1 AS x\nFORMAT JSONEachRow;\n",
                 "SELECT * FROM (SELECT 1) FORMAT TSV SETTINGS max_threads = 1"):  # before SETTINGS (QA)
        r = _raw(server, text)
        assert r.status_code == 400, (text, r.text)
        assert "FORMAT" in r.json()["error"] and "Native" not in r.json()["error"], r.text
    # a column called format is not that clause
    r = _sql(server, {"sql": "SELECT 1 AS format ORDER BY format DESC"})
    assert r.json()["rows"] == [[1]], r.text
    # other syntax errors keep the engine's words, without the client's own FORMAT (QA)
    error = _raw(server, "SELEC 1").json()["error"]
    assert "Syntax error" in error and "leave that clause out" not in error and "Native" not in error


def test_into_outfile_writes_nothing(server, tmp_path):
    """The embedded engine runs INTO OUTFILE in the collector's process, readonly or not:
    before this was refused, the file was written on the collector's host."""
    target = tmp_path / "out.csv"
    target.write_text("precious\n")
    for text in (f"SELECT 1 INTO OUTFILE '{tmp_path / 'new.csv'}'",
                 f"SELECT 1 INTO OUTFILE '{target}' TRUNCATE FORMAT CSV",
                 f"select 1 into   outfile '{target}' append"):
        r = _raw(server, text)
        assert r.status_code == 403 and "INTO OUTFILE" in r.json()["error"], (text, r.text)
    assert not (tmp_path / "new.csv").exists()
    assert target.read_text() == "precious\n"
    # the word in a comment is not the clause
    assert _raw(server, "SELECT 5 -- no INTO OUTFILE here").json()["rows"] == [[5]]


def test_each_request_has_its_own_client_so_a_failure_or_a_slow_query_stays_its_own(server):
    """Found in QA: every /v1/sql request ran on one shared client, one query at a time, and a
    failed query closed it, so the requests queued behind a slow query failed with "The
    client has been closed".  Now a query waits for no other and fails alone."""
    import threading
    import time

    done: dict[str, tuple[float, httpx.Response]] = {}

    def run(name, sql):
        r = _sql(server, {"sql": sql})
        done[name] = (time.monotonic(), r)

    slow = threading.Thread(target=run, args=("slow", "SELECT sum(sleepEachRow(0.5)) FROM numbers(4)"))  # ~2 s
    slow.start()
    time.sleep(0.3)  # the slow query is running
    bad = threading.Thread(target=run, args=("bad", "SELECT no_such_column"))
    bad.start()
    bad.join()
    run("quick", "SELECT 1")
    slow.join()
    assert done["bad"][1].status_code == 400 and "no_such_column" in done["bad"][1].json()["error"]
    assert done["quick"][1].status_code == 200 and done["quick"][1].json()["rows"] == [[1]], done["quick"][1].text
    assert done["slow"][1].status_code == 200, done["slow"][1].text
    assert done["quick"][0] < done["slow"][0]  # it did not wait for the slow one
    assert done["bad"][0] < done["slow"][0]


def test_kill_is_refused_though_readonly_allows_it(server):
    """Found in QA: KILL QUERY and KILL MUTATION passed readonly = 1, so /v1/sql could
    cancel other requests' queries, the writer's inserts and erasure mutations."""
    for stmt in ("KILL QUERY WHERE query LIKE '%INSERT%' ASYNC", "/* x */ kill mutation where 1 TEST",
                 "KILL QUERY WHERE 1 SYNC;"):
        r = _sql(server, {"sql": stmt})
        assert r.status_code == 403 and "KILL" in r.json()["error"], (stmt, r.text)
    # nor behind Python-style params, which the client puts into the text before sending it
    # (found in QA: the text did not parse with %(p)s in it, and the check let it through)
    r = _sql(server, {"sql": "KILL QUERY WHERE query LIKE %(p)s SYNC", "params": {"p": "%numbers%"}})
    assert r.status_code == 403 and "KILL" in r.json()["error"], r.text
    r = _sql(server, {"sql": "SELECT %(a)s AS x INTO OUTFILE 'pwn.txt'", "params": {"a": "hello"}})
    assert r.status_code == 403 and "OUTFILE" in r.json()["error"], r.text
    # the word in a string or a column alias is not a statement
    assert _sql(server, {"sql": "SELECT 'kill' AS kill"}).json()["rows"] == [["kill"]]
    assert _sql(server, {"sql": "SELECT %(k)s AS kill", "params": {"k": "kill"}}).json()["rows"] == [["kill"]]


def test_a_result_larger_than_sql_max_result_bytes_is_a_clear_400(server):
    """Found in QA: 40 rows of 20 MB passed the row, time and memory limits and took 3.5 GB
    of the collector's memory to answer.  The default cap is 64 MiB of result."""
    r = _sql(server, {"sql": "SELECT repeat('a', 1000000) FROM numbers(100)"})
    assert r.status_code == 400 and "sql_max_result_bytes" in r.json()["error"], r.text
    assert _sql(server, {"sql": "SELECT length(repeat('a', 1000000)) FROM numbers(100) LIMIT 1"}).json()["rows"] == [[1000000]]


def test_values_json_cannot_carry_as_they_come_are_still_an_answer(server):
    """Found in QA: Int128 and Time made the answer a plain-text 500; DateTime64(6) lost its
    microseconds; an empty result of a GROUP BY named no columns."""
    r = _sql(server, {"sql": "SELECT toInt128('170141183460469231731687303715884105727') AS big, "
                             "toUInt64(18446744073709551615) AS u64, toInt64(-9223372036854775808) AS i64, "
                             "toDateTime64('2026-01-02 03:04:05.123456', 6, 'UTC') AS us, "
                             "toDateTime64('2026-01-02 03:04:05.123', 3, 'UTC') AS ms"})
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == [["170141183460469231731687303715884105727", 18446744073709551615,
                                 -9223372036854775808, "2026-01-02T03:04:05.123456+00:00",
                                 "2026-01-02T03:04:05.123+00:00"]]
    empty = _sql(server, {"sql": "SELECT number % 3 AS k, count() AS n FROM numbers(10) WHERE number > 100 GROUP BY k"})
    assert empty.json() == {"columns": ["k", "n"], "rows": []}


def test_a_time_value_is_written_as_clickhouse_writes_it():
    import datetime as dt

    from collector.query.sql import jsonable

    assert jsonable(dt.timedelta(hours=12)) == "12:00:00"
    assert jsonable(dt.timedelta(hours=-1, minutes=-2, seconds=-3)) == "-1:02:03"
    assert jsonable(dt.timedelta(hours=100, microseconds=5)) == "100:00:00.000005"
