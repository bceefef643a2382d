# cython: annotation_typing=True, boundscheck=False, wraparound=False, initializedcheck=False
"""The paths report's per-container work, one pass over rows sorted by (container, time,
label rank, flags): each container's cut sequence of label ranks, as paths.build's SQL
cuts it (the raw table's answer, which the tests compare it with):

  collapse_repeats -- a step equal to the one before it (label and kind) is left out
  anchor 0         -- the container's first depth+1 steps
  anchor 1 (start) -- from its first step matching the anchor (flags bit 4), depth+1 steps
  anchor 2 (end)   -- up to its last anchor step, depth+1 steps, read backward
  then, when the sequence ran out before depth+1 steps, the end marker (exit or entry),
  and 0 (no label) in the places after it.  Containers without an anchor step give none.

Compiled with Cython (collector/_compiled.py); as plain Python it gives the same answers,
slowly."""

from __future__ import annotations

try:
    import cython

    COMPILED: bool = cython.compiled  # True in the extension module Cython built from this file
except ImportError:  # plain Python without Cython: the annotations are never evaluated
    import contextlib
    import types

    cython = types.SimpleNamespace(nogil=contextlib.nullcontext())
    COMPILED = False

import numpy as np

END = 4294967295  # paths.END_RANK


def walk(keys: cython.ulonglong[::1], ranks: cython.uint[::1], flags: cython.uchar[::1], depth: cython.int,
         collapse: cython.bint, anchor: cython.int, final: cython.bint, out: cython.uint[:, ::1],
         at: cython.longlong[::1], z: cython.longlong[::1]) -> tuple[int, int]:
    """Walks the containers of one block (see funnel.walk for `final` and the return
    value); writes one row of `out` (depth + 1 ranks) per path, and its container's first
    row to `at`; z is scratch, one per row."""
    rows: cython.Py_ssize_t = keys.shape[0]
    a: cython.Py_ssize_t = 0
    b: cython.Py_ssize_t
    i: cython.Py_ssize_t
    j: cython.Py_ssize_t
    lo: cython.Py_ssize_t
    hi: cython.Py_ssize_t
    nz: cython.Py_ssize_t
    k: cython.Py_ssize_t
    count: cython.Py_ssize_t = 0
    with cython.nogil:  # C values only: another thread may run Python meanwhile (stream.py)
        while a < rows:
            b = a + 1
            while b < rows and keys[b] == keys[a]:
                b += 1
            if b == rows and not final:
                break
            nz = 0
            for i in range(a, b):
                if collapse and i > a and ranks[i] == ranks[i - 1] and (flags[i] & 3) == (flags[i - 1] & 3):
                    continue
                z[nz] = i
                nz += 1
            j = -1
            if anchor == 1:
                for i in range(nz):
                    if flags[z[i]] & 16:
                        j = i
                        break
            elif anchor == 2:
                i = nz - 1
                while i >= 0:
                    if flags[z[i]] & 16:
                        j = i
                        break
                    i -= 1
            if anchor == 0:
                lo, hi = 0, min(nz, depth + 1)
            elif j < 0:
                a = b
                continue
            elif anchor == 1:
                lo, hi = j, min(nz, j + depth + 1)
            else:
                lo, hi = max(0, j - depth), j + 1
            for k in range(hi - lo):
                out[count, k] = ranks[z[hi - 1 - k]] if anchor == 2 else ranks[z[lo + k]]
            k = hi - lo
            if k <= depth:
                out[count, k] = 4294967295  # END, as a C constant
                k += 1
            while k <= depth:
                out[count, k] = 0
                k += 1
            at[count] = a
            count += 1
            a = b
    return a, count


def outputs(rows: int, depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrays for walk(): the paths (rows x depth+1 ranks), their containers' first rows,
    and the scratch."""
    return (np.empty((rows, depth + 1), dtype=np.uint32), np.empty(rows, dtype=np.int64),
            np.empty(rows, dtype=np.int64))


def layer(paths: cython.uint[:, ::1], k: cython.int, width: cython.longlong, end: cython.longlong,
          shown: cython.longlong[::1], keys: cython.longlong[::1], counts: cython.longlong[::1]) -> None:
    """One depth of paths.reduce over walk()'s paths, counted in a dense array: each path's
    (node, label) pair at depth k becomes node * width + label in keys, and counts[pair] goes
    up by one.  The node is what its pair at depth k - 1 was shown as (shown[keys[i]], a
    label or (other)), the root (0) at depth 0; END becomes `end`."""
    rows: cython.Py_ssize_t = paths.shape[0]
    i: cython.Py_ssize_t
    lab: cython.longlong
    key: cython.longlong
    mark: cython.longlong = END  # typed here: the bare literal would be a Python int
    with cython.nogil:  # the paths are counted in halves on two threads (paths.reduce)
        for i in range(rows):
            lab = paths[i, k]
            if lab == mark:
                lab = end
            key = (shown[keys[i]] * width if k > 0 else 0) + lab
            keys[i] = key
            counts[key] += 1
