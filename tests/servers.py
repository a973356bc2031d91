"""Real services for tests: PostgreSQL databases and live server subprocesses.

One home for the pieces conftest files and test modules share, so each is written once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

PG_ADMIN_URL = os.environ.get("RUNYARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_SERVICES = os.environ.get("RUNYARD_REQUIRE_SERVICES", "") not in ("", "0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def skip_or_fail(reason: str) -> None:
    """Skip on a laptop without the service; fail in CI, where it must be there."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (RUNYARD_REQUIRE_SERVICES is set)")
    pytest.skip(reason)


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


@contextmanager
def pg_database(prefix: str = "runyard_test") -> Iterator[str]:
    """A fresh PostgreSQL database for as long as the block runs."""
    if not pg_available():
        skip_or_fail("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class ServerProcess:
    """A tracking server subprocess on a free loopback port, healthy once ``/health`` says OK."""

    def __init__(
        self,
        command: Callable[[int], list[str]],
        workdir: Path,
        *,
        env: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"server-{self.port}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                command(self.port), cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        self._wait(timeout)

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).text == "OK":
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not become healthy:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def runyard_server(
    backend_uri: str, workdir: Path, *extra: str, env: dict[str, str] | None = None
) -> ServerProcess:
    def command(port: int) -> list[str]:
        return [
            sys.executable, "-m", "runyard", "server", "--backend-store-uri", backend_uri,
            "--artifacts-destination", str(workdir / "artifacts"),
            "--host", "127.0.0.1", "--port", str(port), *extra,
        ]  # fmt: skip

    return ServerProcess(command, workdir, env=None if env is None else {**os.environ, **env})


def mlflow_server(backend_uri: str, workdir: Path) -> ServerProcess:
    """`mlflow server` of the pinned release, with its GenAI job runner off."""
    if backend_uri.startswith("postgresql://"):  # SQLAlchemy's default driver would be psycopg2
        backend_uri = "postgresql+psycopg://" + backend_uri.removeprefix("postgresql://")

    def command(port: int) -> list[str]:
        return [
            sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri,
            "--artifacts-destination", str(workdir / "mlartifacts"),
            "-h", "127.0.0.1", "-p", str(port), "--workers", "1",
        ]  # fmt: skip

    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    return ServerProcess(command, workdir, env=env, timeout=90)


def server_once(db: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`runyard server` on the SQLite file ``db``, for a start that is expected to fail."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "runyard",
            "server",
            "--backend-store-uri",
            f"sqlite:///{db}",
            "--port",
            str(free_port()),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )
