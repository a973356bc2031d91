"""Raw-HTTP access to one live tracking server per test module and backend.

``RUNYARD_TEST_REFERENCE=mlflow`` runs these tests against MLflow's own server instead.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# Give the assertion helpers in httpapi pytest's detailed failure messages.
pytest.register_assert_rewrite("tests.api.httpapi")

from tests.api.httpapi import Api  # noqa: E402
from tests.integration.livesrv import live_server  # noqa: E402


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    workdir = tmp_path_factory.mktemp(f"api-{request.param}")
    with live_server(request.param, workdir) as server:
        client = Api(server.url)
        try:
            yield client
        finally:
            client.close()


@pytest.fixture
def run_id(api: Api) -> str:
    """A fresh active run in a fresh experiment."""
    return api.run()
