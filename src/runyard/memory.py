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
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger("runyard.memory")

_M_ARENA_MAX = -8  # from glibc's malloc.h
ARENAS = 2  # enough for the event loop plus the thread pool without contention showing


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt  # noqa: B018 - present in glibc (and a few others): probe for it
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def limit_arenas(arenas: int = ARENAS) -> None:
    """Call before threads start (the server does, before it forks its workers)."""
    if _LIBC is not None and _LIBC.mallopt(_M_ARENA_MAX, arenas) != 1:
        log.debug("mallopt(M_ARENA_MAX) was refused")


def _trim() -> None:
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


give_back: Callable[[], None] = _trim
"""Return the free pages of every arena to the system (cheap when there is little to do)."""
