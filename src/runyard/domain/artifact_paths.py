"""The one rule for artifact paths: normalise once, refuse anything that could leave the root.

Every artifact path a client sends (URL path, ``path=`` query argument, multipart file name,
run-relative path) goes through :func:`clean` before any backend sees it. Backends then join the
clean, relative POSIX path to their root and never interpret it again.

Refused, as MLflow's path-traversal CVEs taught: ``..`` segments, absolute paths, Windows drive
letters and backslashes, NUL and other control characters, ``#`` and ``?`` (a URL that was split
wrongly), and percent-encoding left in the path after the server decoded it once (``%2e%2e``,
``%252e``: double encoding).
"""

from __future__ import annotations

import re

from runyard.errors import InvalidParameterValue

_DRIVE = re.compile(r"^[A-Za-z]:")
_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")
_FORBIDDEN_CHARS = frozenset("\\#?") | {chr(c) for c in range(32)} | {"\x7f"}


def clean(raw: str, *, allow_root: bool = True) -> str:
    """``raw`` as a normalised relative POSIX path ("" is the root), or InvalidParameterValue.

    Empty and ``.`` segments are dropped (``a//b/./c`` is ``a/b/c``); nothing else is rewritten.
    """
    if any(ch in _FORBIDDEN_CHARS for ch in raw):
        raise _refused(raw, "it contains a backslash, '#', '?' or a control character")
    if _ENCODED.search(raw):
        raise _refused(raw, "it is still percent-encoded after decoding")
    if raw.startswith("/") or _DRIVE.match(raw):
        raise _refused(raw, "it is absolute")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _refused(raw, "it contains '..'")
    path = "/".join(parts)
    if not path and not allow_root:
        raise _refused(raw, "it is empty")
    return path


def join(*parts: str) -> str:
    """Join already-clean relative paths."""
    return "/".join(p for p in parts if p)


def _refused(raw: str, why: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Invalid artifact path: {raw!r}: {why}.")
