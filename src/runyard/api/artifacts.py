"""The artifact proxy (``/api/2.0/mlflow-artifacts/...``) and the run-artifact routes the UI and
the client use (``/mlflow/artifacts/list``, ``/get-artifact``, ``/api/3.0/mlflow/server-info``).

Bodies stream both ways: an upload goes from the socket to the store chunk by chunk, a download
from the store to the socket, so memory stays flat whatever the file size.
"""

from __future__ import annotations

import asyncio
import mimetypes
import posixpath
import re
import urllib.parse
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.lowlevel import checkpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from runyard.api.request import Message
from runyard.api.resources import ArtifactPath
from runyard.artifacts.base import FileInfo, Part
from runyard.errors import InvalidParameterValue
from runyard.services import artifacts as service
from runyard.services.context import Ctx

Handler = Callable[[Request, Message, str], Awaitable[Response]]

# MLflow serves these as text/plain so that browsers show rather than run them.
_TEXT_EXTENSIONS = frozenset(
    [
        "txt",
        "log",
        "err",
        "cfg",
        "conf",
        "cnf",
        "cf",
        "ini",
        "properties",
        "prop",
        "hocon",
        "toml",
        "yaml",
        "yml",
        "xml",
        "json",
        "js",
        "py",
        "py3",
        "csv",
        "tsv",
        "md",
        "rst",
        "ipynb",
        "MLmodel",
        "MLproject",
    ]
)
_MAX_PARTS = 10_000


def mime_type(filename: str) -> str:
    base = posixpath.basename(filename)
    extension = posixpath.splitext(base)[1].lstrip(".") or base
    if extension in _TEXT_EXTENSIONS:
        return "text/plain"
    return mimetypes.guess_type(base)[0] or "application/octet-stream"


def content_disposition(filename: str) -> str:
    """RFC 6266 attachment header, with an RFC 5987 UTF-8 name when it is not plain ASCII."""
    if filename.isascii() and re.fullmatch(r"[\w.\- ]*", filename):
        return f'attachment; filename="{filename}"'
    fallback = filename.encode("ascii", "ignore").decode().replace('"', "") or "download"
    quoted = urllib.parse.quote(filename, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quoted}"


def _ctx(request: Request) -> Ctx:
    ctx: Ctx = request.app.state.ctx
    return ctx


def _json(body: dict[str, Any]) -> Response:
    return JSONResponse(body)


# --- the proxy ----------------------------------------------------------------------------

_END = object()
_READ_AHEAD_BYTES = 8 * 1024 * 1024


class _ReadAhead:
    """``body``, read by a task of its own (``pump``) at most ``_READ_AHEAD_BYTES`` ahead of
    the consumer (``chunks``).

    Without it the socket is only read while the store is not writing: uvicorn stops reading
    (and TCP stalls the sender) as soon as a chunk waits unconsumed, so network and disk took
    turns. With it they overlap. The bound is in bytes, not chunks: uvicorn hands over
    anything from a few KiB to a few hundred KiB at a time, and a slow disk must not let the
    buffer grow with it.
    """

    def __init__(self, body: AsyncIterator[bytes]) -> None:
        self._body: AsyncIterator[bytes] | None = body
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._room = asyncio.Condition()
        self._queued = 0

    async def pump(self) -> None:
        assert self._body is not None
        try:
            async for chunk in self._body:
                async with self._room:
                    while self._queued >= _READ_AHEAD_BYTES:
                        await self._room.wait()
                    self._queued += len(chunk)
                self._queue.put_nowait(chunk)
                del chunk  # a failure's traceback holds this frame: it must not hold a chunk
            self._queue.put_nowait(_END)
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            self._queue.put_nowait(exc)

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        while (item := await self._queue.get()) is not _END:
            if isinstance(item, Exception):
                try:
                    raise item
                finally:
                    item = None  # the traceback holds this frame: no cycle through it
            async with self._room:
                self._queued -= len(item)
                self._room.notify()
            yield item

    def release(self) -> None:
        """Let go of every buffered chunk and of the request. A cancelled pump's frame lives
        on in its CancelledError until a garbage collection, and that frame holds ``self``:
        so ``self`` must then hold nothing big."""
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queued = 0
        self._body = None


