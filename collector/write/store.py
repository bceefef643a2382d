"""ClickHouse access: one clickhouse-connect client per role (writer, read-only queries,
admin), all on the same engine.  chDB keeps session settings per client, so the read-only
client can be locked down (readonly=1 after its limits) without touching the writer."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from collector.write.retention import apply_retention

log = logging.getLogger("footpath.store")

__all__ = ["apply_retention"]  # per-site TTL on every retained table (retention.py)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "clickhouse"
_MIGRATION_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class ClusterRender:
    """How migrations render: single node (default) or a named cluster."""

    cluster: str = ""

    def params(self) -> dict[str, str]:
        if not self.cluster:
            return {"on_cluster": "", "replicated": "", "cluster": ""}
        return {"on_cluster": f" ON CLUSTER {self.cluster}", "replicated": "Replicated", "cluster": self.cluster}


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    files = sorted(p for p in directory.glob("*.sql") if _MIGRATION_RE.match(p.name))
    numbers = [p.name[:4] for p in files]
    if len(numbers) != len(set(numbers)):
        raise RuntimeError(f"two migrations share a number in {directory}")
    return files


def split_statements(sql: str) -> list[str]:
    """Our migrations end each statement with ';' at the end of a line."""
    out = []
    for chunk in re.split(r";[ \t]*$", sql, flags=re.M):
        body = "\n".join(ln for ln in chunk.splitlines() if not ln.strip().startswith("--")).strip()
        if body:
            out.append(chunk.strip())
    return out


def render(sql: str, cluster: ClusterRender) -> str:
    """Fill the placeholders; single-node renders drop statements marked `-- @cluster-only`."""
    p = cluster.params()
    if not cluster.cluster and "-- @cluster-only" in sql:
        sql = ";\n".join(st for st in split_statements(sql) if "-- @cluster-only" not in st)
    for key, value in p.items():
        sql = sql.replace("{" + key + "}", value)
    return sql


def render_all(cluster: ClusterRender, directory: Path = MIGRATIONS_DIR) -> list[tuple[str, list[str]]]:
    """Every migration's statements as they would run (for `footpath migrate --print`)."""
    return [(p.name, split_statements(render(p.read_text("utf-8"), cluster))) for p in migration_files(directory)]


def connect(url: str, settings: dict[str, Any] | None = None) -> Client:
    if url.startswith("chdb://"):
        path = url[len("chdb://"):]
        Path(path).mkdir(parents=True, exist_ok=True)
        return clickhouse_connect.get_client(dsn="chdb://" + path, settings=settings or {})
    return clickhouse_connect.get_client(dsn=url, settings=settings or {}, connect_timeout=3,
                                         send_receive_timeout=60)


