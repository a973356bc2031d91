"""Live tracking servers for the tests that talk to one over HTTP (integration and api).

Set ``RUNYARD_TEST_REFERENCE=mlflow`` to start MLflow's own ``mlflow server`` instead of runyard:
a test that fails against the reference is wrong, not the server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from tests.servers import ServerProcess, mlflow_server, pg_database, runyard_server

REFERENCE = os.environ.get("RUNYARD_TEST_REFERENCE", "") == "mlflow"

# The client retries 5xx answers with exponential backoff (seven times by default), which would
# turn one server bug into minutes of waiting; tests want the first answer.
CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
}


def client_environment() -> AbstractContextManager[None]:
    """The official client's environment for talking to a test server, restored afterwards."""
    return environment(CLIENT_ENV)


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` set, as it was afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _start(
    backend_uri: str, workdir: Path, extra: tuple[str, ...], env: dict[str, str] | None
) -> ServerProcess:
    if REFERENCE:
        return mlflow_server(backend_uri, workdir)
    return runyard_server(backend_uri, workdir, *extra, env=env)


@contextmanager
def live_server(
    backend: str, workdir: Path, *extra: str, env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """Start a server on an empty database of ``backend`` ("sqlite" or "postgres"); ``extra``
    arguments and ``env`` go to runyard (not to the reference server)."""
    if backend == "sqlite":
        server = _start(f"sqlite:///{workdir / 'runyard.db'}", workdir, extra, env)
        try:
            yield server
        finally:
            server.stop()
        return
    with pg_database("runyard_it") as url:
        server = _start(url, workdir, extra, env)
        try:
            yield server
        finally:
            server.stop()
