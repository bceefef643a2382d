# cython: annotation_typing=True, boundscheck=False, wraparound=False, initializedcheck=False
"""Person reports without the engine's sort: each person's rows together, in time order.

report_steps is stored by session (site, ck, t), so the rows of a person report come off
the disk as runs: one session's rows of one person, in rising time.  Most persons have one
such run (753k of 889k in the 10M-event benchmark, 73 % of the rows); only the others need
their runs merged.  The engine's `ORDER BY person_key, t` sorted all 4.4M rows to do that
(~200 ms of a ~400 ms report).  Here: the runs are found in one pass (run_starts), the
runs' persons sorted (numpy, 1M keys), and one permutation lays out first the one-run
persons' rows as they came, then each other person's runs merged by time (permutation).
Any arrival order gives the same grouping (a run ends wherever the person changes or the
time goes back), so the engine may read with all its threads.  Compiled with Cython
(collector/_compiled.py); as plain Python it gives the same answers, slowly."""

from __future__ import annotations

try:
    import cython

    COMPILED: bool = cython.compiled  # True in the extension module Cython built from this file
except ImportError:  # plain Python: the annotations are never evaluated
    COMPILED = False


def run_starts(keys: cython.ulonglong[::1], ts: cython.ulonglong[::1], out: cython.longlong[::1]) -> int:
    """Writes the first row of every run (a row whose key differs from the row before, or
    whose time is earlier) to out, then len(keys); returns the number of runs.  out holds
    len(keys) + 1."""
    n: cython.Py_ssize_t = keys.shape[0]
    i: cython.Py_ssize_t
    k: cython.Py_ssize_t = 0
    if n:
        out[0] = 0
        k = 1
    for i in range(1, n):
        if keys[i] != keys[i - 1] or ts[i] < ts[i - 1]:
            out[k] = i
            k += 1
    out[k] = n
    return k


def permutation(ts: cython.ulonglong[::1], starts: cython.longlong[::1], order: cython.longlong[::1],
                sorted_keys: cython.ulonglong[::1], perm: cython.longlong[::1],
                scratch: cython.longlong[::1]) -> int:
    """Fills perm (one slot per row) with the rows' new order: the runs whose key no other
    run has, in their order, then for each key with several runs (in sorted_keys' order)
    its runs merged by time, equal times keeping the earlier run's row first.  starts: the
    runs' first rows and then the row count (run_starts); order: the runs sorted by key;
    sorted_keys: their keys in that order; scratch: one slot per row.  Returns the number
    of rows of several-run keys."""
    r: cython.Py_ssize_t = order.shape[0]
    i: cython.Py_ssize_t = 0
    j: cython.Py_ssize_t
    q: cython.Py_ssize_t
    x: cython.Py_ssize_t
    run: cython.Py_ssize_t
    pos: cython.Py_ssize_t = 0
    seg: cython.Py_ssize_t
    a: cython.Py_ssize_t
    s: cython.Py_ssize_t
    e: cython.Py_ssize_t
    m: cython.Py_ssize_t
    single: cython.Py_ssize_t
    # pass 1: the one-run keys' rows, as they came (scratch[run] = 1 marks a run whose key
    # another run has; the merges of pass 2 reuse scratch afterwards)
    for q in range(r):
        scratch[q] = 0
    while i < r:
        j = i + 1
        while j < r and sorted_keys[j] == sorted_keys[i]:
            j += 1
        if j - i > 1:
            for q in range(i, j):
                scratch[order[q]] = 1
        i = j
    for run in range(r):
        if not scratch[run]:
            for x in range(starts[run], starts[run + 1]):
                perm[pos] = x
                pos += 1
    single = pos
    # pass 2: each shared key's runs, merged one after another into perm[seg:pos]
    i = 0
    while i < r:
        j = i + 1
        while j < r and sorted_keys[j] == sorted_keys[i]:
            j += 1
        if j - i > 1:
            seg = pos
            for x in range(starts[order[i]], starts[order[i] + 1]):
                perm[pos] = x
                pos += 1
            for q in range(i + 1, j):
                a = seg
                s = starts[order[q]]
                e = starts[order[q] + 1]
                m = 0
                while a < pos and s < e:
                    if ts[perm[a]] <= ts[s]:
                        scratch[m] = perm[a]
                        a += 1
                    else:
                        scratch[m] = s
                        s += 1
                    m += 1
                while a < pos:
                    scratch[m] = perm[a]
                    a += 1
                    m += 1
                while s < e:
                    scratch[m] = s
                    s += 1
                    m += 1
                for x in range(m):
                    perm[seg + x] = scratch[x]
                pos = seg + m
        i = j
    return pos - single
