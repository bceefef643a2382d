# cython: annotation_typing=True, boundscheck=False, wraparound=False, initializedcheck=False
"""A session stream's visits of session-less devices (visits.py), keyed in one compiled pass
over a block: each session-less row's key becomes its device's key plus the row's visit
number within the device, a new visit wherever more than `gap` ms pass since the device's
previous row.  numpy's version of the same built a dozen temporary arrays per block (~0.1 s
of a 10M-event report where a quarter of the rows had no session id).  Compiled with Cython
(collector/_compiled.py); as plain Python it gives the same answers, slowly."""

from __future__ import annotations

try:
    import cython
except ImportError:  # plain Python: the annotations are never evaluated
    import types

    cython = types.SimpleNamespace()

def rekey(keys: cython.ulonglong[::1], ts: cython.ulonglong[::1], split: cython.uchar[::1],
          state: cython.ulonglong[::1], gap: cython.ulonglong) -> int:
    """Re-keys keys in place and returns how many rows are activity only (split bit 1).
    state carries a device across blocks: [1 if a session-less device is open, its key,
    its last time in ms, its visit number]."""
    i: cython.Py_ssize_t
    k: cython.ulonglong
    ms: cython.ulonglong
    f: cython.uchar
    open_: cython.ulonglong = state[0]
    last_key: cython.ulonglong = state[1]
    last_ms: cython.ulonglong = state[2]
    visit: cython.ulonglong = state[3]
    dropped: cython.Py_ssize_t = 0
    for i in range(keys.shape[0]):
        f = split[i]
        if f & 1:
            k = keys[i]
            ms = ts[i] >> 21  # sources.SEQ_BITS, a literal: a module global is a Python lookup per row
            if open_ and k == last_key:
                if ms - last_ms > gap:  # sorted by time within the device: never negative
                    visit += 1
            else:
                visit = 0
            open_, last_key, last_ms = 1, k, ms
            keys[i] = k + visit
            if f & 2:
                dropped += 1
        else:  # a device with session ids: the session-less one before it has ended
            open_ = 0
    state[0], state[1], state[2], state[3] = open_, last_key, last_ms, visit
    return dropped
