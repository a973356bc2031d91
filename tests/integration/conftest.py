"""One live tracking server per test module and backend, with the official client pointed at it.

Set ``RUNYARD_TEST_REFERENCE=mlflow`` to run the same tests against MLflow's own ``mlflow server``
instead of runyard: a failure there means the test, not the server, is wrong.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import mlflow
import pytest

from tests.integration.livesrv import client_environment, live_server
from tests.servers import ServerProcess


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One server per test module and backend, with the client's environment set for it."""
    with (
        client_environment(),
        live_server(request.param, tmp_path_factory.mktemp(f"srv-{request.param}")) as srv,
    ):
        yield srv


@pytest.fixture(autouse=True)
def tracking_uri(server: ServerProcess) -> Iterator[str]:
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
