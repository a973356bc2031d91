"""Artifacts in a directory on local disk.

Every blocking call runs in a worker thread (``anyio.to_thread``), so a slow disk never stalls
the event loop. Writes go to a hidden temporary file beside the target, are fsynced and then
``os.replace``d into place; multipart parts are staged under ``<root>/.runyard-uploads/<id>/``.
"""

from __future__ import annotations

import builtins
import ctypes
import errno
import hashlib
import os
import shutil
import stat
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from anyio import CancelScope, to_thread

from runyard import libc
from runyard.artifacts import layout
from runyard.artifacts.base import (
    CHUNK_SIZE,
    ArtifactNotFound,
    FileInfo,
    NotAFile,
    Part,
    StorageFull,
    StorageUnavailable,
    UploadNotFound,
    forget_locals,
)
from runyard.domain.artifact_paths import join
from runyard.errors import InvalidParameterValue, MlflowError

T = TypeVar("T")

# No room left: the disk is full, or the user's quota is used up.
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


async def _run(func: Callable[..., T], *args: Any) -> T:
    return await to_thread.run_sync(func, *args)


@contextmanager
def _translated(path: str) -> Iterator[None]:
    """OSError in, the contract's errors out."""
    try:
        yield
    except MlflowError:
        raise
    except OSError as exc:
        forget_locals(exc)
        raise _contract_error(path, exc) from exc


def _contract_error(path: str, exc: OSError) -> MlflowError:
    if isinstance(exc, FileNotFoundError):
        return ArtifactNotFound(path)
    if isinstance(exc, IsADirectoryError):
        return NotAFile(path)
    if isinstance(exc, NotADirectoryError | FileExistsError):
        return InvalidParameterValue(f"Invalid artifact path: {path!r}: a parent of it is a file.")
    if exc.errno in _FULL:
        return StorageFull(path, exc.strerror or str(exc))
    if exc.errno == errno.ENAMETOOLONG:  # a root deep enough to push the path past PATH_MAX
        return InvalidParameterValue(
            f"Invalid artifact path: {path!r}: too long for the artifact store's file system "
            f"({exc.strerror})."
        )
    return StorageUnavailable(f"Local artifact storage failed for {path!r}: {exc.strerror or exc}")


class LocalArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))
        self.uri = self.root.as_uri()

    # -- paths (blocking: realpath reads the disk) ------------------------------------------

    def _resolve(self, path: str) -> Path:
        """``root/path``, refused if symlinks would take it outside the root."""
        target = self.root.joinpath(path) if path else self.root
        real_root = os.path.realpath(self.root)
        real = os.path.realpath(target)
        if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
            raise InvalidParameterValue(
                f"Invalid artifact path: {path!r}: it leads outside the artifact root."
            )
        return target

    def _prepare_target(self, path: str) -> Path:
        target = self._resolve(path)
        if target.is_dir():
            raise NotAFile(path)
        return target

    def _upload_dir(self, path: str, upload_id: str) -> Path:
        layout.check_upload_id(upload_id)
        staging = self.root / layout.UPLOADS_DIR / upload_id
        try:
            created_for = (staging / layout.UPLOAD_TARGET_FILE).read_text()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise UploadNotFound(upload_id) from exc
        if created_for != path:
            raise UploadNotFound(upload_id)
        return staging

    # -- writing ----------------------------------------------------------------------------

    async def _write_temp(
        self, beside: Path, body: AsyncIterable[bytes], digest: Any = None
    ) -> tuple[Path, int]:
        """Stream ``body`` into a new hidden, fsynced file next to ``beside``."""
        temp = beside.with_name(layout.temp_name(beside.name))
        fd, created = await _run(_create_new, temp)
        size = 0
        try:
            async for piece in layout.rechunk(body, CHUNK_SIZE):
                await _run(_write_and_flush_early, fd, piece)
                if digest is not None:
                    digest.update(piece)
                size += len(piece)
            await _run(os.fsync, fd)
        except BaseException:
            with CancelScope(shield=True):
                await _run(_close_and_remove, fd, temp, created)
            raise
        await _run(os.close, fd)
        return temp, size

    async def _commit(self, temp: Path, target: Path) -> None:
        try:
            await _run(_replace_durably, temp, target)
        except BaseException:
            with CancelScope(shield=True):
                await _run(_remove_quietly, temp)
            raise

    async def put(self, path: str, body: AsyncIterable[bytes]) -> int:
        layout.check_file_path(path)
        with _translated(path):
            target = await _run(self._prepare_target, path)
            temp, size = await self._write_temp(target, body)
            await self._commit(temp, target)
            return size

    # -- reading ----------------------------------------------------------------------------

    def _open_for_read(self, path: str) -> int:
        fd = os.open(self._resolve(path), os.O_RDONLY | os.O_CLOEXEC)
        if _is_dir_fd(fd):
            os.close(fd)
            raise NotAFile(path)
        return fd

    async def read(self, path: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        layout.check_range(start, end)
        layout.check_visible(path)
        with _translated(path):
            fd = await _run(self._open_for_read, path)
            try:
                offset = start
                while end is None or offset < end:
                    want = CHUNK_SIZE if end is None else min(CHUNK_SIZE, end - offset)
                    chunk = await _run(os.pread, fd, want, offset)
                    if not chunk:
                        break
                    offset += len(chunk)
                    yield chunk
            finally:
                os.close(fd)  # closing a regular file does not block

    def _stat(self, path: str) -> FileInfo | None:
        try:
            st = self._resolve(path).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if stat.S_ISDIR(st.st_mode):
            return FileInfo(path, is_dir=True)
        return FileInfo(path, is_dir=False, file_size=st.st_size)

    async def stat(self, path: str) -> FileInfo | None:
        layout.check_visible(path)
        if not path:
            return FileInfo("", is_dir=True)
        with _translated(path):
            return await _run(self._stat, path)

    def _list(self, path: str) -> list[FileInfo]:
        directory = self._resolve(path)
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return []
        found: list[FileInfo] = []
        for entry in entries:
            if layout.is_internal(entry.name):
                continue
            child = join(path, entry.name)
            try:
                if entry.is_symlink():
                    self._resolve(child)  # one leading outside the root is not ours to show
                info = FileInfo(child, is_dir=True) if entry.is_dir() else None
                if info is None:
                    info = FileInfo(child, is_dir=False, file_size=entry.stat().st_size)
            except (InvalidParameterValue, FileNotFoundError):
                continue  # escaping or dangling link, or deleted meanwhile
            found.append(info)
        return sorted(found, key=lambda info: info.path)

    async def list(self, path: str) -> list[FileInfo]:
        layout.check_visible(path)
        with _translated(path):
            return await _run(self._list, path)

    # -- deleting ---------------------------------------------------------------------------

    def _delete(self, path: str) -> None:
        target = self._resolve(path)
        if not path:  # the root itself stays, and so do uploads in progress
            for entry in os.scandir(target) if target.is_dir() else []:
                if not layout.is_internal(entry.name):
                    _remove_tree(Path(entry.path))
            return
        _remove_tree(target)

    async def delete(self, path: str) -> None:
        layout.check_visible(path)
        with _translated(path):
            await _run(self._delete, path)

    # -- multipart --------------------------------------------------------------------------

    def _create_upload(self, path: str) -> str:
        self._prepare_target(path)  # refuse a bad target now, not at completion
        upload_id = layout.new_upload_id()
        staging = self.root / layout.UPLOADS_DIR / upload_id
        staging.mkdir(parents=True)
        (staging / layout.UPLOAD_TARGET_FILE).write_text(path)
        return upload_id

    async def create_multipart(self, path: str) -> str:
        layout.check_file_path(path)
        with _translated(path):
            return await _run(self._create_upload, path)

    async def put_part(
        self, path: str, upload_id: str, number: int, body: AsyncIterable[bytes]
    ) -> Part:
        layout.check_part_number(number)
        with _translated(path):
            staging = await _run(self._upload_dir, path, upload_id)
            digest = hashlib.md5(usedforsecurity=False)
            temp, _ = await self._write_temp(staging / "part", body, digest)
            etag = digest.hexdigest()
            await self._commit(temp, staging / layout.part_file_name(number, etag))
            await _run(_drop_stale_parts, staging, number, etag)
            return Part(number, etag)

    def _assemble(self, path: str, upload_id: str, parts: builtins.list[Part]) -> None:
        staging = self._upload_dir(path, upload_id)
        sources = [staging / layout.part_file_name(p.number, p.etag) for p in parts]
        for part, source in zip(parts, sources, strict=True):
            if not source.is_file():
                raise InvalidParameterValue(
                    f"Part {part.number} of upload {upload_id} was not uploaded "
                    "or its etag does not match."
                )
        target = self._prepare_target(path)
        temp = target.with_name(layout.temp_name(target.name))
        fd, created = _create_new(temp)
        try:
            with open(fd, "wb", closefd=False) as out:
                for source in sources:
                    with source.open("rb") as src:
                        shutil.copyfileobj(src, out, CHUNK_SIZE)
            os.fsync(fd)
            os.close(fd)
            fd = -1
            _replace_durably(temp, target)
        except BaseException:
            _close_and_remove(fd, temp, created)
            raise
        _remove_tree(staging)

    async def complete_multipart(
        self, path: str, upload_id: str, parts: builtins.list[Part]
    ) -> None:
        ordered = layout.ordered_parts(parts)
        with _translated(path):
            await _run(self._assemble, path, upload_id, ordered)

    async def abort_multipart(self, path: str, upload_id: str) -> None:
        with _translated(path):
            staging = await _run(self._upload_dir, path, upload_id)
            await _run(_remove_tree, staging)

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


# -- blocking helpers, run in worker threads ------------------------------------------------


def _write_and_flush_early(fd: int, data: bytes) -> None:
    """Write all of ``data``, then let the disk start on it without waiting.

    Without the early start, the kernel holds most of a big upload in the page cache and the
    final fsync waits for all of it, so receiving and writing took turns.
    """
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    _start_writeback(fd)


# sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) queues the file's dirty pages for writing
# and returns; pages already on their way are skipped. Without it (not Linux) fsync does it all.
_sync_file_range = libc.function(
    "sync_file_range", [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
)
_SYNC_FILE_RANGE_WRITE = 2


def _start_writeback(fd: int) -> None:
    if _sync_file_range is not None:  # advisory: a failure here is fsync's to report
        _sync_file_range(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)


def _is_dir_fd(fd: int) -> bool:
    return stat.S_ISDIR(os.fstat(fd).st_mode)


def _replace_durably(temp: Path, target: Path) -> None:
    """Rename into place, then fsync the directory so the rename survives a crash."""
    os.replace(temp, target)
    dir_fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _create_new(path: Path) -> tuple[int, list[Path]]:
    """Open a new file for writing, creating missing parent directories.

    Returns the directories it created, deepest first, so a failed write can take them
    away again and leave nothing behind.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        return os.open(path, flags, 0o666), []
    except FileNotFoundError:
        pass
    missing = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    for directory in reversed(missing):
        with suppress(FileExistsError):  # a concurrent put made it first: it is theirs
            directory.mkdir()
    return os.open(path, flags, 0o666), missing


def _close_and_remove(fd: int, temp: Path, created: list[Path]) -> None:
    if fd >= 0:
        os.close(fd)
    _remove_quietly(temp)
    for directory in created:  # only while empty: a concurrent put may be using it
        try:
            directory.rmdir()
        except OSError:
            break


def _remove_quietly(path: Path) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)


def _remove_tree(path: Path) -> None:
    """Remove a file, a symlink (not what it points to) or a whole tree; missing is fine."""
    try:
        is_real_dir = path.is_dir() and not path.is_symlink()
        if is_real_dir:
            shutil.rmtree(path, onerror=_ignore_missing)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


def _ignore_missing(func: Any, path: str, exc_info: Any) -> None:
    if not isinstance(exc_info[1], FileNotFoundError):  # a concurrent delete got there first
        raise exc_info[1]


def _drop_stale_parts(staging: Path, number: int, keep_etag: str) -> None:
    """A part uploaded again replaces the earlier upload of the same number."""
    keep = layout.part_file_name(number, keep_etag)
    for entry in os.scandir(staging):
        if layout.is_part_of(entry.name, number) and entry.name != keep:
            _remove_quietly(Path(entry.path))
