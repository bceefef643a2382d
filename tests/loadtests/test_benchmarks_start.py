"""Every benchmark in loadtests/ that needs no system tool still starts and finishes on a
tiny input. A benchmark is run by hand, rarely, so a schema or API change can break it
unseen: attribution_bench applied a subset of the migrations and failed at start for
several rounds before anyone ran it. (http_bench and soak drive wrk, which CI lacks.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# (arguments after `python`, text its output must hold when it ran to the end)
BENCHMARKS = {
    "asgi": (["-m", "loadtests.asgi_bench", "--requests", "300"], "statuses {200: 600}"),
    "attribution": (["loadtests/attribution_bench.py", "--scale", "0.001", "--runs", "1"], '"conversions": '),
    "enrich": (["-m", "loadtests.enrich_bench", "--events", "300"], "TOTAL wall"),
    "fsync": (["loadtests/fsync_bench.py", "--seconds", "0.3"], "always"),
    "identity": (["loadtests/identity_bench.py", "--events", "2000", "--runs", "1"], '"funnel_levels"'),
    "plan": (["-m", "loadtests.plan_bench", "--events", "300"], "load + compile"),
    "reports": (["loadtests/reports_bench.py", "--scale", "0.001", "--runs", "1", "--ingest-rows", "2000"],
                "paths_person {"),
    "view_cost": (["-m", "loadtests.view_cost", "--rows", "2000", "--block", "1000", "--reps", "1"], "(all views)"),
    "writer": (["-m", "loadtests.writer_bench", "--rows", "3000", "--flush-rows", "1000"], "with all views"),
}


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_benchmark_runs_to_the_end(name: str, tmp_path: Path) -> None:
    args, marker = BENCHMARKS[name]
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # their engines and buffers go under the test's directory
    env.pop("FOOTPATH_CONFIG", None)
    out = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert marker in out.stdout, out.stdout[-3000:]
