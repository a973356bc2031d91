"""Live tracking servers for the tests that talk to one over HTTP (integration and api).

Set ``RUNYARD_TEST_REFERENCE=mlflow`` to start MLflow's own ``mlflow server`` instead of runyard:
a test that fails against the reference is wrong, not the server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.servers import ServerProcess, mlflow_server, pg_database, runyard_server

REFERENCE = os.environ.get("RUNYARD_TEST_REFERENCE", "") == "mlflow"


def _start(backend_uri: str, workdir: Path) -> ServerProcess:
    if REFERENCE:
        return mlflow_server(backend_uri, workdir)
    return runyard_server(backend_uri, workdir)


@contextmanager
def live_server(backend: str, workdir: Path) -> Iterator[ServerProcess]:
    """Start a server on an empty database of ``backend`` ("sqlite" or "postgres")."""
    if backend == "sqlite":
        server = _start(f"sqlite:///{workdir / 'runyard.db'}", workdir)
        try:
            yield server
        finally:
            server.stop()
        return
    with pg_database("runyard_it") as url:
        server = _start(url, workdir)
        try:
            yield server
        finally:
            server.stop()
