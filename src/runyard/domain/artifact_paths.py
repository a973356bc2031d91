"""The one rule for artifact paths: normalise once, refuse anything that could leave the root.

Every artifact path a client sends (URL path, ``path=`` query argument, multipart file name,
run-relative path) goes through :func:`clean` before any backend sees it. Backends then join the
clean, relative POSIX path to their root and never interpret it again.

Refused, as MLflow's path-traversal CVEs taught: ``..`` segments, absolute paths, Windows drive
letters and backslashes, NUL and other control characters, ``#`` and ``?`` (a URL that was split
wrongly), and percent-encoding left in the path after the server decoded it once (``%2e%2e``,
``%252e``: double encoding). Also refused: a name or a path longer than every backend can hold,
so that a backend's own limit (``ENAMETOOLONG``, S3's ``KeyTooLongError``) is never what the
client meets.
"""

from __future__ import annotations

import re

from runyard.errors import InvalidParameterValue

_DRIVE = re.compile(r"^[A-Za-z]:")
_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")
_FORBIDDEN_CHARS = frozenset("\\#?") | {chr(c) for c in range(32)} | {"\x7f"}

# In UTF-8 bytes. A name: NAME_MAX of Linux file systems (ext4, XFS, tmpfs), which an SFTP
# server passes through. A path: S3's limit on a key, the tightest of the backends.
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 1024
_SHOWN_CHARS = 60  # of an over-long name or path, in an error message


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
    _check_lengths(path, parts)
    return path


def _check_lengths(path: str, parts: list[str]) -> None:
    for part in parts:
        size = len(part.encode("utf-8", "surrogatepass"))
        if size > MAX_NAME_BYTES:
            raise InvalidParameterValue(
                f"Invalid artifact path: the name {_shortened(part)!r} is {size} bytes long; "
                f"a file or directory name may be at most {MAX_NAME_BYTES} bytes (UTF-8)."
            )
    size = len(path.encode("utf-8", "surrogatepass"))
    if size > MAX_PATH_BYTES:
        raise InvalidParameterValue(
            f"Invalid artifact path: {_shortened(path)!r} is {size} bytes long; an artifact "
            f"path may be at most {MAX_PATH_BYTES} bytes (UTF-8)."
        )


def _shortened(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."


# Under the default artifact root every run stores under ``<experiment_id>/<run_id>/`` and every
# logged model (or trace) under ``<experiment_id>/models/<model_id>/`` (``traces/<trace_id>/``).
_GROUPED_OWNERS = frozenset({"models", "traces"})


def experiment_of(path: str) -> int | None:
    """The experiment a clean proxied path belongs to: its first segment, when numeric.

    Anything else (the root, a custom artifact location) names no experiment and is left to
    administrators when auth is on.
    """
    first = path.split("/", 1)[0]
    if first.isascii() and first.isdigit() and len(first) <= 10:
        return int(first)
    return None


def check_within_owner(path: str, *, file: bool) -> None:
    """Refuse a write (``file``) or delete that is not inside one run's or one model's directory.

    Clients only ever write below a run's or a logged model's artifact root, so nothing may
    touch the store's root, an experiment's directory or the ``models``/``traces`` directories
    that hold many owners, and no file is written straight into one of those. Outside the
    experiments' directories (custom locations, for administrators when auth is on) the layout
    is unknown: there the root and its immediate directories are protected.
    """
    parts = path.split("/") if path else []
    in_experiment = experiment_of(path) is not None
    grouped = in_experiment and len(parts) >= 2 and parts[1] in _GROUPED_OWNERS
    owner_depth = 3 if grouped else 2
    if len(parts) < owner_depth + (1 if file and in_experiment else 0):
        what = "files are written" if file else "deletes must stay"
        raise InvalidParameterValue(
            f"Invalid artifact path: {path!r}: {what} inside one run's or one logged model's "
            "artifacts (<experiment_id>/<run_id>/... or <experiment_id>/models/<model_id>/...)."
        )


def join(*parts: str) -> str:
    """Join already-clean relative paths."""
    return "/".join(p for p in parts if p)


def _refused(raw: str, why: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Invalid artifact path: {raw!r}: {why}.")
