"""The ingestion hot path compiled with Cython, and the guard against stale builds.

The modules below run for every event (receive -> validate -> enrich -> buffer record).
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
# than CPython's own (measured, BENCHMARKS.md), and it does no per-message work.
MODULES: tuple[str, ...] = (
    "collector.pipeline",
    "collector.validate.fast",
    "collector.validate.limits",
    "collector.validate.dedup",
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
)


def source_path(module: str, package_dir: Path = PACKAGE_DIR) -> Path:
    return package_dir.joinpath(*module.split(".")[1:]).with_suffix(".py")


def compiled_paths(module: str, package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """The extension files Python would import for `module` instead of its source."""
    src = source_path(module, package_dir)
    return [p for suffix in importlib.machinery.EXTENSION_SUFFIXES
            if (p := src.with_name(src.stem + suffix)).exists()]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stale(package_dir: Path = PACKAGE_DIR) -> list[str]:
    """Modules whose compiled file does not come from their current source, and compiled
    files of modules no longer listed (a build from before the list changed)."""
    try:
        built = json.loads((package_dir / HASHES).read_text())
    except (FileNotFoundError, ValueError):
        built = {}
    listed = {source_path(m, package_dir) for m in MODULES}
    files = {p for suffix in importlib.machinery.EXTENSION_SUFFIXES for p in package_dir.rglob("*" + suffix)}
    out = sorted({".".join((package_dir.name, *p.relative_to(package_dir).parent.parts, p.name.split(".")[0]))
                  for p in files if p.with_name(p.name.split(".")[0] + ".py") not in listed})
    for module in MODULES:
        if not compiled_paths(module, package_dir):
            continue  # plain Python
        src = source_path(module, package_dir)
        if not src.exists() or built.get(module) != digest(src):
            out.append(module)
    return out


def check(package_dir: Path = PACKAGE_DIR) -> None:
    bad = stale(package_dir)
    if bad:
        raise ImportError(
            f"compiled module(s) {', '.join(bad)} in {package_dir} were not built from the current source "
            "(edited since, or no longer compiled): "
            "rebuild them with `make build` (or remove them with `make pure` to run plain Python)")
