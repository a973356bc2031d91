"""What a store answers when it cannot do what it is asked, and what a failed upload leaves behind.

Issue 9: a full disk was a retryable 503 (finding 7), a name too long a 503 (finding 4), and a
failed upload kept its read-ahead buffer and a pending task until a garbage collection
(finding 5). Full disks are real ones: a small tmpfs under the local store and under sshd.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import logging
import os
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from runyard.app import create_app
from runyard.artifacts import layout, s3
from runyard.artifacts.base import ArtifactStore
from runyard.artifacts.registry import open_store
from runyard.domain import artifact_paths
from runyard.errors import InvalidParameterValue, MlflowError
from runyard.settings import Settings
from tests.artifacts.disks import everything_under, fill, small_disk
from tests.artifacts.services import Sshd, need
from tests.auth.conftest import BACKENDS_AND_AUTH, PASSWORDS, backend_uri, cli, ok

MiB = 1024 * 1024


async def body(size: int, piece: int = 256 * 1024) -> AsyncIterator[bytes]:
    for _ in range(size // piece):
        yield os.urandom(piece)


# --- the path rule: names and paths no backend can hold are refused once, up front ----------


def test_a_name_over_255_bytes_is_refused_naming_it_and_the_limit() -> None:
    assert artifact_paths.clean("1/r/" + "x" * 255) == "1/r/" + "x" * 255
    with pytest.raises(InvalidParameterValue) as refused:
        artifact_paths.clean("1/r/" + "x" * 256)
    assert "'xxxxxxxxxx" in refused.value.message and "is 256 bytes long" in refused.value.message
    assert "at most 255 bytes" in refused.value.message
    with pytest.raises(InvalidParameterValue, match="is 256 bytes long"):
        artifact_paths.clean("1/r/" + "é" * 128)  # bytes of UTF-8, not characters


def test_a_path_over_1024_bytes_is_refused() -> None:
    fits = "/".join(["d" * 254] * 4) + "/abcd"  # 1024 bytes
    assert artifact_paths.clean(fits) == fits
    with pytest.raises(InvalidParameterValue, match="may be at most 1024 bytes"):
        artifact_paths.clean(fits + "e")


@pytest.mark.parametrize("name", ["y" * 255, "é" * 127, "ab"])
def test_a_temporary_name_fits_wherever_its_target_does(name: str) -> None:
    temp = layout.temp_name(name)
    assert len(temp.encode()) <= 255
    assert layout.is_internal(temp) and temp != layout.temp_name(name)


# --- the stores: a full disk is StorageFull (507), a name too long a 400 ---------------------


@dataclass
class OnSmallDisk:
    store: ArtifactStore
    disk: Path  # the store's root, a 2 MiB tmpfs


@pytest.fixture(params=["local", "sftp"])
async def small(
    request: pytest.FixtureRequest, tmp_path: Path, sshd: Sshd | str
) -> AsyncIterator[OnSmallDisk]:
    with ExitStack() as stack:
        if request.param == "local":
            disk = stack.enter_context(small_disk(tmp_path / "artifacts"))
            store = open_store(str(disk))
        else:
            server = need(sshd)
            subdir = uuid.uuid4().hex
            disk = stack.enter_context(small_disk(server.root / subdir))
            store = open_store(
                server.uri(subdir), key_file=server.key_file, known_hosts=server.known_hosts
            )
        try:
            yield OnSmallDisk(store, disk)
        finally:
            await store.aclose()


@pytest.mark.anyio
async def test_a_full_disk_is_storage_full_and_leaves_nothing(small: OnSmallDisk) -> None:
    await small.store.put("1/r/kept.txt", body(256 * 1024))
    before = everything_under(small.disk)
    with pytest.raises(MlflowError) as full:
        await small.store.put("1/r/new/big.bin", body(4 * MiB))
    assert full.value.status == 507 and full.value.error_code == "RESOURCE_EXHAUSTED"
    assert full.value.message.startswith("artifact store is full: No space left on ")
    assert "1/r/new/big.bin" in full.value.message
    assert everything_under(small.disk) == before  # no temp file, no directory made for it
    await small.store.put("1/r/small.txt", body(256 * 1024))  # what fits still goes


@pytest.mark.anyio
async def test_a_full_disk_fails_a_multipart_part(small: OnSmallDisk) -> None:
    upload_id = await small.store.create_multipart("1/r/parts.bin")
    before = everything_under(small.disk)
    with pytest.raises(MlflowError) as full:
        await small.store.put_part("1/r/parts.bin", upload_id, 1, body(4 * MiB))
    assert full.value.status == 507, full.value
    assert everything_under(small.disk) == before


@pytest.mark.anyio
async def test_a_name_the_store_cannot_hold_is_invalid_not_unavailable(small: OnSmallDisk) -> None:
    # Past the path rule's check (stores trust clean paths): the store's own limit.
    with pytest.raises(InvalidParameterValue, match="Invalid artifact path"):
        await small.store.put("1/r/" + "x" * 300, body(256 * 1024))


def _client_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "PutObject")


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("KeyTooLongError", 400, 400),  # AWS, a key over 1024 bytes with the store's prefix
        ("XMinioStorageFull", 507, 507),  # MinIO, a full drive
        ("QuotaExceeded", 403, 507),  # Ceph RGW, a quota used up
        ("SomethingNew", 507, 507),
    ],
)
def test_s3_answers_are_translated(code: str, status: int, expected: int) -> None:
    """moto, the S3 server of these tests, neither limits keys nor fills up: its answers are
    made here."""
    with pytest.raises(MlflowError) as translated, s3._translated("1/r/f.bin"):
        raise _client_error(code, status)
    assert translated.value.status == expected, translated.value


# --- failed uploads release their buffers at once and leave no task --------------------------

PIECE = 256 * 1024
LIMIT = 24 * MiB  # max_artifact_bytes: more than the 8 MiB read-ahead buffer
PROXY = "/api/2.0/mlflow-artifacts/artifacts"


@dataclass
class App:
    settings: Settings
    headers: list[tuple[bytes, bytes]]
    disk: Path  # experiment 2's directory under the destination: a 2 MiB tmpfs


@pytest.fixture(scope="module", params=BACKENDS_AND_AUTH)
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    backend, auth = request.param
    workdir = tmp_path_factory.mktemp(f"uploads-{backend}")
    destination = workdir / "artifacts"
    (destination / "1").mkdir(parents=True)
    (destination / "1" / "blocker").write_text("a file where a run's directory would go")
    headers = [(b"host", b"127.0.0.1")]
    with ExitStack() as stack:
        disk = stack.enter_context(small_disk(destination / "2"))
        uri = stack.enter_context(backend_uri(backend, workdir))
        if auth:
            ok(cli(uri, "users", "create", "admin", "--admin", password=PASSWORDS["admin"]))
            token = base64.b64encode(f"admin:{PASSWORDS['admin']}".encode())
            headers.append((b"authorization", b"Basic " + token))
        settings = Settings(
            backend_store_uri=uri,
            artifacts_destination=str(destination),
            max_artifact_bytes=LIMIT,
            auth=auth,
            metrics=False,
        )
        yield App(settings, headers, disk)


async def _put(
    app: Any, headers: list[tuple[bytes, bytes]], path: str, size: int, hang_up_at: int = -1
) -> int:
    """A chunked PUT of ``size`` bytes straight into the ASGI app, made as it is read;
    ``hang_up_at``: the client is gone after that many bytes."""
    sent = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent == hang_up_at:
            return {"type": "http.disconnect"}
        if sent >= size:
            await asyncio.Event().wait()  # the body is done: nothing more ever comes
        sent += PIECE
        return {"type": "http.request", "body": os.urandom(PIECE), "more_body": sent < size}

    status = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": f"{PROXY}/{path}",
        "raw_path": f"{PROXY}/{path}".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [*headers, (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 5000),
    }
    await app(scope, receive, send)
    return status


@asynccontextmanager
async def running(app: Any) -> AsyncIterator[None]:
    """``app`` started and stopped through the ASGI lifespan protocol, as uvicorn does it."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    lifespan = asyncio.create_task(app(scope, inbox.get, replies.put))
    await inbox.put({"type": "lifespan.startup"})
    assert (await replies.get())["type"] == "lifespan.startup.complete"
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await lifespan


