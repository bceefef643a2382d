"""The tag's assignment (sdk_js/src/experiments.js, run with node) equals Python's on
10,000 generated ids, unicode included, and the built module stays small."""

from __future__ import annotations

import gzip
import json
import random
import shutil
import subprocess
import uuid
from pathlib import Path

from collector.experiments.assign import assign, bucket

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "sdk_js" / "src" / "experiments.js"

SCRIPT = """
import { bucket, pick } from %s
let data = ''
process.stdin.on('data', (d) => (data += d))
process.stdin.on('end', () => {
  const { ids, exps, weights } = JSON.parse(data)
  const out = ids.map((id, i) => { const e = exps[i %% exps.length]; const u = bucket(e, id); return [u, pick(u, weights)] })
  process.stdout.write(JSON.stringify(out))
})
"""


def test_js_and_python_agree_on_10000_ids(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node is required (sdk_js build)"
    rng = random.Random(7)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(6000)]
    ids += [f"user-{i}" for i in range(2000)]
    ids += ["".join(rng.choice("aé漢😀_-.@") for _ in range(rng.randint(1, 12))) for _ in range(2000)]
    exps = ["checkout-button", "exp:2", "ünï", "a"]
    weights = [10, 33.3, 20, 36.7]
    script = tmp_path / "run.mjs"
    script.write_text(SCRIPT % json.dumps(SRC.as_uri()))
    res = subprocess.run([node, str(script)], input=json.dumps({"ids": ids, "exps": exps, "weights": weights}),
                         capture_output=True, text=True, timeout=60, check=True)
    js = json.loads(res.stdout)
    assert len(js) == 10_000
    for i, (u, idx) in enumerate(js):
        e = exps[i % len(exps)]
        assert u == bucket(e, ids[i]), (e, ids[i])
        assert idx == assign(e, ids[i], weights), (e, ids[i])


def test_module_size() -> None:
    dist = ROOT / "sdk_js" / "dist"
    exp = dist / "exp.js"
    assert exp.is_file(), "sdk_js/dist/exp.js missing: run `make tag`"
    assert len(gzip.compress(exp.read_bytes(), 9)) < 1500
    assert len(gzip.compress((dist / "t.js").read_bytes(), 9)) <= 4096
