"""Keeping a worker's resident memory close to what it uses (glibc's malloc).

Two things make a Python server's RSS drift upwards under glibc. Every thread that allocates
may get a malloc arena of its own (up to eight per core), and the request handlers run in
anyio's pool of worker threads, so freed memory ends up spread over many arenas that each keep
it. And freed memory inside a heap goes back to the system only when the heap is trimmed,
which malloc does only at its top. Both are tuned here; with another C library these are
no-ops.
"""

from __future__ import annotations

import ctypes

from runyard import libc

_M_ARENA_MAX = -8  # from glibc's malloc.h
ARENAS = 2  # enough for the event loop plus the thread pool without contention showing

_mallopt = libc.function("mallopt", [ctypes.c_int, ctypes.c_int])
_malloc_trim = libc.function("malloc_trim", [ctypes.c_size_t])


def limit_arenas(arenas: int = ARENAS) -> None:
    """Call before threads start (the server does, before it forks its workers)."""
    if _mallopt is not None:
        _mallopt(_M_ARENA_MAX, arenas)


def give_back() -> None:
    """Return the free pages of every arena to the system (cheap when there is little to do)."""
    if _malloc_trim is not None:
        _malloc_trim(0)
