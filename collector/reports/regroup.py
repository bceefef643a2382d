# cython: annotation_typing=True, boundscheck=False, wraparound=False, initializedcheck=False
"""Person reports without the engine's sort: each person's rows together, in time order.

report_steps is stored by session (site, ck, t), so the rows of a person report come off
the disk as runs: one session's rows of one person, in rising time.  Most persons have one
such run (753k of 889k in the 10M-event benchmark, 73 % of the rows); only the others need
their runs merged.  The engine's `ORDER BY person_key, t` sorted all 4.4M rows to do that
(~200 ms of a ~400 ms report).  Here: the runs are found in one pass (run_starts), the
runs' persons put in order (key_order, a bucket pass; 1M keys), and only the persons with several runs have their
runs merged by time (merged); the one-run persons' rows stay where they came, and are
walked there, on another thread meanwhile (stream.walk_persons).  Any arrival order gives
the same grouping (a run ends wherever the person changes or the time goes back), so the
engine may read with all its threads.  Compiled with Cython
(collector/_compiled.py); as plain Python it gives the same answers, slowly."""

from __future__ import annotations

try:
    import cython

    COMPILED: bool = cython.compiled  # True in the extension module Cython built from this file
except ImportError:  # plain Python without Cython: the annotations are never evaluated
    import contextlib
    import types

    cython = types.SimpleNamespace(nogil=contextlib.nullcontext())
    COMPILED = False


def run_starts(keys: cython.ulonglong[::1], ts: cython.ulonglong[::1], out: cython.longlong[::1]) -> int:
    """Writes the first row of every run (a row whose key differs from the row before, or
    whose time is earlier) to out, then len(keys); returns the number of runs.  out holds
    len(keys) + 1."""
    n: cython.Py_ssize_t = keys.shape[0]
    i: cython.Py_ssize_t
    k: cython.Py_ssize_t = 0
    with cython.nogil:
        if n:
            out[0] = 0
            k = 1
        for i in range(1, n):
            if keys[i] != keys[i - 1] or ts[i] < ts[i - 1]:
                out[k] = i
                k += 1
        out[k] = n
    return k


def merged(ts: cython.ulonglong[::1], starts: cython.longlong[::1], order: cython.longlong[::1],
           sorted_keys: cython.ulonglong[::1], perm: cython.longlong[::1], scratch: cython.longlong[::1],
           shared: cython.uchar[::1]) -> int:
    """The persons with several runs: writes their rows to perm, each key's runs merged by
    time (keys in sorted_keys' order; equal times keep the earlier run's row first), and
    sets shared[row] to 1 for each of those rows (the caller zeroes shared).  starts: the
    runs' first rows and then the row count (run_starts); order: the runs sorted by key;
    sorted_keys: their keys in that order; perm, scratch, shared: one slot per row.
    Returns the number of rows written."""
    r: cython.Py_ssize_t = order.shape[0]
    i: cython.Py_ssize_t = 0
    j: cython.Py_ssize_t
    q: cython.Py_ssize_t
    x: cython.Py_ssize_t
    pos: cython.Py_ssize_t = 0
    seg: cython.Py_ssize_t
    a: cython.Py_ssize_t
    s: cython.Py_ssize_t
    e: cython.Py_ssize_t
    m: cython.Py_ssize_t
    with cython.nogil:  # C values only: the caller walks other rows on another thread meanwhile
        while i < r:
            j = i + 1
            while j < r and sorted_keys[j] == sorted_keys[i]:
                j += 1
            if j - i > 1:  # this key's runs, merged one after another into perm[seg:pos]
                seg = pos
                for x in range(starts[order[i]], starts[order[i] + 1]):
                    perm[pos] = x
                    shared[x] = 1
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
                    for x in range(starts[order[q]], e):
                        shared[x] = 1
                    for x in range(m):
                        perm[seg + x] = scratch[x]
                    pos = seg + m
            i = j
    return pos


def key_order(keys: cython.ulonglong[::1], order: cython.longlong[::1], sorted_keys: cython.ulonglong[::1],
              counts: cython.longlong[::1]) -> bool:
    """The positions of keys in key order, equal keys in position order (order), and the
    keys in that order (sorted_keys): one counting pass on the top 16 bits, one scatter into
    65,536 buckets in position order, then an insertion sort by the whole key in each bucket
    (~15 keys each at 1M hashed keys; equal keys cost one comparison each, as they already
    lie in position order).  counts holds 65,537.  Returns False, with order and
    sorted_keys undefined, when the keys are so unevenly spread over the buckets that the
    insertion sorts would pass 32 moves per key: the caller sorts another way then.  Keys
    here are hashes (identity's person keys), which never come near that."""
    n: cython.Py_ssize_t = keys.shape[0]
    i: cython.Py_ssize_t
    j: cython.Py_ssize_t
    b: cython.Py_ssize_t
    s: cython.Py_ssize_t
    e: cython.Py_ssize_t
    k: cython.ulonglong
    p: cython.longlong
    acc: cython.longlong = 0
    budget: cython.longlong = 32 * n
    ok: cython.bint = True
    with cython.nogil:
        for b in range(65537):
            counts[b] = 0
        for i in range(n):
            counts[(keys[i] >> 48) + 1] += 1
        for b in range(65536):  # counts[b]: the first slot of bucket b
            acc += counts[b + 1]
            counts[b + 1] = acc
        for i in range(n):
            b = keys[i] >> 48
            j = counts[b]
            sorted_keys[j] = keys[i]
            order[j] = i
            counts[b] = j + 1  # counts[b] ends as bucket b's end, the start of bucket b + 1
        s = 0
        for b in range(65536):
            e = counts[b]
            for i in range(s + 1, e):
                k = sorted_keys[i]
                p = order[i]
                j = i
                while j > s and sorted_keys[j - 1] > k:
                    sorted_keys[j] = sorted_keys[j - 1]
                    order[j] = order[j - 1]
                    j -= 1
                budget -= i - j
                sorted_keys[j] = k
                order[j] = p
            if budget < 0:
                ok = False
                break
            s = e
    return ok
