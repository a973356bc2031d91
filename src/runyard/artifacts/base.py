"""The one interface every artifact backend (local disk, SFTP, S3) implements.

Paths given to a store are already clean (``runyard.domain.artifact_paths.clean``): relative
POSIX paths, "" for the root, never ``..``. A store joins them to its own root and nothing else.

Contract, checked by one test suite run against every backend (``tests/artifacts/``):

* ``put`` streams the body to a temporary name and renames it into place, so a failed or
  interrupted upload leaves nothing visible under ``path`` (and an earlier file there intact).
  Memory stays bounded by the chunk size whatever the file size; remote backends do not spool
  to local disk.
* ``read`` streams ``[start, end)`` of a file (``end=None``: to the end); it is an async
  generator, so its errors (not found, not a file) surface on the first iteration.
* ``stat`` is None for a missing path. ``list`` gives the immediate children of a directory,
  sorted by name, as paths relative to the store root; a missing directory or a file lists as
  ``[]``.
* ``delete`` removes a file or a whole directory tree; a missing path is not an error.
* Multipart: ``create_multipart`` returns an opaque upload id; parts may arrive in any order
  and concurrently; ``complete_multipart`` assembles parts 1..n into ``path`` atomically;
  ``abort_multipart`` forgets them. Nothing is visible under ``path`` before completion.
* Errors: :class:`ArtifactNotFound` for a missing file (its subclass :class:`UploadNotFound`
  for an unknown upload id), :class:`NotAFile` for a read of a directory,
  :class:`StorageUnavailable` when the backend cannot be reached, :class:`StorageFull` when
  it has no room left, InvalidParameterValue for a name it cannot hold.
  Foreign exceptions (OSError, asyncssh, botocore) never escape a store.
"""

from __future__ import annotations

import builtins
import traceback
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from runyard.errors import (
    InvalidParameterValue,
    MlflowError,
    ResourceDoesNotExist,
    TemporarilyUnavailable,
)

# Read and write in pieces of this size: big enough for throughput, small enough that
# memory does not grow with the file.
CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True)
class FileInfo:
    path: str  # relative to the store root
    is_dir: bool
    file_size: int | None = None  # None for directories


@dataclass(frozen=True)
class Part:
    number: int  # 1-based
    etag: str


class ArtifactNotFound(ResourceDoesNotExist):
    def __init__(self, path: str) -> None:
        super().__init__(f"No such artifact: '{path}'")


class UploadNotFound(ArtifactNotFound):
    """A multipart upload id that is unknown, already completed or aborted."""

    def __init__(self, upload_id: str) -> None:
        ResourceDoesNotExist.__init__(self, f"No such multipart upload: '{upload_id}'")


class NotAFile(InvalidParameterValue):
    def __init__(self, path: str) -> None:
        super().__init__(f"Artifact path refers to a directory, not a file: '{path}'")


class StorageUnavailable(TemporarilyUnavailable):
    """The backend could not be reached or refused the operation; the client may retry."""


class StorageFull(MlflowError):
    """The backend has no room left (no space, quota exhausted): 507 Insufficient Storage.

    Not 503: a full disk does not empty itself in the seconds a client backs off for, and
    MLflow's client retries 408, 429, 500, 502, 503 and 504 (``mlflow.utils.request_utils``),
    so it would spend minutes retrying and then show "too many 503 error responses" instead
    of the cause; 507 it reports at once, with this message. The code is
    RESOURCE_EXHAUSTED (gRPC's code for "the entire file system is out of space"); its 429 in
    MLflow's table is overridden, as ``BodyTooLarge`` overrides it with 413.
    """

    error_code = "RESOURCE_EXHAUSTED"

    def __init__(self, path: str, cause: str) -> None:
        super().__init__(f"artifact store is full: {cause} (writing {path!r})")

    @property
    def status(self) -> int:
        return 507


def forget_locals(exc: BaseException) -> None:
    """Drop the local variables of the finished frames a foreign error passed through.

    Called where a store translates one. An error that crossed a future (every call to a worker
    thread, every SFTP or S3 reply) sits in a reference cycle with the frames it passed, so
    they, and the upload buffers in them, would otherwise live until a garbage collection. The
    traceback itself stays, for the log.
    """
    traceback.clear_frames(exc.__traceback__)


class ArtifactStore(Protocol):
    """Where proxied artifacts live. Implementations: local.py, sftp.py, s3.py."""

    uri: str  # where it points, for logs and ``runyard doctor`` (never with secrets)

    async def put(self, path: str, body: AsyncIterable[bytes]) -> int:
        """Store ``body`` under ``path`` atomically; return the number of bytes written."""
        ...

    def read(self, path: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Stream bytes ``[start, end)`` of the file at ``path``."""
        ...

    async def stat(self, path: str) -> FileInfo | None: ...

    async def list(self, path: str) -> list[FileInfo]: ...

    async def delete(self, path: str) -> None: ...

    async def create_multipart(self, path: str) -> str: ...

    async def put_part(
        self, path: str, upload_id: str, number: int, body: AsyncIterable[bytes]
    ) -> Part: ...

    async def complete_multipart(
        self, path: str, upload_id: str, parts: builtins.list[Part]
    ) -> None: ...

    async def abort_multipart(self, path: str, upload_id: str) -> None: ...

    async def start(self) -> None:
        """Build what every request needs, once, when the server starts (no network I/O).

        The first request then does not pay for it, and a memory measurement taken after
        start-up sees only what requests cost.
        """
        ...

    async def aclose(self) -> None:
        """Release connections and pools."""
        ...
