"""Keeping a worker's resident memory close to what it uses.

Three things make a Python server's RSS drift upwards and stay there.

* Reference cycles through an error's traceback. A traceback holds every frame the error
  passed through, and with them every local: the request body, its decoded message, a lexer's
  token list. When one of those frames also holds the error (anyio's future for a call in a
  worker thread keeps the exception it re-raises; ``except E as e: raise F from e`` leaves
  ``e`` in its frame) all of it is garbage that only a collection of the oldest generation
  frees, and the server tunes the collector to run rarely. :func:`forget_traceback` drops
  an answered error's tracebacks, so its frames go by reference counting at once.
* Cycles from anywhere else (third-party code included) wait for the same rare collection:
  :class:`Reclaimer` collects when the process grew since it last did.
* glibc's malloc. Every thread that allocates may get an arena of its own (up to eight per
  core), and the request handlers run in anyio's pool of worker threads, so freed memory
  ends up spread over many arenas that each keep it; and freed memory inside a heap goes
  back to the system only when the heap is trimmed, which malloc does only at its top.
  :func:`limit_arenas` and :func:`give_back` tune these; with another C library they are
  no-ops.
"""

from __future__ import annotations

import ctypes
import gc
import os

from runyard import libc

_M_ARENA_MAX = -8  # from glibc's malloc.h
ARENAS = 2  # enough for the event loop plus the thread pool without contention showing

# Collect when the process grew by this much since the last collection: a full collection
# costs milliseconds (start-up objects are frozen out of its view), so this bounds what cycles
# can hold at little cost, and an idle or steady worker never pays it.
COLLECT_AFTER_GROWTH = 16 * 1024 * 1024

_mallopt = libc.function("mallopt", [ctypes.c_int, ctypes.c_int])
_malloc_trim = libc.function("malloc_trim", [ctypes.c_size_t])
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def limit_arenas(arenas: int = ARENAS) -> None:
    """Call before threads start (the server does, before it forks its workers)."""
    if _mallopt is not None:
        _mallopt(_M_ARENA_MAX, arenas)


def give_back() -> None:
    """Return the free pages of every arena to the system (cheap when there is little to do)."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def forget_traceback(exc: BaseException) -> None:
    """Drop the tracebacks of ``exc`` and of every error chained to it (cause, context, group
    members), once the error has been answered and logged: see the module's first point."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        err = pending.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        err.__traceback__ = None
        pending.extend(e for e in (err.__cause__, err.__context__) if e is not None)
        if isinstance(err, BaseExceptionGroup):
            pending.extend(err.exceptions)


def resident_bytes() -> int | None:
    """This process's resident set size; None where ``/proc`` does not say."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


class Reclaimer:
    """What the upkeep loop does for memory every few seconds. It remembers the smallest size
    the process had after a trim since its last collection, and measures growth from there."""

    def __init__(self, growth: int = COLLECT_AFTER_GROWTH) -> None:
        self.growth = growth
        self.settled = resident_bytes()

    def __call__(self) -> bool:
        """Collect if the process grew, then hand free pages back; True if it collected."""
        before = resident_bytes()
        grew = before is None or self.settled is None or before - self.settled > self.growth
        if grew:
            gc.collect()
        give_back()
        after = resident_bytes()
        if grew or (after is not None and self.settled is not None and after < self.settled):
            self.settled = after
        return grew