@asynccontextmanager
async def read_ahead(body: AsyncIterator[bytes]) -> AsyncIterator[AsyncIterator[bytes]]:
    """The chunks of ``body``, read ahead (``_ReadAhead``); when the block ends, however it
    ends (done, failed, the client gone), the pump is stopped and awaited, so no task is left
    pending, and the buffer is freed at once rather than at a garbage collection."""
    buffer = _ReadAhead(body)
    pump = asyncio.create_task(buffer.pump())
    chunks = buffer.chunks()
    try:
        yield chunks
    finally:
        await chunks.aclose()
        pump.cancel()
        await asyncio.wait([pump])
        buffer.release()


async def upload(request: Request, msg: Message, where: ArtifactPath) -> Response:
    async with read_ahead(request.stream()) as body:
        await service.upload(_ctx(request), where.raw, body)
    return Response(status_code=200)


def _byte_range(header: str | None) -> tuple[int | None, int | None] | None:
    """One ``bytes=first-last`` range; anything else (several ranges, junk) means the whole file,
    as RFC 9110 allows."""
    if not header:
        return None
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not match or match.group(1) == match.group(2) == "":
        return None
    first = int(match.group(1)) if match.group(1) else None
    last = int(match.group(2)) if match.group(2) else None
    if first is not None and last is not None and last < first:
        return None
    return first, last


