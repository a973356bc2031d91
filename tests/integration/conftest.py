"""One live tracking server per test module and backend, with the official client pointed at it.

Set ``RUNYARD_TEST_REFERENCE=mlflow`` to run the same tests against MLflow's own ``mlflow server``
instead of runyard: a failure there means the test, not the server, is wrong.
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
import mlflow
import pytest

PG_ADMIN_URL = os.environ.get("RUNYARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_SERVICES = os.environ.get("RUNYARD_REQUIRE_SERVICES", "") not in ("", "0")
REFERENCE = os.environ.get("RUNYARD_TEST_REFERENCE", "") == "mlflow"

# The client retries 5xx answers with exponential backoff (seven times by default), which would
# turn one server bug into minutes of waiting; tests want the first answer.
CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
}


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


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One server per test module and backend, with the client's environment set for it."""
    saved = {k: os.environ.get(k) for k in CLIENT_ENV}
    os.environ.update(CLIENT_ENV)
    try:
        with live_server(request.param, tmp_path_factory.mktemp(f"srv-{request.param}")) as srv:
            yield srv
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(autouse=True)
def tracking_uri(server: LiveServer) -> Iterator[str]:
    """Point the fluent API and ``MlflowClient()`` at the module's server for one test.

    Afterwards no run is left active, the active experiment is forgotten and the previous
    tracking URI is restored, so state never leaks between tests or modules.
    """
    previous_uri = os.environ.get("MLFLOW_TRACKING_URI")
    previous_experiment = os.environ.get("MLFLOW_EXPERIMENT_ID")
    mlflow.set_tracking_uri(server.url)
    try:
        yield server.url
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        if previous_experiment is None:
            os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
        else:
            os.environ["MLFLOW_EXPERIMENT_ID"] = previous_experiment
        # The fluent API also caches the experiment chosen by set_experiment().
        if hasattr(mlflow.tracking.fluent, "_active_experiment_id"):
            mlflow.tracking.fluent._active_experiment_id = None
        mlflow.set_tracking_uri(previous_uri)  # type: ignore[arg-type]


@pytest.fixture
def client(tracking_uri: str) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri)


@pytest.fixture
def unique() -> str:
    """A fresh suffix for experiment and run names, so tests never see each other's data."""
    return uuid.uuid4().hex[:10]
