"""Artifacts on an SFTP server, over a small pool of SSH connections (asyncssh).

URI: ``sftp://user@host[:port]/absolute/path`` (no password: authentication is by key only).
The host key is checked against an explicit known_hosts file, always.

Writes stream to a hidden temporary name and are renamed into place with the
``posix-rename@openssh.com`` extension (atomic replace); nothing is spooled locally. Multipart
parts are staged under ``<root>/.runyard-uploads/<id>/`` on the server and streamed into the
target on completion.
"""

from __future__ import annotations

import builtins
import hashlib
import posixpath
import stat
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import unquote, urlsplit

import anyio
import asyncssh

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

# The connection itself is gone: worth one retry on a fresh one.
_LOST: tuple[type[BaseException], ...] = (
    asyncssh.DisconnectError,
    asyncssh.ChannelOpenError,
    asyncssh.SFTPConnectionLost,
    asyncssh.SFTPNoConnection,
    ConnectionError,
    EOFError,
)


@contextmanager
def _translated(path: str) -> Iterator[None]:
    """asyncssh and OSError in, the contract's errors out."""
    try:
        yield
    except MlflowError:
        raise
    except asyncssh.SFTPNoSuchFile as exc:
        raise ArtifactNotFound(path) from exc
    except asyncssh.SFTPFileIsADirectory as exc:
        raise NotAFile(path) from exc
    except asyncssh.SFTPNotADirectory as exc:
        raise InvalidParameterValue(
            f"Invalid artifact path: {path!r}: a parent of it is a file."
        ) from exc
    except (_NoSpace, asyncssh.SFTPNoSpaceOnFilesystem, asyncssh.SFTPQuotaExceeded) as exc:
        forget_locals(exc)
        raise StorageFull(path, str(exc)) from exc
    except (asyncssh.SFTPBadMessage, asyncssh.SFTPInvalidFilename) as exc:
        # OpenSSH's answer to ENAMETOOLONG and EINVAL: the name, not the server, is at fault.
        forget_locals(exc)
        raise InvalidParameterValue(
            f"Invalid artifact path: {path!r}: the SFTP server refused the name ({exc})."
        ) from exc
    except (asyncssh.Error, OSError, EOFError) as exc:
        forget_locals(exc)
        raise StorageUnavailable(f"SFTP artifact storage failed for {path!r}: {exc}") from exc


class _NoSpace(Exception):
    """A write failed and the server's file system has no room left (see ``_out_of_space``)."""


async def _out_of_space(sftp: asyncssh.SFTPClient, directory: str) -> bool:
    """Whether a failed write failed for want of space.

    OpenSSH's server speaks SFTP version 3, which has no code for a full disk: ENOSPC and
    EDQUOT reach the client as a bare "Failure". Its statvfs extension tells a full file system
    apart (a quota it cannot see: that stays a Failure).
    """
    try:
        vfs = await sftp.statvfs(directory)
    except (asyncssh.Error, OSError, EOFError):
        return False  # no extension, or the connection is the problem
    return vfs.bavail * (vfs.frsize or vfs.bsize) < CHUNK_SIZE


class _Session:
    def __init__(self, conn: asyncssh.SSHClientConnection, sftp: asyncssh.SFTPClient) -> None:
        self.conn = conn
        self.sftp = sftp
        self.users = 0

    @property
    def alive(self) -> bool:
        return not self.conn.is_closed()

    def close(self) -> None:
        self.sftp.exit()
        self.conn.close()


class _Pool:
    """Up to ``size`` SSH connections, each shared by concurrent operations.

    SFTP multiplexes requests on one channel, so an operation takes the least busy connection
    and a new one is opened only while every existing one is in use. A connection that broke
    is dropped and replaced on the next call.
    """

    def __init__(self, connect: Callable[[], Awaitable[_Session]], size: int) -> None:
        self._connect = connect
        self._size = size
        self._sessions: list[_Session] = []
        self._connecting = anyio.Lock()

    async def _pick(self) -> _Session:
        self._sessions = [s for s in self._sessions if s.alive]
        idle = [s for s in self._sessions if s.users == 0]
        if idle or len(self._sessions) >= self._size:
            return idle[0] if idle else min(self._sessions, key=lambda s: s.users)
        async with self._connecting:
            if len(self._sessions) < self._size:
                self._sessions.append(await self._connect())
            return min(self._sessions, key=lambda s: s.users)

    @asynccontextmanager
    async def sftp(self) -> AsyncIterator[asyncssh.SFTPClient]:
        session = await self._pick()
        session.users += 1
        try:
            yield session.sftp
        except _LOST:
            self._discard(session)
            raise
        finally:
            session.users -= 1

    def _discard(self, session: _Session) -> None:
        if session in self._sessions:
            self._sessions.remove(session)
        session.close()

    async def aclose(self) -> None:
        sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        for session in sessions:
            await session.conn.wait_closed()


