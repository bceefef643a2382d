"""The ingestion hot path compiled with Cython, and the guard against stale builds.

The modules below run for every event (receive -> validate -> enrich -> buffer record),
six for every row a report reads from the views (collector.reports.funnel,
.pathwalk, .ties, .regroup, .resolve and .visitkeys) and one for every row the writer inserts
(collector.write.native); those seven are the only ones with C types (their headers turn
annotation typing on).
setup.py compiles them, unchanged, into extension modules beside their sources: on
batches that is ~25 % less CPU per event (BENCHMARKS.md, HTTP).  The source stays the
definition; the compiled module is a build product of it.

Python imports an extension module in preference to the source beside it, so a source
edited after the build would be silently ignored.  The build records each source's
SHA-256 in `_compiled.json`; `check()` (run when `collector` is imported) refuses to go on
when a compiled module's source no longer matches, naming it and the command that
rebuilds (`make build`; `make pure` removes the compiled modules, e.g. to profile with
py-spy, which cannot see inside them).  Without compiled modules everything runs as
plain Python.  Standard library only: setup.py reads this file before anything is
installed.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
HASHES = "_compiled.json"

# dotted module names; each compiles from its own .py (no other module of the package is
# compiled: pydantic models, Starlette routing, the storage side stay plain Python).
# Not collector.receive.ingest: its coroutines, compiled, cost ~2 us more per request
# than CPython's own (measured, BENCHMARKS.md); the synchronous rest of a request is
# collector.receive.handle.
MODULES: tuple[str, ...] = (
    "collector.pipeline",
    "collector.validate.fast",
    "collector.validate.limits",
    "collector.validate.dedup",
    "collector.receive.handle",
    "collector.receive.body",
    "collector.receive.auth",
    "collector.receive.ratelimit",
    "collector.enrich.campaign",
    "collector.enrich.useragent",
    "collector.enrich.geo",
    "collector.enrich.consent",
    "collector.enrich.clock",
    "collector.enrich.clientip",
    "collector.plans.step",
    "collector.reports.funnel",
    "collector.reports.pathwalk",
    "collector.reports.ties",
    "collector.reports.regroup",
    "collector.reports.resolve",
    "collector.reports.visitkeys",
    "collector.write.native",
)


def source_path(module: str, package_dir: Path = PACKAGE_DIR) -> Path:
    return package_dir.joinpath(*module.split(".")[1:]).with_suffix(".py")


def extension_files(package_dir: Path = PACKAGE_DIR) -> dict[Path, Path]:
    """Every compiled module in the package: the extension file, keyed by the source it
    stands in for (Python imports the extension instead of that source)."""
    return {p.with_name(p.name.split(".")[0] + ".py"): p
            for suffix in importlib.machinery.EXTENSION_SUFFIXES for p in package_dir.rglob("*" + suffix)}


def unlisted(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """Extension files of modules not in MODULES (a build from before the list changed)."""
    listed = {source_path(m, package_dir) for m in MODULES}
    return [ext for src, ext in extension_files(package_dir).items() if src not in listed]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stale(package_dir: Path = PACKAGE_DIR) -> list[str]:
    """Modules whose compiled file does not come from their current source, and compiled
    modules no longer listed."""
    try:
        built = json.loads((package_dir / HASHES).read_text())
    except (FileNotFoundError, ValueError):
        built = {}
    by_source = {source_path(m, package_dir): m for m in MODULES}
    out = []
    for src in extension_files(package_dir):
        module = by_source.get(src)
        if module is None:
            out.append(".".join((package_dir.name, *src.relative_to(package_dir).with_suffix("").parts)))
        elif not src.exists() or built.get(module) != digest(src):
            out.append(module)
    return sorted(out)


def check(package_dir: Path = PACKAGE_DIR) -> None:
    bad = stale(package_dir)
    if bad:
        raise ImportError(
            f"compiled module(s) {', '.join(bad)} in {package_dir} were not built from the current source "
            "(edited since, or no longer compiled): "
            "rebuild them with `make build` (or remove them with `make pure` to run plain Python)")