FAILURES = {
    # name: (path, bytes sent, bytes after which the client hangs up, status)
    "over the size limit": ("1/r/over.bin", 2 * LIMIT, -1, 413),
    "client gone mid-body": ("1/r/gone.bin", LIMIT, 16 * MiB, 400),
    "disk full": ("2/r/full.bin", LIMIT - MiB, -1, None),  # its 507: the tests above
    "store error": ("1/blocker/f.bin", LIMIT - MiB, -1, 400),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failed_upload_frees_its_buffer_at_once_and_leaves_no_task(
    app: App, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    path, size, hang_up_at, status = FAILURES[failure]
    asgi = create_app(app.settings)

    async def scenario() -> None:
        async with running(asgi):
            assert await _put(asgi, app.headers, "1/r/warm-up.bin", MiB) == 200
            baseline = asyncio.all_tasks()
            gc.collect()
            gc.disable()  # whatever is freed below is freed by reference counting alone
            tracemalloc.start()
            try:
                start = tracemalloc.get_traced_memory()[0]
                for _ in range(3):
                    answered = await _put(asgi, app.headers, path, size, hang_up_at)
                    assert answered == status or (status is None and answered >= 500)
                for _ in range(3):
                    await asyncio.sleep(0)  # what the loop has been handed to finish
                held = tracemalloc.get_traced_memory()[0] - start
                left = asyncio.all_tasks() - baseline
            finally:
                tracemalloc.stop()
                gc.enable()
            assert held < MiB, f"{held / MiB:.1f} MiB still held after three failed uploads"
            assert not left, left
            gc.collect()
            await asyncio.sleep(0)

    if failure == "disk full":
        filler = fill(app.disk)
        try:
            with caplog.at_level(logging.ERROR, logger="asyncio"):
                asyncio.run(scenario())
        finally:
            filler.unlink()
        assert everything_under(app.disk) == []
    else:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            asyncio.run(scenario())
    assert "Task was destroyed but it is pending" not in caplog.text