def apply_migrations(client: Client, cluster: ClusterRender = ClusterRender(),
                     directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every migration not yet recorded; returns the names applied now."""
    client.command(render("CREATE DATABASE IF NOT EXISTS footpath{on_cluster}", cluster))
    client.command(render(
        "CREATE TABLE IF NOT EXISTS footpath.schema_migrations{on_cluster} "
        "(name String, checksum String, applied_at DateTime DEFAULT now()) "
        "ENGINE = {replicated}ReplacingMergeTree ORDER BY name", cluster))
    done = {r[0]: r[1] for r in client.query("SELECT name, checksum FROM footpath.schema_migrations FINAL").result_rows}
    applied = []
    for path in migration_files(directory):
        text = path.read_text("utf-8")
        checksum = hashlib.sha256(text.encode()).hexdigest()[:16]
        if path.name in done:
            if done[path.name] != checksum:
                log.warning("migration %s changed after it was applied; not re-applied", path.name)
            continue
        for stmt in split_statements(render(text, cluster)):
            client.command(stmt)
        client.insert("footpath.schema_migrations", [[path.name, checksum]], column_names=["name", "checksum"])
        applied.append(path.name)
        log.info("applied migration %s", path.name)
    return applied


def _close_quietly(c: Client) -> None:
    try:
        c.close()
    except Exception:  # noqa: BLE001 - closing a broken client
        pass


class Store:
    """Lazily connected clients.  Connection failures are reported, never fatal: the
    collector keeps accepting into its buffer while storage is down."""

    def __init__(self, url: str, sql_limits: dict[str, Any], retention_days: dict[str, int] | None = None,
                 retention_caps: dict[str, int] | None = None, cluster: ClusterRender | None = None):
        self.url = url
        self.cluster = cluster or ClusterRender()  # how the migrations at first connection render
        self.retention_days = retention_days or {}
        self.retention_caps = retention_caps or {}  # table -> days for every site (retention.CAPS)
        self.sql_limits = sql_limits
        self._lock = threading.Lock()
        self._writer: Client | None = None
        self._idle: dict[bool, list[Client]] = {}  # read-only clients not in use, by whether row-limited
        self._admin: Client | None = None
        self.migrated = False
        self.last_error = ""

    MAX_IDLE_READERS = 4  # per kind: more queries at once open more clients, closed when given back

    @property
    def embedded(self) -> bool:
        return self.url.startswith("chdb://")

    def writer(self) -> Client:
        with self._lock:
            if self._writer is None:
                self._writer = connect(self.url)
            if not self.migrated:
                apply_migrations(self._writer, self.cluster)
                apply_retention(self._writer, self.retention_days, self.retention_caps)
                self.migrated = True
            return self._writer

    def new_reader(self, row_limit: bool) -> Client:
        """A new read-only client, the caller's to close (requests use reading()): limits first, then readonly=1 so queries cannot lift them.
        row_limit=False drops the result row limit (sql_max_rows, meant for what a user's
        SQL returns) for internal reads whose results are consumed, not returned: the
        reports stream every row of a range to walk it (millions), and with the limit any
        report over 100,000 rows failed.  Time and memory limits apply to both."""
        settings = dict(self.sql_limits)
        if not row_limit:
            settings.pop("max_result_rows", None)
            settings.pop("max_result_bytes", None)
            settings.pop("result_overflow_mode", None)
        # Reports stream rows with values computed from LowCardinality columns (label
        # ranks); moved after the sort, as ClickHouse does by default, they are computed
        # on sorted chunks whose dictionaries no longer help: 7M person rows of a path
        # report took 2.8 s instead of 1.2 s (BENCHMARKS.md, Reports).
        settings["query_plan_execute_functions_after_sorting"] = 0
        if self.embedded:
            c = connect(self.url, settings)
            c.set_client_setting("readonly", 1)
        else:
            settings["readonly"] = 1
            c = connect(self.url, settings)
        return c

    @contextmanager
    def reading(self, row_limit: bool = True) -> Iterator[Client]:
        """A read-only client (new_reader) held by the caller alone for the block.

        One client runs one query at a time (chDB's handle has a lock), so a client shared
        by every request made each /v1/sql query, report and profile wait behind the one
        running, and closing it after a failed query (its handle can be left unusable)
        failed every request queued on it ("The client has been closed").  Now each request
        takes an idle client or opens one (~17 ms embedded), gives it back when done, and a
        client whose block raised is closed instead: the failure stays with its request."""
        with self._lock:
            pool = self._idle.get(row_limit)
            c = pool.pop() if pool else None
        if c is None:
            c = self.new_reader(row_limit)
        try:
            yield c
        except BaseException:
            _close_quietly(c)
            raise
        with self._lock:
            pool = self._idle.setdefault(row_limit, [])
            if len(pool) < self.MAX_IDLE_READERS:
                pool.append(c)
                c = None
        if c is not None:
            _close_quietly(c)

    def admin(self) -> Client:
        with self._lock:
            if self._admin is None:
                self._admin = connect(self.url)
            return self._admin

    def reset(self) -> None:
        """Closes every client (the idle readers; one in use is closed when given back)."""
        with self._lock:
            for c in (self._writer, *(r for pool in self._idle.values() for r in pool), self._admin):
                if c is not None:
                    _close_quietly(c)
            self._writer = self._admin = None
            self._idle = {}

    def close(self) -> None:
        self.reset()
