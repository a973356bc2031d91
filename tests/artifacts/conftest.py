"""Every artifact backend behind one fixture, each against a real server on 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runyard.artifacts.base import ArtifactStore
from runyard.artifacts.registry import open_store
from tests.artifacts.services import MotoS3, Sshd, need

BACKENDS = ["local", "sftp", "s3"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Backend:
    """A store under test plus what a test may need to look behind it."""

    name: str
    store: ArtifactStore
    disk: Path | None  # where its files land on this machine (local and SFTP), for inspection
    sshd: Sshd | None = None


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
        sshd = need(sshd)
        subdir = uuid.uuid4().hex
        store = open_store(sshd.uri(subdir), key_file=sshd.key_file, known_hosts=sshd.known_hosts)
        result = Backend(name, store, sshd.root / subdir, sshd)
    else:
        s3_server = need(s3_server)
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
