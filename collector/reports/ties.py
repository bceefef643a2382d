# cython: annotation_typing=True, boundscheck=False, wraparound=False, initializedcheck=False
"""Whether a block of the views' rows has two rows of one container at the same time (the
engine sorts by container and time only; stream.ties_ordered then puts such rows in the
report's order).  One compiled pass that stops at the first tie, where numpy's test built
four temporary arrays per block (~15-20 ms of a 10M-event report).  Compiled with Cython
(collector/_compiled.py); as plain Python it gives the same answers, slowly."""

from __future__ import annotations

try:
    import cython

    COMPILED: bool = cython.compiled  # True in the extension module Cython built from this file
except ImportError:  # plain Python: the annotations are never evaluated
    COMPILED = False


def has_ties(keys: cython.ulonglong[::1], ts: cython.ulonglong[::1]) -> bool:
    """True when some row has the key and the time of the row before it."""
    i: cython.Py_ssize_t
    for i in range(1, keys.shape[0]):  # noqa: SIM110 - a C loop here, not a generator
        if ts[i] == ts[i - 1] and keys[i] == keys[i - 1]:
            return True
    return False
