# cython: annotation_typing=True, boundscheck=False, wraparound=False, initializedcheck=False
"""Identity's person of each row of a person report, looked up in the collector once per
run of equal identity keys instead of once per row in the engine.

A person report on the views used to ask the engine for footpath.events_person's
person_key of every row: ~23 ns of dictionary lookups per row, ~165 ms of CPU for the
benchmark's 7.2M rows, although a session's rows mostly share one identity key.  Here the
dictionary's entries (identity_person_dict, 0016) are put into an open-addressed table
(build), and resolve() walks the streamed identity keys, probing the table only where the
key changes.  The rule applied is events_person's (0017), which persons.py checks is the
one the server has before using this module:

    person_key = if(found != 1, found, cityHash64(site, substring(persons[range], 3)))
                 * (identity_key != 0)
    found      = the entry's person_key, or the identity key itself when it has none
    range      = the last position of froms at or before the row's millisecond (0: none)

The person keys of the ranges (cityHash64 of site and user id) are computed by the engine
when the entries are read, so this module only compares and copies numbers.  Compiled
with Cython (collector/_compiled.py); as plain Python it gives the same answers, slowly."""

from __future__ import annotations

try:
    import cython

    COMPILED: bool = cython.compiled  # True in the extension module Cython built from this file
except ImportError:  # plain Python without Cython: the annotations are never evaluated
    import contextlib
    import types

    cython = types.SimpleNamespace(nogil=contextlib.nullcontext())
    COMPILED = False

# Written as literals below (the loops run without the GIL, where a module's Python
# constants cannot be read): report_steps.t is unix ms << 21 | sequence number
# (sources.SEQ_BITS), and an entry whose person_key is 1 has its person by time (a shared
# device, 0016); tests/reports/test_resolve.py checks both against the engine.


def slots_for(entries: int) -> int:
    """The table's size for this many entries: a power of two, at least twice as many (a
    probe then meets ~1.5 slots on average)."""
    size = 16
    while size < 2 * entries:
        size *= 2
    return size


def filter_words_for(entries: int) -> int:
    """The filter's size in 64-bit words for this many entries: a power of two, at least
    16 bits per entry, so ~6 % of the keys absent from the table pass it.  Most runs'
    keys are absent (81 % in the benchmark: anonymous ids never linked), and the filter
    (512 KiB at 233k entries) answers them from the core's cache, where the table (12 MiB)
    costs a trip to memory: resolving 7.2M rows, ~60 -> ~25 ms."""
    words = 1
    while words * 64 < 16 * entries:
        words *= 2
    return words


def build(keys: cython.ulonglong[::1], values: cython.ulonglong[::1], ranges: cython.longlong[::1],
          table: cython.ulonglong[::1], bits: cython.ulonglong[::1]) -> int:
    """Puts entry i (keys[i] -> values[i], ranges[i]: its first range, or -1 for none) into
    table: slots_for(entries) slots of three numbers, zeroed (the key, the value, the range
    + 1), so a probe reads one cache line; key 0 marks an empty slot.  Sets each key's bit
    in the filter bits (filter_words_for(entries) words, zeroed).  Key 0 itself is left
    out: a row whose identity key is 0 has no person and is never looked up.  A key given
    twice keeps its first entry (a dictionary has none).  Returns the entries put."""
    n: cython.Py_ssize_t = keys.shape[0]
    mask: cython.ulonglong = table.shape[0] // 3 - 1
    fmask: cython.ulonglong = bits.shape[0] * 64 - 1
    b: cython.ulonglong
    i: cython.Py_ssize_t
    k: cython.ulonglong
    s: cython.ulonglong
    put: cython.Py_ssize_t = 0
    with cython.nogil:
        for i in range(n):
            k = keys[i]
            if k == 0:
                continue
            s = (k ^ (k >> 29)) & mask  # the keys are hashes already: a cheap fold is enough
            while table[3 * s] != 0 and table[3 * s] != k:
                s = (s + 1) & mask
            b = (k >> 32) & fmask  # other bits of the key than the slot's
            bits[b >> 6] |= cython.cast(cython.ulonglong, 1) << (b & 63)
            if table[3 * s] == 0:
                table[3 * s] = k
                table[3 * s + 1] = values[i]
                table[3 * s + 2] = ranges[i] + 1
                put += 1
    return put


def resolve(ids: cython.ulonglong[::1], ts: cython.ulonglong[::1], table: cython.ulonglong[::1],
            bits: cython.ulonglong[::1], starts: cython.longlong[::1],
            froms: cython.longlong[::1], pkeys: cython.ulonglong[::1], before: cython.ulonglong,
            out: cython.ulonglong[::1]) -> int:
    """out[i] = the person key of a row with identity key ids[i] at packed time ts[i] (out
    may be ids itself).  A ranged entry r owns froms/pkeys[starts[r]:starts[r + 1]], in the
    dictionary's order; `before` is the person key of a row before every range (the
    engine's persons[0]).  Returns the number of rows whose person key is 0 (rows with no
    person, which a report leaves out)."""
    n: cython.Py_ssize_t = ids.shape[0]
    mask: cython.ulonglong = table.shape[0] // 3 - 1
    fmask: cython.ulonglong = bits.shape[0] * 64 - 1
    b: cython.ulonglong
    i: cython.Py_ssize_t
    j: cython.Py_ssize_t
    k: cython.ulonglong
    s: cython.ulonglong
    v: cython.ulonglong
    at: cython.longlong
    r: cython.Py_ssize_t
    last: cython.ulonglong = 0
    value: cython.ulonglong = 0  # the person key of `last`, when it has no ranges
    rp: cython.ulonglong = 0  # else its first range + 1
    zeros: cython.Py_ssize_t = 0
    with cython.nogil:
        for i in range(n):
            k = ids[i]
            if i == 0 or k != last:  # a new run: one probe
                last = k
                value = k  # not in the dictionary: the identity key is the person
                rp = 0
                b = (k >> 32) & fmask
                if k == 0:
                    value = 0
                elif (bits[b >> 6] >> (b & 63)) & 1:  # else surely not in the table
                    s = (k ^ (k >> 29)) & mask
                    while table[3 * s] != 0:
                        if table[3 * s] == k:
                            value = table[3 * s + 1]
                            rp = table[3 * s + 2]
                            break
                        s = (s + 1) & mask
                if value == 1 and rp == 0:  # 1 with no entry's ranges: the engine's persons[0]
                    value = before
            if rp == 0:
                v = value
            else:  # arrayLastIndex(x -> x <= ms, froms): the last such range, in any order
                r = rp - 1
                at = ts[i] >> 21
                v = before
                j = starts[r + 1] - 1
                while j >= starts[r]:
                    if froms[j] <= at:
                        v = pkeys[j]
                        break
                    j -= 1
            out[i] = v
            if v == 0:
                zeros += 1
    return zeros
