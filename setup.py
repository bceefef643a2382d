"""Compiles the ingestion hot path (collector/_compiled.py: MODULES) with Cython.

Everything else about the package is in pyproject.toml.  `make build` runs
`python setup.py build_ext --inplace`; `pip install .` builds the same extensions into the
wheel.  Each build records the SHA-256 of every source it compiled (collector/_compiled.json)
so that an edited source is never shadowed by an older compiled module (_compiled.check).

FOOTPATH_PURE_PYTHON=1 installs without compiling (no C compiler on the machine, e.g. a
slim container image): everything runs as plain Python, ~25 % more CPU per batched event.
A failing compile is an error, never a silent fallback to the slower path.
"""

from __future__ import annotations

import json
import os
import runpy
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
spec = runpy.run_path(str(ROOT / "collector" / "_compiled.py"))  # not imported: no package yet

# Pure-Python semantics: annotations are documentation, not C types (binding keeps
# signatures and introspection as for plain functions).
DIRECTIVES = {"language_level": 3, "binding": True, "annotation_typing": False}


class BuildExt(build_ext):
    def run(self) -> None:
        if self.inplace:  # compiled modules no longer listed would shadow their sources
            for path in spec["unlisted"](ROOT / "collector"):
                path.unlink()
        super().run()
        hashes = {m: spec["digest"](spec["source_path"](m, ROOT / "collector")) for m in spec["MODULES"]}
        base = ROOT if self.inplace else Path(self.build_lib)
        (base / "collector" / spec["HASHES"]).write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")


if os.environ.get("FOOTPATH_PURE_PYTHON", "") not in ("", "0"):
    setup()
else:
    from Cython.Build import cythonize

    extensions = [Extension(m, [str(spec["source_path"](m, Path("collector")))]) for m in spec["MODULES"]]
    setup(ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES, quiet=True),
          cmdclass={"build_ext": BuildExt})
