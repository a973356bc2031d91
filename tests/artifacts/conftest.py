"""Every artifact backend behind one fixture, each against a real server on 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runyard.artifacts.base import ArtifactStore
from runyard.artifacts.registry import open_store
from tests.artifacts.services import MotoS3, Sshd
from tests.servers import skip_or_fail

BACKENDS = ["local", "sftp", "s3"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd | str]:
    """The session's sshd, or why there is none (tests that need it skip or fail then)."""
    missing = Sshd.missing()
    if missing:
        yield missing
        return
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3 | str]:
    missing = MotoS3.missing()
    if missing:
        yield missing
        return
    server = MotoS3(tmp_path_factory.mktemp("s3"))
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Backend:
    """A store under test plus what a test may need to look behind it."""

    name: str
    store: ArtifactStore
    disk: Path | None  # where its files land on this machine (local and SFTP), for inspection
    sshd: Sshd | None = None


def _need(server: Sshd | MotoS3 | str) -> None:
    if isinstance(server, str):
        skip_or_fail(server)


@pytest.fixture(params=BACKENDS)
async def backend(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sshd: Sshd | str,
    s3_server: MotoS3 | str,
) -> AsyncIterator[Backend]:
    name = request.param
    if name == "local":
        result = Backend(name, open_store(str(tmp_path / "artifacts")), tmp_path / "artifacts")
    elif name == "sftp":
        _need(sshd)
        assert isinstance(sshd, Sshd)
        subdir = uuid.uuid4().hex
        store = open_store(sshd.uri(subdir), key_file=sshd.key_file, known_hosts=sshd.known_hosts)
        result = Backend(name, store, sshd.root / subdir, sshd)
    else:
        _need(s3_server)
        assert isinstance(s3_server, MotoS3)
        prefix = f"t-{uuid.uuid4().hex}"
        store = open_store(f"s3://{MotoS3.BUCKET}/{prefix}", **s3_server.options())
        result = Backend(name, store, None)
    try:
        yield result
    finally:
        await result.store.aclose()


@pytest.fixture
def store(backend: Backend) -> ArtifactStore:
    return backend.store
