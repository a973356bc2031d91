"""Shared fixtures: real PostgreSQL databases and live ``runyard server`` subprocesses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

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
