"""Shared fixtures: real PostgreSQL databases and live ``runyard server`` subprocesses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.artifacts.services import MotoS3, Sshd
from tests.servers import ServerProcess, pg_database, runyard_server


@pytest.fixture
def make_pg_db() -> Iterator[Callable[[], str]]:
    """Create fresh PostgreSQL databases on demand; all are dropped afterwards."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(pg_database())


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start ``runyard server`` subprocesses on a backend URI; all are stopped afterwards."""
    started: list[ServerProcess] = []

    def start(backend_uri: str, *extra: str) -> ServerProcess:
        server = runyard_server(backend_uri, tmp_path, *extra)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


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