class SftpArtifactStore:
    def __init__(
        self,
        host: str,
        root: str,
        *,
        key_file: str | Path,
        known_hosts: str | Path,
        port: int = 22,
        username: str | None = None,
        pool_size: int = 4,
        connect_timeout: float = 10.0,
    ) -> None:
        if not root.startswith("/"):
            raise InvalidParameterValue(f"SFTP artifact root must be absolute, got {root!r}.")
        self.host, self.port, self.username = host, port, username
        self.root = root.rstrip("/") or "/"
        self.key_file, self.known_hosts = Path(key_file), Path(known_hosts)
        self.connect_timeout = connect_timeout
        user = f"{username}@" if username else ""
        self.uri = f"sftp://{user}{host}:{port}{self.root}"
        self._pool = _Pool(self._open_session, pool_size)

    @classmethod
    def from_uri(
        cls,
        uri: str,
        *,
        key_file: str | Path,
        known_hosts: str | Path,
        pool_size: int = 4,
        connect_timeout: float = 10.0,
    ) -> SftpArtifactStore:
        parts = urlsplit(uri)
        if parts.scheme != "sftp" or not parts.hostname:
            raise InvalidParameterValue(f"Not an SFTP URI (sftp://user@host[:port]/path): {uri!r}")
        if parts.password is not None:
            raise InvalidParameterValue("SFTP URIs must not carry a password; use a key file.")
        try:
            port = parts.port or 22
        except ValueError as exc:
            raise InvalidParameterValue(f"Invalid port in SFTP URI {uri!r}.") from exc
        return cls(
            parts.hostname,
            unquote(parts.path) or "/",
            key_file=key_file,
            known_hosts=known_hosts,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            pool_size=pool_size,
            connect_timeout=connect_timeout,
        )

    async def _open_session(self) -> _Session:
        try:
            conn = await asyncssh.connect(
                self.host,
                self.port,
                username=self.username,
                client_keys=[str(self.key_file)],
                known_hosts=str(self.known_hosts),
                agent_path=None,
                config=[],  # this store's options only, not ~/.ssh/config
                preferred_auth="publickey",
                connect_timeout=self.connect_timeout,
                keepalive_interval=30,
            )
            sftp = await conn.start_sftp_client()
        except (asyncssh.Error, OSError, EOFError) as exc:
            raise StorageUnavailable(f"Cannot open SFTP session to {self.uri}: {exc}") from exc
        return _Session(conn, sftp)

    async def _call(
        self,
        op: Callable[[asyncssh.SFTPClient], Awaitable[T]],
        may_retry: Callable[[], bool] = lambda: True,
    ) -> T:
        """Run ``op`` on a pooled connection, once more on a fresh one if that one was dead."""
        try:
            async with self._pool.sftp() as sftp:
                return await op(sftp)
        except _LOST:
            if not may_retry():
                raise
        async with self._pool.sftp() as sftp:
            return await op(sftp)

    def _abs(self, path: str) -> str:
        return posixpath.join(self.root, path) if path else self.root

    # -- writing ----------------------------------------------------------------------------

    async def _stream_to_temp(
        self,
        sftp: asyncssh.SFTPClient,
        beside: str,
        chunks: AsyncIterator[bytes],
        digest: Any = None,
    ) -> tuple[str, int]:
        """Write ``chunks`` into a new hidden file next to ``beside``; remove it on failure."""
        directory, name = posixpath.split(beside)
        temp = posixpath.join(directory, layout.temp_name(name))
        remote, created = await _create_new(sftp, temp)
        size = 0
        try:
            async with remote:
                async for piece in chunks:
                    await remote.write(piece)
                    if digest is not None:
                        digest.update(piece)
                    size += len(piece)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                # Asked before the temporary file goes and gives its space back.
                full = isinstance(exc, asyncssh.SFTPFailure) and await _out_of_space(
                    sftp, directory
                )
                await _remove_quietly(sftp, temp)
                for made in created:  # only while empty: a concurrent put may be using it
                    try:
                        await sftp.rmdir(made)
                    except (asyncssh.Error, OSError, EOFError):
                        break
            if full:
                raise _NoSpace("No space left on the SFTP server's file system") from exc
            raise
        return temp, size

    async def _rename_over(self, sftp: asyncssh.SFTPClient, temp: str, target: str) -> None:
        try:
            await sftp.posix_rename(temp, target)
        except asyncssh.SFTPOpUnsupported:  # a server without the extension: not atomic
            await _remove_quietly(sftp, target)
            await sftp.rename(temp, target)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await _remove_quietly(sftp, temp)
            raise

    async def _check_target(self, sftp: asyncssh.SFTPClient, path: str) -> str:
        target = self._abs(path)
        if await sftp.isdir(target):
            raise NotAFile(path)
        return target

    async def put(self, path: str, body: AsyncIterable[bytes]) -> int:
        layout.check_file_path(path)
        chunks = _Tracked(layout.rechunk(body, CHUNK_SIZE))

        async def op(sftp: asyncssh.SFTPClient) -> int:
            target = await self._check_target(sftp, path)
            temp, size = await self._stream_to_temp(sftp, target, chunks)
            await self._rename_over(sftp, temp, target)
            return size

        with _translated(path):
            return await self._call(op, may_retry=lambda: not chunks.started)

    # -- reading ----------------------------------------------------------------------------

    async def read(self, path: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        layout.check_range(start, end)
        layout.check_visible(path)
        target = self._abs(path)

        async def open_file(sftp: asyncssh.SFTPClient) -> asyncssh.SFTPClientFile:
            if stat.S_ISDIR((await sftp.stat(target)).permissions or 0):
                raise NotAFile(path)
            return await sftp.open(target, "rb")

        with _translated(path):
            remote = await self._call(open_file)
            try:
                offset = start
                while end is None or offset < end:
                    want = CHUNK_SIZE if end is None else min(CHUNK_SIZE, end - offset)
                    chunk = cast(bytes, await remote.read(want, offset))
                    if not chunk:
                        break
                    offset += len(chunk)
                    yield chunk
            finally:
                with anyio.CancelScope(shield=True):
                    await _close_quietly(remote)

    async def stat(self, path: str) -> FileInfo | None:
        layout.check_visible(path)
        if not path:
            return FileInfo("", is_dir=True)

        async def op(sftp: asyncssh.SFTPClient) -> FileInfo | None:
            try:
                attrs = await sftp.stat(self._abs(path))
            except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNotADirectory):
                return None
            return _info(path, attrs)

        with _translated(path):
            return await self._call(op)

    async def list(self, path: str) -> list[FileInfo]:
        layout.check_visible(path)
        directory = self._abs(path)

        async def op(sftp: asyncssh.SFTPClient) -> list[FileInfo]:
            if not await sftp.isdir(directory):
                return []
            found = []
            for entry in await sftp.readdir(directory):
                name = str(entry.filename)
                if name in (".", "..") or layout.is_internal(name):
                    continue
                attrs = entry.attrs
                if stat.S_ISLNK(attrs.permissions or 0):
                    try:
                        attrs = await sftp.stat(posixpath.join(directory, name))
                    except asyncssh.SFTPNoSuchFile:
                        continue  # a dangling link
                found.append(_info(join(path, name), attrs))
            return sorted(found, key=lambda info: info.path)

        with _translated(path):
            return await self._call(op)

    async def delete(self, path: str) -> None:
        layout.check_visible(path)
        target = self._abs(path)

        async def op(sftp: asyncssh.SFTPClient) -> None:
            if not path:  # the root stays, and so do uploads in progress
                if await sftp.isdir(target):
                    for name in await sftp.listdir(target):
                        if name not in (".", "..") and not layout.is_internal(name):
                            await _remove_tree(sftp, posixpath.join(target, name))
                return
            await _remove_tree(sftp, target)

        with _translated(path):
            await self._call(op)

    # -- multipart --------------------------------------------------------------------------

    def _staging(self, upload_id: str) -> str:
        layout.check_upload_id(upload_id)
        return posixpath.join(self.root, layout.UPLOADS_DIR, upload_id)

    async def _check_upload(self, sftp: asyncssh.SFTPClient, path: str, upload_id: str) -> str:
        staging = self._staging(upload_id)
        try:
            async with sftp.open(posixpath.join(staging, layout.UPLOAD_TARGET_FILE), "rb") as f:
                created_for = cast(bytes, await f.read()).decode()
        except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNotADirectory) as exc:
            raise UploadNotFound(upload_id) from exc
        if created_for != path:
            raise UploadNotFound(upload_id)
        return staging

    async def create_multipart(self, path: str) -> str:
        layout.check_file_path(path)
        upload_id = layout.new_upload_id()
        staging = self._staging(upload_id)

        async def op(sftp: asyncssh.SFTPClient) -> str:
            await self._check_target(sftp, path)
            await sftp.makedirs(staging, exist_ok=True)
            async with sftp.open(posixpath.join(staging, layout.UPLOAD_TARGET_FILE), "wb") as f:
                await f.write(path.encode())
            return upload_id

        with _translated(path):
            return await self._call(op)

    async def put_part(
        self, path: str, upload_id: str, number: int, body: AsyncIterable[bytes]
    ) -> Part:
        layout.check_part_number(number)
        chunks = _Tracked(layout.rechunk(body, CHUNK_SIZE))

        async def op(sftp: asyncssh.SFTPClient) -> Part:
            staging = await self._check_upload(sftp, path, upload_id)
            digest = hashlib.md5(usedforsecurity=False)
            temp, _ = await self._stream_to_temp(
                sftp, posixpath.join(staging, "part"), chunks, digest
            )
            etag = digest.hexdigest()
            keep = layout.part_file_name(number, etag)
            await self._rename_over(sftp, temp, posixpath.join(staging, keep))
            for name in await sftp.listdir(staging):
                if layout.is_part_of(name, number) and name != keep:
                    await _remove_quietly(sftp, posixpath.join(staging, name))
            return Part(number, etag)

        with _translated(path):
            return await self._call(op, may_retry=lambda: not chunks.started)

    async def complete_multipart(
        self, path: str, upload_id: str, parts: builtins.list[Part]
    ) -> None:
        ordered = layout.ordered_parts(parts)

        async def op(sftp: asyncssh.SFTPClient) -> None:
            staging = await self._check_upload(sftp, path, upload_id)
            present = set(await sftp.listdir(staging))
            for part in ordered:
                if layout.part_file_name(part.number, part.etag) not in present:
                    raise InvalidParameterValue(
                        f"Part {part.number} of upload {upload_id} was not uploaded "
                        "or its etag does not match."
                    )
            target = await self._check_target(sftp, path)
            names = [layout.part_file_name(p.number, p.etag) for p in ordered]
            sources = [posixpath.join(staging, name) for name in names]
            temp, _ = await self._stream_to_temp(sftp, target, _concatenated(sftp, sources))
            await self._rename_over(sftp, temp, target)
            await _remove_tree(sftp, staging)

        with _translated(path):
            await self._call(op)

    async def abort_multipart(self, path: str, upload_id: str) -> None:
        async def op(sftp: asyncssh.SFTPClient) -> None:
            await _remove_tree(sftp, await self._check_upload(sftp, path, upload_id))

        with _translated(path):
            await self._call(op)

    async def start(self) -> None:
        return None  # connections are opened on demand: sshd may come up after the server

    async def aclose(self) -> None:
        await self._pool.aclose()


