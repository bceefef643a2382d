# cython: annotation_typing=True, boundscheck=False, wraparound=False, initializedcheck=False
"""The fallout's per-container work, one pass over rows sorted by (container, time, mask).

The views' rows (footpath.report_steps) come out of the engine already sorted by container
and time, so a funnel is a walk along them: no per-container arrays, no lambda passes.
This module is that walk.  It computes exactly what fallout.build's SQL computes per
container (the raw table's answer, which tests compare it with on every scenario):

  eventual -- windowFunnel(window, 'strict_once') levels: S[k] is the latest start of a
              chain that reached step k so far; an event matching step k extends S[k-1]
              (as it was before this event: each event serves one step) when it lies within
              the window of that start.  The level is the highest step any chain reached;
              the chain behind the medians is the first one to reach it (its last step
              happens first), from its start (the first step-1 row at that time), each
              step at its first match after the last.
  strict   -- each step is the very next row (the SQL leaves out tag-internal events); of
              all step-1 starts the highest level wins, then the earliest last step, then
              the latest start.

For each container with a step-1 row it writes the level, the chain's step times
(milliseconds: t >> 21, sources.SEQ_BITS; 0 beyond the level) and the row of its first step-1 event (the breakdown
value's row).  Compiled with Cython (collector/_compiled.py); as plain Python it gives the
same answers, slowly.  Times are packed (ms << 21 | sequence), the window likewise
(sources.window_packed)."""

from __future__ import annotations

try:
    import cython
except ImportError:  # plain Python without Cython: the annotations are never evaluated
    import contextlib
    import types

    cython = types.SimpleNamespace(nogil=contextlib.nullcontext())

import numpy as np


def walk(keys: cython.ulonglong[::1], ts: cython.ulonglong[::1], ms: cython.ushort[::1],
         n: cython.int, window: cython.ulonglong, strict: cython.bint, final: cython.bint,
         lvl_out: cython.uchar[::1], tm_out: cython.longlong[:, ::1], first_out: cython.longlong[::1],
         s: cython.ulonglong[::1], f: cython.ulonglong[::1]) -> tuple[int, int]:
    """Walks the containers of one block of sorted rows.  Without `final` the last
    container may continue in the next block: it is left alone and its first row returned
    as `consumed`, for the caller to carry over.  Returns (consumed rows, containers
    written); outputs hold at least one slot per row; s and f are scratch (n + 1 each)."""
    rows: cython.Py_ssize_t = keys.shape[0]
    a: cython.Py_ssize_t = 0
    b: cython.Py_ssize_t
    i: cython.Py_ssize_t
    p: cython.Py_ssize_t
    q: cython.Py_ssize_t
    first: cython.Py_ssize_t
    best: cython.Py_ssize_t
    best_last: cython.Py_ssize_t
    out: cython.Py_ssize_t = 0
    k: cython.int
    lvl: cython.int
    x: cython.ulonglong
    prev: cython.ulonglong
    mm: cython.uint
    with cython.nogil:  # C values only: another thread may run Python meanwhile (stream.py)
        while a < rows:
            b = a + 1
            while b < rows and keys[b] == keys[a]:
                b += 1
            if b == rows and not final:
                break
            first = -1
            if strict:
                best = -1
                lvl = 0
                best_last = 0
                for p in range(a, b):
                    if not ms[p] & 1:
                        continue
                    if first < 0:
                        first = p
                    k = 2
                    while k <= n:
                        q = p + k - 1
                        if q < b and (ms[q] >> (k - 1)) & 1 and ts[q] <= ts[p] + window:
                            k += 1
                        else:
                            break
                    k -= 1  # this start's level
                    q = p + k - 1
                    if k > lvl or (k == lvl and (q < best_last or (q == best_last and p > best))):
                        best = p
                        lvl = k
                        best_last = q
                if first >= 0:
                    for k in range(n):
                        tm_out[k, out] = (ts[best + k] >> 21) if k < lvl else 0
            else:
                for k in range(n + 1):
                    s[k] = 0
                    f[k] = 0
                for i in range(a, b):
                    x = ts[i]
                    mm = ms[i]
                    if mm == 1:  # the common row, a step-1 match only: no chain to extend
                        s[1] = x
                        if first < 0:
                            first = i
                        continue
                    k = n
                    while k >= 2:  # downwards: S[k-1] is still the value from before this row
                        if (mm >> (k - 1)) & 1:
                            prev = s[k - 1]
                            if prev != 0 and x <= prev + window:
                                if f[k] == 0:
                                    f[k] = prev
                                s[k] = prev
                        k -= 1
                    if mm & 1:
                        s[1] = x
                        if first < 0:
                            first = i
                if first >= 0:
                    lvl = 1
                    k = n
                    while k >= 2:
                        if f[k] != 0:
                            lvl = k
                            break
                        k -= 1
                    x = f[lvl] if lvl >= 2 else s[1]  # the chain's start
                    q = a  # the first step-1 row at the start time (others may share it)
                    while ts[q] != x or not ms[q] & 1:
                        q += 1
                    tm_out[0, out] = ts[q] >> 21
                    for k in range(1, n):
                        if k < lvl:
                            q += 1
                            while not (ms[q] >> k) & 1:
                                q += 1
                            tm_out[k, out] = ts[q] >> 21
                        else:
                            tm_out[k, out] = 0
            if first >= 0:
                lvl_out[out] = lvl
                first_out[out] = first
                out += 1
            a = b
    return a, out


def pick(levels: cython.uchar[::1], gaps: cython.longlong[::1], k: cython.int, out: cython.longlong[::1],
         at: cython.Py_ssize_t) -> int:
    """Writes the gaps of the containers whose level is above k to out from position at,
    in order; returns the position after the last (fallout._aggregate: the medians)."""
    i: cython.Py_ssize_t
    with cython.nogil:  # the medians of several steps are picked on several threads
        for i in range(levels.shape[0]):
            if levels[i] > k:
                out[at] = gaps[i]
                at += 1
    return at


def outputs(rows: int, n: int) -> tuple[np.ndarray, ...]:
    """Arrays for walk(): level, chain times (n x rows: each step's times in one row, as
    the medians read them), first step-1 row (walk writes every slot of the containers it
    counts), and scratch."""
    return (np.empty(rows, dtype=np.uint8), np.empty((n, rows), dtype=np.int64),
            np.empty(rows, dtype=np.int64), np.zeros(n + 1, dtype=np.uint64), np.zeros(n + 1, dtype=np.uint64))
