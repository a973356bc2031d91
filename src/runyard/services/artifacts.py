"""Artifact use cases: the proxy under ``--artifacts-destination`` and a run's own artifacts.

Every raw path from a request is cleaned here, once (``domain.artifact_paths.clean``), before
a store sees it. Run artifact URIs of the form ``mlflow-artifacts:/<path>`` are resolved to
``<path>`` under the destination, as MLflow's server does.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from runyard.artifacts.base import ArtifactStore, FileInfo, NotAFile, Part
from runyard.domain import artifact_paths, model_sources
from runyard.errors import InvalidParameterValue, MlflowError, ResourceDoesNotExist
from runyard.services import logged_models, registry
from runyard.services.context import Ctx
from runyard.store import runs as run_store
from runyard.store.engine import Connection

PROXY_SCHEME = "mlflow-artifacts:"


class ArtifactServingDisabled(MlflowError):
    """The server runs with ``--no-serve-artifacts``."""

    def __init__(self) -> None:
        super().__init__(
            "Artifact serving is disabled. Run `runyard server` with `--serve-artifacts` "
            "to enable.",
            "TEMPORARILY_UNAVAILABLE",
        )


def _store(ctx: Ctx) -> ArtifactStore:
    if ctx.artifacts is None:
        raise ArtifactServingDisabled()
    return ctx.artifacts


def _writable(raw: str) -> str:
    """A file path that a client may write: inside one run's or one model's artifacts."""
    path = _file_path(raw)
    artifact_paths.check_within_owner(path, file=True)
    return path


def _file_path(raw: str) -> str:
    path = artifact_paths.clean(raw)
    if not path:
        raise InvalidParameterValue(
            "Artifact path must include a filename (cannot be empty or end with '/')."
        )
    return path


async def upload(ctx: Ctx, raw_path: str, body: AsyncIterable[bytes]) -> int:
    if raw_path.endswith("/"):
        raise InvalidParameterValue("Artifact path must include a filename (cannot end with '/').")
    return await _store(ctx).put(_writable(raw_path), body)


@dataclass(frozen=True)
class Download:
    info: FileInfo
    start: int
    end: int  # exclusive
    body: AsyncIterator[bytes]


async def download(
    ctx: Ctx, raw_path: str, byte_range: tuple[int | None, int | None] | None = None
) -> Download:
    """A file's bytes, or ``[first, last]`` of them (HTTP Range semantics, already parsed)."""
    store = _store(ctx)
    path = _file_path(raw_path)
    info = await store.stat(path)
    if info is None:
        raise ResourceDoesNotExist(f"No such artifact: '{path}'")
    if info.is_dir:
        raise NotAFile(path)
    size = info.file_size or 0
    start, end = 0, size
    if byte_range is not None:
        start, end = _resolve_range(byte_range, size)
    return Download(info, start, end, store.read(path, start, end))


class RangeNotSatisfiable(InvalidParameterValue):
    def __init__(self, size: int) -> None:
        super().__init__(f"Requested range not satisfiable for a file of {size} bytes.")
        self.size = size
        self.headers = {"Content-Range": f"bytes */{size}"}

    @property
    def status(self) -> int:
        return 416


def _resolve_range(byte_range: tuple[int | None, int | None], size: int) -> tuple[int, int]:
    first, last = byte_range
    if first is None:  # "bytes=-N": the last N bytes
        if not last:
            raise RangeNotSatisfiable(size)
        return max(0, size - last), size
    if first >= size:
        raise RangeNotSatisfiable(size)
    end = size if last is None else min(last + 1, size)
    return first, end


async def list_dir(ctx: Ctx, raw_path: str) -> list[FileInfo]:
    """Immediate children of a directory under the destination; a missing one is empty."""
    return await _store(ctx).list(artifact_paths.clean(raw_path))


async def delete(ctx: Ctx, raw_path: str) -> None:
    path = artifact_paths.clean(raw_path)
    artifact_paths.check_within_owner(path, file=False)
    await _store(ctx).delete(path)