class _Tracked:
    """An async iterator that remembers whether anything was taken from it (then no retry)."""

    def __init__(self, inner: AsyncIterator[bytes]) -> None:
        self._inner = inner
        self.started = False

    def __aiter__(self) -> _Tracked:
        return self

    async def __anext__(self) -> bytes:
        self.started = True
        return await self._inner.__anext__()


async def _create_new(
    sftp: asyncssh.SFTPClient, path: str
) -> tuple[asyncssh.SFTPClientFile, list[str]]:
    """Open a new remote file for writing, creating missing parent directories.

    Returns the directories it created, deepest first, so a failed write can take them away
    again. The common case, a parent that exists, costs no extra round trip.
    """
    flags = "xb"  # O_EXCL: never write into someone else's file
    try:
        return await sftp.open(path, flags), []
    except asyncssh.SFTPNoSuchFile:
        pass
    missing = []
    parent = posixpath.dirname(path)
    while not await sftp.exists(parent):
        missing.append(parent)
        parent = posixpath.dirname(parent)
    for directory in reversed(missing):
        try:
            await sftp.mkdir(directory)
        except asyncssh.SFTPFailure:  # most servers' answer when it exists already
            if not await sftp.isdir(directory):
                raise
    return await sftp.open(path, flags), missing


def _info(path: str, attrs: asyncssh.SFTPAttrs) -> FileInfo:
    if stat.S_ISDIR(attrs.permissions or 0):
        return FileInfo(path, is_dir=True)
    return FileInfo(path, is_dir=False, file_size=attrs.size)


async def _concatenated(sftp: asyncssh.SFTPClient, sources: list[str]) -> AsyncIterator[bytes]:
    for source in sources:
        async with sftp.open(source, "rb") as f:
            while chunk := cast(bytes, await f.read(CHUNK_SIZE)):
                yield chunk


async def _remove_tree(sftp: asyncssh.SFTPClient, target: str) -> None:
    """Remove a file, a link or a whole tree; missing is fine."""
    try:
        attrs = await sftp.lstat(target)
        if stat.S_ISDIR(attrs.permissions or 0):
            await sftp.rmtree(target)
        else:
            await sftp.remove(target)
    except asyncssh.SFTPNoSuchFile:
        pass


async def _remove_quietly(sftp: asyncssh.SFTPClient, target: str) -> None:
    """Best-effort cleanup: the connection may be the reason we are cleaning up."""
    with suppress(asyncssh.Error, OSError, EOFError):
        await sftp.remove(target)


async def _close_quietly(remote: asyncssh.SFTPClientFile) -> None:
    with suppress(asyncssh.Error, OSError, EOFError):
        await remote.close()
