"""Shared fixtures: real PostgreSQL databases and live ``runyard server`` subprocesses."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import ServerProcess

PG_ADMIN_URL = os.environ.get("RUNYARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_SERVICES = os.environ.get("RUNYARD_REQUIRE_SERVICES", "") not in ("", "0")


def pg_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def skip_or_fail(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (RUNYARD_REQUIRE_SERVICES is set)")
    pytest.skip(reason)


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(
        PG_ADMIN_URL.replace("postgresql://", "postgresql://", 1), autocommit=True
    ) as conn:
        conn.execute(sql)


@pytest.fixture
def make_pg_db() -> Iterator[Callable[[], str]]:
    """Create fresh PostgreSQL databases on demand; all are dropped afterwards."""
    if not pg_available():
        skip_or_fail("PostgreSQL is not reachable on 127.0.0.1:5432")
    created: list[str] = []

    def make() -> str:
        name = f"runyard_test_{uuid.uuid4().hex[:12]}"
        _pg_admin(f'CREATE DATABASE "{name}"')
        created.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    yield make
    for name in created:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def db_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runyard.db'}"
    make: Callable[[], str] = request.getfixturevalue("make_pg_db")
    return make()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(backend_uri: str, *extra: str) -> ServerProcess:
        server = ServerProcess(backend_uri, tmp_path, *extra)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
