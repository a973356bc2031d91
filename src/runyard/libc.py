"""The C library's functions that Python's ``os`` module lacks (Linux / glibc).

``function(name)`` is None where the library or the function is missing (macOS, musl for
some), and callers then do without: every use here is an optimisation, never a requirement.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any


@functools.cache
def _library() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def function(name: str, argtypes: list[Any], restype: Any = ctypes.c_int) -> Any | None:
    library = _library()
    found = getattr(library, name, None) if library is not None else None
    if found is None:
        return None
    found.argtypes, found.restype = argtypes, restype
    return found
