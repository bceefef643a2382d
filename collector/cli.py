"""The `footpath` command.  Commands that read or change data talk to the running
collector's admin API (the embedded engine belongs to that one process)."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson

from collector.settings import ConfigError, Settings, load_settings, settings_markdown
from collector.sites import DEMO_KEY_PREFIX, demo_site


def _fail(msg: str, code: int = 2) -> int:
    print(f"footpath: {msg}", file=sys.stderr)
    return code


def _admin_token(settings: Settings) -> str:
    if settings.admin_token:
        return settings.admin_token
    f = Path(settings.data_dir) / "admin_token"
    return f.read_text().strip() if f.is_file() else ""


def prepared_settings(config: str | None, data_dir: str | None, port: int, quiet: bool = False) -> Settings:
    """Settings as `serve` runs them: admin token generated (and kept in the data dir) when
    none is configured; with no site configured, the demo site with a write key kept in the
    data dir, so restarts and worker processes agree on it.  A config file with no site is
    refused (ConfigError): the demo site is for starting without one."""
    settings = load_settings(config, overrides={"data_dir": data_dir})
    data = Path(settings.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    if not settings.admin_token:
        settings = _replace(settings, admin_token=_kept_secret(data / "admin_token"))
        if not quiet:
            print(f"admin token (saved in {data / 'admin_token'}): {settings.admin_token}", flush=True)
    if not settings.sites and settings.config:  # a config file that forgot its sites is a mistake (QA)
        raise ConfigError(f"{settings.config}: no [[site]] table: add one (docs/settings.md), or start without a "
                          "config file for the demo site")
    if not settings.sites:
        site = demo_site((f"http://127.0.0.1:{port}", f"http://localhost:{port}"),
                         write_key=_kept_secret(data / "demo_write_key", prefix=DEMO_KEY_PREFIX))
        settings = settings.with_sites((site,))
        if not quiet:
            print(f"no config file: demo site 'demo' created\n  public key: {site.public_key}\n"
                  f"  write key:  {site.write_key}\n  origins:    {', '.join(site.origins)}\n"
                  f"  demo shop:  http://127.0.0.1:{port}/demo/", flush=True)
    return settings


def _kept_secret(path: Path, prefix: str = "") -> str:
    """The secret kept in path (made and saved, readable by the owner only, on first use),
    whole as it is used: `cat data/demo_write_key` gives the key to send.  A file from before
    the prefix was kept holds the secret alone; it is read as the same key and rewritten."""
    if path.is_file():
        value = path.read_text().strip()
        if value.startswith(prefix):
            return value
    else:
        value = secrets.token_urlsafe(24)
    value = prefix + value
    path.write_text(value)
    os.chmod(path, 0o600)
    return value


# What every uvicorn the collector runs under is given (`serve`, its edge workers, the
# tests' in-thread server).  proxy_headers off: uvicorn would otherwise believe
# X-Forwarded-For from 127.0.0.1 and rewrite the peer before the app sees it, so a local
# process could name any client address; `trusted_proxies` is the one setting that decides
# (collector/enrich/clientip.py).
# http: the httptools protocol with a read deadline and a header limit (receive/guard.py)
UVICORN_OPTIONS: dict[str, Any] = {"log_level": "warning", "access_log": False, "proxy_headers": False,
                                   "http": "collector.receive.guard:GuardedHttpTools"}


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from collector.app import build_app
    from collector.ops import logs

    try:
        settings = prepared_settings(args.config, args.data_dir, args.public_port or args.port,
                                     quiet=args.public_port is not None)
    except ConfigError as e:
        return _fail(f"bad configuration: {e}")
    if args.public_port is None and (busy := _in_use(settings)):  # not a --workers child: its parent checked
        return _fail(f"another collector is running on {busy} (its write-ahead buffer is locked): stop it, or "
                     "give this one another --data-dir")
    logs.setup(settings.log_format)
    uv = {**UVICORN_OPTIONS, "timeout_graceful_shutdown": 10, "limit_concurrency": args.limit_concurrency}
    if args.workers <= 1:
        uvicorn.run(build_app(settings), host=args.host, port=args.port, **uv)
        return 0
    return _serve_workers(args, settings, uv)


def _in_use(settings: Settings) -> str | None:
    """The data directory, when a running collector holds its buffer (the lock every collector
    takes for its lifetime, collector/buffer/wal.py); else None."""
    import fcntl

    lock = Path(settings.buffer_dir) / "w0.lock"
    if not lock.is_file():
        return None
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    except BlockingIOError:
        return str(Path(settings.data_dir).resolve())
    finally:
        os.close(fd)


def _serve_workers(args: argparse.Namespace, settings: Settings, uv: dict[str, Any]) -> int:
    """One writer process on a loopback port, then N uvicorn edge workers."""
    import secrets
    import socket

    import uvicorn

    from collector.edge import WriterProcess
    from collector.service import SHARED_IDS_ENV
    from collector.validate.dedup import SharedRecentIds

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        internal = sock.getsockname()[1]
    # The message-id cache all of them share (validate/dedup.py, SharedRecentIds), keyed by
    # Python's str hash: one hash seed for every process of this run, a new one per start.
    shared_ids = Path(settings.buffer_dir).resolve() / "recent_ids"
    shared_ids.parent.mkdir(parents=True, exist_ok=True)
    SharedRecentIds.create(str(shared_ids), settings.dedup_capacity)
    env = {**os.environ, "FOOTPATH_ADMIN_TOKEN": settings.admin_token,
           "FOOTPATH_DATA_DIR": str(Path(settings.data_dir).resolve()),
           "FOOTPATH_PUBLIC_PORT": str(args.port), SHARED_IDS_ENV: str(shared_ids),
           "PYTHONHASHSEED": str(secrets.randbelow(2**32 - 1) + 1)}
    if settings.config:
        env["FOOTPATH_CONFIG"] = str(Path(settings.config).resolve())
    writer = WriterProcess([sys.executable, "-m", "collector.cli", "serve", "--port", str(internal),
                            "--host", "127.0.0.1", "--public-port", str(args.port)], env)
    os.environ.update(env, FOOTPATH_WRITER_URL=f"http://127.0.0.1:{internal}")
    try:
        uvicorn.run("collector.edge:app_factory", factory=True, workers=args.workers, host=args.host,
                    port=args.port, **uv)
    finally:
        writer.stop()  # edges are down: the writer drains every series, exits
    return 0


def _replace(settings: Settings, **kw: Any) -> Settings:
    from dataclasses import replace

    return replace(settings, **kw)


def cmd_migrate(args: argparse.Namespace) -> int:
    from collector.write.store import ClusterRender, apply_migrations, connect, render_all

    overrides: dict[str, Any] = {"data_dir": args.data_dir}
    if args.cluster is not None:
        overrides["clickhouse_cluster"] = args.cluster
    if args.print_sql:  # printing needs no storage, only the cluster's name
        overrides["clickhouse_url"] = "http://print-only"
    try:
        settings = load_settings(args.config, overrides=overrides)
    except ConfigError as e:
        return _fail(f"bad configuration: {e}")
    cluster = ClusterRender(settings.clickhouse_cluster)
    if args.print_sql:
        for name, statements in render_all(cluster):
            print(f"-- {name}")
            for st in statements:
                print(st.rstrip(";") + ";\n")
        return 0
    if settings.effective_clickhouse_url.startswith("chdb://") and (busy := _in_use(settings)):
        return _fail(f"the collector running on {busy} owns its embedded engine and applied the migrations when "
                     "it started; `footpath migrate` is for a stopped collector or a ClickHouse server")
    applied = apply_migrations(connect(settings.effective_clickhouse_url), cluster)
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0


def _api(args: argparse.Namespace, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    try:
        settings = load_settings(args.config, overrides={"data_dir": args.data_dir}, sites=False)
    except ConfigError as e:
        raise SystemExit(_fail(f"bad configuration: {e}")) from None
    url = (args.url or os.environ.get("FOOTPATH_URL") or "http://127.0.0.1:8000").rstrip("/")
    token = _admin_token(settings)
    if not token:
        raise SystemExit(_fail(f"no admin token: set FOOTPATH_ADMIN_TOKEN (or admin_token in the config), or "
                               f"point --data-dir at the collector's data directory (no admin_token file in "
                               f"{Path(settings.data_dir).resolve()})"))
    try:
        r = httpx.request(method, url + path, content=orjson.dumps(body) if body is not None else None,
                          headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                          timeout=120)
    except httpx.HTTPError as e:
        raise SystemExit(_fail(f"no collector answers at {url} ({e.__class__.__name__}); "
                               "start one with `footpath serve` or pass --url")) from None
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, {"error": r.text}


def cmd_sql(args: argparse.Namespace) -> int:
    status, doc = _api(args, "POST", "/v1/sql", {"sql": args.query})
    if status != 200:
        return _fail(f"HTTP {status}: {doc.get('error')}", 1)
    if args.json:
        print(orjson.dumps(doc).decode())
        return 0
    print("\t".join(doc["columns"]))
    for row in doc["rows"]:
        print("\t".join("" if v is None else str(v) for v in row))
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    print(settings_markdown(), end="")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="footpath", description="Footpath collector and tools",
                                epilog="Settings: `footpath settings` lists every setting and its variable.")
    for flag, help_text in GLOBAL_OPTIONS:
        p.add_argument(flag, help=help_text)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the collector")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, default=1,
                   help="edge processes; with N > 1 one more process owns ClickHouse and writes")
    s.add_argument("--limit-concurrency", type=int, default=2000,
                   help="connections+requests per process before uvicorn answers 503")
    s.add_argument("--public-port", type=int, default=None, help=argparse.SUPPRESS)
    s.set_defaults(func=cmd_serve)
    m = sub.add_parser("migrate", help="apply ClickHouse migrations (the collector also does this at start)")
    m.add_argument("--cluster", help="render for this ClickHouse cluster: ON CLUSTER, Replicated*, Distributed "
                                     "(default: the clickhouse_cluster setting)")
    m.add_argument("--print", dest="print_sql", action="store_true", help="print the SQL instead of running it")
    m.set_defaults(func=cmd_migrate)
    q = sub.add_parser("sql", help="run read-only SQL through the running collector")
    q.add_argument("query")
    q.add_argument("--json", action="store_true", help="print the raw JSON answer")
    q.set_defaults(func=cmd_sql)
    st = sub.add_parser("settings", help="print the settings reference (Markdown)")
    st.set_defaults(func=cmd_settings)
    from identity.commands import add_commands

    add_commands(sub, _api)  # person, erase (identity/commands.py)
    from collector.plans.commands import add_commands as add_plan_commands

    add_plan_commands(sub, _api)  # plan check|infer, quarantine list|replay, quality (collector/plans/)
    from collector.reports.commands import add_commands as add_report_commands

    add_report_commands(sub, _api)  # report fallout|paths (collector/reports/commands.py)
    from collector.attribution.commands import add_commands as add_attribution_commands

    add_attribution_commands(sub, _api)  # report attribution (collector/attribution/commands.py)
    from collector.experiments.commands import add_commands as add_experiment_commands

    add_experiment_commands(sub, _api)  # report experiment (collector/experiments/commands.py)
    _global_options_everywhere(p)
    return p


GLOBAL_OPTIONS = (("--config", "TOML config file (default $FOOTPATH_CONFIG)"),
                  ("--data-dir", "data directory (default $FOOTPATH_DATA_DIR or ./data)"),
                  ("--url", "collector URL for admin commands (default $FOOTPATH_URL or http://127.0.0.1:8000)"))


def _global_options_everywhere(p: argparse.ArgumentParser) -> None:
    """--config, --data-dir and --url after the command too (`footpath serve --config F`, as
    ARCHITECTURE.md writes it); given there, they override the ones before it."""
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                if not any(isinstance(a, argparse._SubParsersAction) for a in child._actions):
                    have = {o for a in child._actions for o in a.option_strings}
                    for flag, help_text in GLOBAL_OPTIONS:
                        if flag not in have:
                            child.add_argument(flag, default=argparse.SUPPRESS, help=help_text)
                _global_options_everywhere(child)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `footpath migrate --print | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0


if __name__ == "__main__":
    sys.exit(main())