async def _yielding(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``body``, giving the event loop a turn after every chunk, and closed when done.

    Once the client has gone, uvicorn's send returns at once, and anyio delivers Starlette's
    cancellation-on-disconnect only to a task it finds waiting: with a store whose next chunk
    is usually ready (S3 on a fast link) that hardly ever happens, and the rest of the file
    was read for no one.
    """
    try:
        async for chunk in body:
            yield chunk
            await checkpoint()
    finally:
        close = getattr(body, "aclose", None)
        if close is not None:
            with anyio.CancelScope(shield=True):
                await close()


def _stream(download: service.Download, name: str, partial: bool) -> Response:
    size = download.info.file_size or 0
    headers = {
        "Content-Type": mime_type(name),
        "Content-Disposition": content_disposition(posixpath.basename(name)),
        "X-Content-Type-Options": "nosniff",
        "Accept-Ranges": "bytes",
        "Content-Length": str(download.end - download.start),
    }
    if partial:
        headers["Content-Range"] = f"bytes {download.start}-{download.end - 1}/{size}"
    return StreamingResponse(
        _yielding(download.body), status_code=206 if partial else 200, headers=headers
    )


async def download(request: Request, msg: Message, where: ArtifactPath) -> Response:
    path = where.raw
    byte_range = _byte_range(request.headers.get("range"))
    found = await service.download(_ctx(request), path, byte_range)
    return _stream(found, path, byte_range is not None)


def _file_json(info: FileInfo, path: str) -> dict[str, Any]:
    out: dict[str, Any] = {"path": path, "is_dir": info.is_dir}
    if not info.is_dir and info.file_size is not None:
        out["file_size"] = info.file_size
    return out


async def list_dir(request: Request, msg: Message, where: ArtifactPath) -> Response:
    files = await service.list_dir(_ctx(request), where.raw)
    if not files:
        return _json({})
    return _json({"files": [_file_json(f, posixpath.basename(f.path)) for f in files]})


async def delete(request: Request, msg: Message, where: ArtifactPath) -> Response:
    await service.delete(_ctx(request), where.raw)
    return _json({})


async def mpu_create(request: Request, msg: Message, where: ArtifactPath) -> Response:
    target = where.raw
    num_parts = msg.integer("num_parts") or 1
    if not 1 <= num_parts <= _MAX_PARTS:
        raise InvalidParameterValue(f"num_parts must be between 1 and {_MAX_PARTS}.")
    upload_id = await service.create_multipart(_ctx(request), target)
    base = str(request.base_url).rstrip("/")
    query = urllib.parse.urlencode({"path": target})
    credentials = [
        {
            "url": f"{base}/api/2.0/mlflow-artifacts/mpu/part/{upload_id}/{n}?{query}",
            "part_number": n,
        }
        for n in range(1, num_parts + 1)
    ]
    return _json({"upload_id": upload_id, "credentials": credentials})


async def mpu_part(request: Request, msg: Message, where: ArtifactPath) -> Response:
    number = request.path_params["number"]
    async with read_ahead(request.stream()) as body:
        part = await service.put_part(
            _ctx(request), where.raw, request.path_params["upload_id"], number, body
        )
    return Response(status_code=200, headers={"ETag": part.etag})


async def mpu_complete(request: Request, msg: Message, where: ArtifactPath) -> Response:
    parts = [
        Part(p.integer("part_number") or 0, p.text("etag") or "") for p in msg.messages("parts")
    ]
    await service.complete_multipart(_ctx(request), where.raw, msg.req_text("upload_id"), parts)
    return _json({})


async def mpu_abort(request: Request, msg: Message, where: ArtifactPath) -> Response:
    await service.abort_multipart(_ctx(request), where.raw, msg.req_text("upload_id"))
    return _json({})


# --- a run's or a logged model's artifacts ---------------------------------------------------


Resolver = Callable[[Ctx, str], service.ArtifactRoot]


def _lister(resolve: Resolver, path_arg: str) -> Handler:
    """A listing of a run's or a model's artifacts (the run or model the route's resource
    names): paths relative to its root."""

    async def list_artifacts(request: Request, msg: Message, owner: str) -> Response:
        ctx = _ctx(request)
        root = await anyio.to_thread.run_sync(resolve, ctx, owner)
        files = await service.list_under(ctx, root, msg.text(path_arg) or "")
        body: dict[str, Any] = {"root_uri": root.root_uri}
        if files:
            body["files"] = [_file_json(f, f.path) for f in files]
        return _json(body)

    return list_artifacts


def _getter(resolve: Resolver, path_arg: str) -> Handler:
    """A download of one of a run's or a model's artifacts."""

    async def get_artifact(request: Request, msg: Message, owner: str) -> Response:
        ctx = _ctx(request)
        root = await anyio.to_thread.run_sync(resolve, ctx, owner)
        path = msg.text(path_arg) or ""
        found = await service.download_under(ctx, root, path)
        return _stream(found, path, partial=False)

    return get_artifact


list_run_artifacts = _lister(service.run_root, "path")
get_run_artifact = _getter(service.run_root, "path")
list_model_artifacts = _lister(service.model_root, "artifact_directory_path")
get_model_artifact = _getter(service.model_root, "artifact_file_path")


async def get_model_version_artifact(request: Request, msg: Message, name: str) -> Response:
    """A file of a registered model version (the UI's download link), read where the
    version's download URI points."""
    ctx = _ctx(request)
    version = msg.req_text("version")
    root = await anyio.to_thread.run_sync(service.model_version_root, ctx, name, version)
    path = msg.req_text("path")
    found = await service.download_under(ctx, root, path)
    return _stream(found, path, partial=False)


async def server_info(request: Request, msg: Message, _: None) -> Response:
    serving = _ctx(request).artifacts is not None
    return _json(
        {
            "store_type": "SqlStore",
            "workspaces_enabled": False,
            "trace_archival_enabled": False,
            "multipart_uploads_enabled": serving,
            "multipart_downloads_enabled": False,
            "artifact_serving_enabled": serving,
            "artifacts_presigned_only": False,
        }
    )
