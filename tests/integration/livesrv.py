"""Live tracking servers for the tests that talk to one over HTTP (integration and api).

Set ``RUNYARD_TEST_REFERENCE=mlflow`` to start MLflow's own ``mlflow server`` instead of runyard:
a test that fails against the reference is wrong, not the server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

PG_ADMIN_URL = os.environ.get("RUNYARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_SERVICES = os.environ.get("RUNYARD_REQUIRE_SERVICES", "") not in ("", "0")
REFERENCE = os.environ.get("RUNYARD_TEST_REFERENCE", "") == "mlflow"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


@contextmanager
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for as long as the block runs (module scope friendly)."""
    if not _pg_available():
        reason = "PostgreSQL is not reachable on 127.0.0.1:5432"
        if REQUIRE_SERVICES:
            pytest.fail(f"{reason} (RUNYARD_REQUIRE_SERVICES is set)")
        pytest.skip(reason)
    name = f"runyard_it_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class LiveServer:
    """A ``runyard server`` (or, in reference mode, ``mlflow server``) subprocess."""

    def __init__(self, backend_uri: str, workdir: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"server-{self.port}.log"
        env = dict(os.environ)
        if REFERENCE:
            if backend_uri.startswith("postgresql://"):
                backend_uri = "postgresql+psycopg://" + backend_uri.removeprefix("postgresql://")
            env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
            cmd = [sys.executable, "-m", "mlflow", "server", "--workers", "1"]
        else:
            cmd = [sys.executable, "-m", "runyard", "server"]
        cmd += ["--backend-store-uri", backend_uri, "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        self._wait_healthy(timeout=90 if REFERENCE else 30)

    def _wait_healthy(self, timeout: float) -> None:
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


@contextmanager
def live_server(backend: str, workdir: Path) -> Iterator[LiveServer]:
    """Start a server on an empty database of ``backend`` ("sqlite" or "postgres")."""
    if backend == "sqlite":
        server = LiveServer(f"sqlite:///{workdir / 'runyard.db'}", workdir)
        try:
            yield server
        finally:
            server.stop()
        return
    with pg_database() as url:
        server = LiveServer(url, workdir)
        try:
            yield server
        finally:
            server.stop()
