"""Names and rules that the file-like backends (local disk, SFTP) share.

A write goes to a hidden temporary name beside its target and is renamed into place; multipart
parts are staged under a hidden directory at the store root. Neither is ever listed, and a
client path that names one is refused, so no client can read or clobber another's staging.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterable, AsyncIterator

from runyard.artifacts.base import Part, UploadNotFound
from runyard.domain.artifact_paths import MAX_NAME_BYTES
from runyard.errors import InvalidParameterValue

UPLOADS_DIR = ".runyard-uploads"
# Inside an upload's staging directory: the artifact path the upload was created for.
UPLOAD_TARGET_FILE = "target"
_TEMP_MARKER = ".runyard-tmp-"
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_PART_NUMBER = 10_000  # S3's limit; the same everywhere so clients see one rule


def temp_name(name: str) -> str:
    """A hidden, unique name for a file being written next to ``name``.

    No longer than the longest name a client may use (``MAX_NAME_BYTES``): ``name`` is cut
    short where needed, so any name that is allowed can also be written.
    """
    suffix = f"{_TEMP_MARKER}{secrets.token_hex(8)}"
    room = MAX_NAME_BYTES - 1 - len(suffix)
    kept = name.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
    return f".{kept}{suffix}"


def is_internal(name: str) -> bool:
    """Whether a directory entry is runyard's own staging, never shown to clients."""
    return name == UPLOADS_DIR or (name.startswith(".") and _TEMP_MARKER in name)


def check_visible(path: str) -> None:
    """Refuse a client path that names a temporary file or the staging area."""
    if any(is_internal(segment) for segment in path.split("/")):
        raise InvalidParameterValue(f"Invalid artifact path: {path!r}: the name is reserved.")


def check_file_path(path: str) -> None:
    """A path a file can be written to: not the root, not a reserved name."""
    if not path:
        raise InvalidParameterValue("Invalid artifact path: a file cannot be written at the root.")
    check_visible(path)


def check_range(start: int, end: int | None) -> None:
    if start < 0 or (end is not None and end < start):
        raise InvalidParameterValue(f"Invalid byte range: start={start}, end={end}.")


def new_upload_id() -> str:
    return secrets.token_hex(16)


def check_upload_id(upload_id: str) -> None:
    """Upload ids become directory names: anything but our own format is unknown."""
    if not _UPLOAD_ID.match(upload_id):
        raise UploadNotFound(upload_id)


def check_part_number(number: int) -> None:
    if not 1 <= number <= MAX_PART_NUMBER:
        raise InvalidParameterValue(
            f"Invalid part number {number}: must be between 1 and {MAX_PART_NUMBER}."
        )


def part_file_name(number: int, etag: str) -> str:
    """Staged part file: the etag in the name lets complete check it without reading."""
    return f"part-{number:05d}-{etag}"


def is_part_of(name: str, number: int) -> bool:
    return name.startswith(f"part-{number:05d}-")


def ordered_parts(parts: list[Part]) -> list[Part]:
    """Parts sorted by number; an empty list or a repeated number is the caller's mistake."""
    if not parts:
        raise InvalidParameterValue("A multipart upload needs at least one part to complete.")
    ordered = sorted(parts, key=lambda p: p.number)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if before.number == after.number:
            raise InvalidParameterValue(f"Part {after.number} is listed twice.")
    return ordered


async def rechunk(body: AsyncIterable[bytes], size: int) -> AsyncIterator[bytes]:
    """``body`` regrouped into pieces of ``size`` bytes (the last may be shorter).

    Few large writes instead of many small ones; memory stays near ``size`` plus one
    incoming chunk.
    """
    buffer = bytearray()
    async for chunk in body:
        buffer += chunk
        while len(buffer) >= size:
            with memoryview(buffer) as view:
                piece = bytes(view[:size])
            del buffer[:size]
            yield piece
    if buffer:
        yield bytes(buffer)
