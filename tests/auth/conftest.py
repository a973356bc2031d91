"""Databases with users in them, and live ``runyard server --auth`` processes.

Users are made with the real CLI (in-process) against the server's own database, so the tests
go through the same code an operator uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from runyard.cli import main
from tests.servers import ServerProcess, pg_database, runyard_server

PASSWORDS = {
    "admin": "admin-secret-1",
    "alice": "alice-secret-1",  # creates experiment A: MANAGE on it
    "bob": "bob-secret-1",  # READ on A
    "carol": "carol-secret-1",  # no grant anywhere
}


def cli(uri: str, *args: str, password: str | None = None) -> Result:
    """``runyard ARGS --backend-store-uri URI``; a password goes in through stdin."""
    extra = ["--password-file", "-"] if password is not None else []
    result = CliRunner().invoke(
        main, [*args, *extra, "--backend-store-uri", uri], input=password, catch_exceptions=False
    )
    return result


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


@contextmanager
def backend_uri(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'runyard.db'}"
        return
    with pg_database("runyard_auth") as url:
        yield url


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
# (backend, auth on?): for what must hold on both databases, with auth on and off
BACKENDS_AND_AUTH = [
    pytest.param(
        (backend, auth),
        id=f"{backend}-auth-{'on' if auth else 'off'}",
        marks=[pytest.mark.postgres] if backend == "postgres" else [],
    )
    for backend in ("sqlite", "postgres")
    for auth in (False, True)
]


@pytest.fixture(params=BACKENDS)
def db_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty metadata database of each backend."""
    with backend_uri(request.param, tmp_path) as uri:
        yield uri


@dataclass
class AuthServer:
    """A live server with auth on, its database and ready-made credentials."""

    server: ServerProcess
    uri: str
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, user: str | None = None, *, token: str | None = None) -> httpx.Client:
        """An HTTP client as ``user`` (Basic), with a bearer ``token``, or anonymous."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        auth = (user, PASSWORDS[user]) if user else None
        return httpx.Client(base_url=self.url, auth=auth, headers=headers, timeout=60)


@contextmanager
def auth_server(
    backend: str, workdir: Path, default_permission: str = "NO_PERMISSIONS"
) -> Iterator[AuthServer]:
    with backend_uri(backend, workdir) as uri:
        for name, password in PASSWORDS.items():
            flags = ["--admin"] if name == "admin" else []
            ok(cli(uri, "users", "create", name, *flags, password=password))
        env = {"RUNYARD_AUTH_DEFAULT_PERMISSION": default_permission}
        server = runyard_server(uri, workdir, "--auth", env=env)
        try:
            yield AuthServer(server, uri)
        finally:
            server.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def srv(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AuthServer]:
    """One auth server per test module and backend; the default permission is NO_PERMISSIONS."""
    with auth_server(request.param, tmp_path_factory.mktemp(f"auth-{request.param}")) as s:
        yield s
