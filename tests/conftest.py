"""Shared fixtures.  Everything runs against the real embedded ClickHouse engine (chDB):
one engine path per test process (chDB allows one), sites with unique ids keep tests
apart.  `server` runs the real app under uvicorn in a thread; `live_collector` runs
`footpath serve` as a separate process for tests that stop, kill or restart it."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from collector.app import build_app
from collector.cli import UVICORN_OPTIONS
from collector.settings import Settings, load_settings
from collector.write.store import connect

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
GEOIP = SHARED / "geoip"
CITY_DB = GEOIP / "GeoLite2-City-Test.mmdb"
ASN_DB = GEOIP / "GeoLite2-ASN-Test.mmdb"
ADMIN = "test-admin-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def engine_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture(scope="session")
def ch(engine_dir: Path):
    """A direct client on the session's engine, for assertions (not the code under test)."""
    client = connect("chdb://" + str(engine_dir))
    yield client
    client.close()


def write_config(path: Path, sites: list[dict[str, Any]], settings: dict[str, Any] | None = None) -> Path:
    def val(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return str(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = []
    if settings:
        lines.append("[settings]")
        lines += [f"{k} = {val(v)}" for k, v in settings.items()]
    for s in sites:
        lines.append("[[site]]")
        lines += [f"{k} = {val(v)}" for k, v in s.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class SiteKeys:
    id: str
    public_key: str
    write_key: str
    origin: str


def make_site(origin: str = "https://shop.example", **extra: Any) -> tuple[SiteKeys, dict[str, Any]]:
    sid = "t" + secrets.token_hex(5)
    keys = SiteKeys(sid, f"pk_{sid}", f"sk_{sid}_{secrets.token_hex(8)}", origin)
    table = {"id": sid, "public_key": keys.public_key, "write_key": keys.write_key,
             "origins": [origin], "consent_default": "granted", **extra}
    return keys, table


@dataclass
class Server:
    url: str
    settings: Settings
    app: Any
    site: SiteKeys
    sites: dict[str, SiteKeys] = field(default_factory=dict)

    @property
    def collector(self):
        return self.app.state.collector

    def post(self, path: str, body: Any, key: str | None = None, **kw: Any) -> httpx.Response:
        auth = (key, "") if key else None
        return httpx.post(self.url + path, json=body, auth=auth, timeout=30, **kw)

    def flush(self) -> None:
        assert self.collector.flush(20), "writer did not drain the buffer (or persons did not refresh)"

    def sql(self, query: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        r = httpx.post(self.url + "/v1/sql", json={"sql": query, "params": params or {}},
                       headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60)
        assert r.status_code == 200, r.text
        return r.json()["rows"]


class _ThreadServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test process keeps its own handlers
        pass


def start_server(tmp_path: Path, engine_dir: Path, sites: list[dict[str, Any]], keys: list[SiteKeys],
                 **settings_kw: Any) -> tuple[Server, _ThreadServer, threading.Thread]:
    cfg = write_config(tmp_path / "footpath.toml", sites)
    base = {"data_dir": str(tmp_path / "data"), "clickhouse_url": "chdb://" + str(engine_dir),
            "admin_token": ADMIN, "flush_ms": 50, "geoip_city_db": str(CITY_DB), "geoip_asn_db": str(ASN_DB),
            "fsync": "off", "log_format": "text"}
    base.update(settings_kw)
    settings = load_settings(str(cfg), env={}, overrides=base)
    app = build_app(settings)
    port = free_port()
    srv = _ThreadServer(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", **UVICORN_OPTIONS))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    deadline = time.time() + 20
    while not srv.started:
        assert time.time() < deadline, "server did not start"
        time.sleep(0.02)
    server = Server(f"http://127.0.0.1:{port}", settings, app, keys[0], {k.id: k for k in keys})
    deadline = time.time() + 20
    while not app.state.collector.writer.healthy:
        assert time.time() < deadline, "storage did not come up"
        time.sleep(0.02)
    return server, srv, th


@pytest.fixture
def server_factory(tmp_path: Path, engine_dir: Path, ch: Any) -> Iterator[Any]:
    running: list[tuple[_ThreadServer, threading.Thread]] = []

    def factory(site_extra: dict[str, Any] | None = None, n_sites: int = 1, origin: str = "https://shop.example",
                **settings_kw: Any) -> Server:
        pairs = [make_site(origin, **(site_extra or {})) for _ in range(n_sites)]
        keys = [p[0] for p in pairs]
        sub = tmp_path / f"srv{len(running)}"
        sub.mkdir()
        server, srv, th = start_server(sub, engine_dir, [p[1] for p in pairs], keys, **settings_kw)
        running.append((srv, th))
        return server

    yield factory
    for srv, th in running:
        srv.should_exit = True
        th.join(timeout=30)


@pytest.fixture
def server(server_factory) -> Server:
    return server_factory()


# -- a real `footpath serve` process --------------------------------------------------------
@dataclass
class LiveCollector:
    """`footpath serve` in its own process (own engine), for stop/kill/restart tests and the
    browser suite.  Site "test" with public key pk_test, origin = this server's origin."""

    tmp: Path
    port: int
    site_extra: dict[str, Any]
    env_extra: dict[str, str]
    proc: subprocess.Popen | None = None
    write_key: str = "sk_test_secret_key"
    args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return self.url

    def config(self) -> Path:
        site = {"id": "test", "public_key": "pk_test", "write_key": self.write_key,
                "origins": [self.url, f"http://localhost:{self.port}"], "consent_default": "pending",
                **self.site_extra}
        return write_config(self.tmp / "footpath.toml", [site])

    def start(self, wait_ready: bool = True) -> None:
        env = {**os.environ, "FOOTPATH_DATA_DIR": str(self.tmp / "data"), "FOOTPATH_ADMIN_TOKEN": ADMIN,
               "FOOTPATH_FLUSH_MS": "50", "FOOTPATH_LOG_FORMAT": "text",
               "FOOTPATH_TEST_FIXTURES": str(ROOT / "tests" / "browser" / "fixtures"),
               "FOOTPATH_GEOIP_CITY_DB": str(CITY_DB), "FOOTPATH_GEOIP_ASN_DB": str(ASN_DB), **self.env_extra}
        env.pop("FOOTPATH_CLICKHOUSE_URL", None)
        with open(self.tmp / "serve.log", "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "collector.cli", "--config", str(self.config()),
                                          "serve", "--port", str(self.port), *self.args], env=env, cwd=str(ROOT),
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("collector exited: " + (self.tmp / "serve.log").read_text()[-3000:])
            try:
                r = httpx.get(self.url + ("/readyz" if wait_ready else "/healthz"), timeout=1)
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("collector not ready: " + (self.tmp / "serve.log").read_text()[-3000:])

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def flush(self) -> None:
        r = httpx.post(self.url + "/v1/admin/flush", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60)
        assert r.status_code == 200, r.text

    def sql(self, query: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        self.flush()
        r = httpx.post(self.url + "/v1/sql", json={"sql": query, "params": params or {}},
                       headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60)
        assert r.status_code == 200, r.text
        return r.json()["rows"]


@pytest.fixture
def live_collector_factory(tmp_path: Path) -> Iterator[Any]:
    made: list[LiveCollector] = []

    def factory(site_extra: dict[str, Any] | None = None, env: dict[str, str] | None = None,
                start: bool = True, args: tuple[str, ...] = ()) -> LiveCollector:
        d = tmp_path / f"live{len(made)}"
        d.mkdir()
        lc = LiveCollector(d, free_port(), site_extra or {}, env or {}, args=args)
        made.append(lc)
        if start:
            lc.start()
        return lc

    yield factory
    for lc in made:
        lc.stop()


@pytest.fixture
def live_collector(live_collector_factory) -> LiveCollector:
    return live_collector_factory()




# -- one headless Chromium for every browser test -----------------------------------------
# Playwright's sync API allows one instance per process (a second one finds the first one's
# event loop running), so all browser tests share this session-scoped browser.
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: apt-get install -y chromium"
    tag = ROOT / "sdk_js" / "dist" / "t.js"
    assert tag.is_file(), "sdk_js/dist/t.js missing: run `make tag` (cd sdk_js && npm install && npm run build)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()