def multipart_target(raw_dir: str, local_file: str) -> str:
    """Where a multipart upload lands: the client sends its directory in the URL and the
    *local* path of the file in the body, of which only the base name counts."""
    name = local_file.replace("\\", "/").rsplit("/", 1)[-1]
    if not name:
        raise InvalidParameterValue(f"Invalid file name for a multipart upload: {local_file!r}")
    return _writable(artifact_paths.join(artifact_paths.clean(raw_dir), _file_path(name)))


async def create_multipart(ctx: Ctx, path: str) -> str:
    return await _store(ctx).create_multipart(path)


async def put_part(
    ctx: Ctx, raw_path: str, upload_id: str, number: int, body: AsyncIterable[bytes]
) -> Part:
    if number < 1:
        raise InvalidParameterValue(f"Invalid part number: {number}")
    return await _store(ctx).put_part(_writable(raw_path), upload_id, number, body)


async def complete_multipart(ctx: Ctx, path: str, upload_id: str, parts: list[Part]) -> None:
    if not parts:
        raise InvalidParameterValue("A multipart upload needs at least one part.")
    numbers = [p.number for p in parts]
    if sorted(numbers) != list(range(1, len(parts) + 1)):
        raise InvalidParameterValue(f"Parts must be numbered 1..{len(parts)}, got {numbers}.")
    await _store(ctx).complete_multipart(path, upload_id, sorted(parts, key=lambda p: p.number))


async def abort_multipart(ctx: Ctx, path: str, upload_id: str) -> None:
    await _store(ctx).abort_multipart(path, upload_id)


# --- a run's or a logged model's artifacts (the UI's listings and downloads) --------------


@dataclass(frozen=True)
class ArtifactRoot:
    root_uri: str  # the run's or model's artifact_uri, as clients know it
    base: str  # that root as a clean path under the destination


def run_root(ctx: Ctx, run_id: str) -> ArtifactRoot:
    """Where a run's artifacts live under the destination (runs whose root the server proxies)."""

    def tx(conn: Connection) -> str:
        return run_store.get_info(conn, run_id).artifact_uri or ""

    uri = ctx.db.read(tx)
    return ArtifactRoot(uri, proxied_path(uri))


def model_root(ctx: Ctx, model_id: str) -> ArtifactRoot:
    uri = logged_models.get(ctx, model_id).artifact_location
    return ArtifactRoot(uri, proxied_path(uri))


def model_version_root(ctx: Ctx, name: str, version: str) -> ArtifactRoot:
    """Where a registered model version's files are: its download location, which is a run's
    ``runs:/`` path or a proxied location (its source was checked when it was created)."""
    uri = registry.get_model_version_download_uri(ctx, name, version)
    if uri.startswith("runs:/"):
        run_id, path = model_sources.split_runs_uri(uri)
        run = run_root(ctx, run_id)
        return ArtifactRoot(uri, artifact_paths.join(run.base, artifact_paths.clean(path)))
    return ArtifactRoot(uri, proxied_path(uri))


def proxied_path(uri: str) -> str:
    """``mlflow-artifacts:/a/b`` or ``mlflow-artifacts://host/a/b`` → ``a/b``."""
    if not uri.startswith(PROXY_SCHEME):
        raise InvalidParameterValue(
            f"The artifact location {uri!r} is not served by this server (only "
            f"'{PROXY_SCHEME}' locations are proxied); read it from its storage directly."
        )
    rest = uri[len(PROXY_SCHEME) :]
    if rest.startswith("//"):  # an authority: mlflow-artifacts://host:port/path
        rest = rest[2:].partition("/")[2]
    elif rest.startswith("/"):
        rest = rest[1:]
    return artifact_paths.clean(rest)


async def list_under(ctx: Ctx, root: ArtifactRoot, raw_path: str) -> list[FileInfo]:
    """Children of ``raw_path`` inside ``root``, with paths relative to that root."""
    rel = artifact_paths.clean(raw_path)
    found = await _store(ctx).list(artifact_paths.join(root.base, rel))
    prefix = len(root.base) + 1 if root.base else 0
    return [FileInfo(f.path[prefix:], f.is_dir, f.file_size) for f in found]


async def download_under(ctx: Ctx, root: ArtifactRoot, raw_path: str) -> Download:
    return await download(ctx, artifact_paths.join(root.base, _file_path(raw_path)))
