"""Bounded input (issue 9, findings 2 and 3): requests too deep or too large are answered 400
INVALID_PARAMETER_VALUE at once, with a message that says what to change, before any SQL runs
— never a 500 from the decoder, nor a 503 after a minute of database work.

Each test runs on SQLite and PostgreSQL, with auth off and on (as a user without admin rights,
so the permission checks run as well).
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.auth.conftest import BACKENDS_AND_AUTH, PASSWORDS, auth_server, backend_uri
from tests.integration.livesrv import environment
from tests.servers import ServerProcess, runyard_server

pytestmark = pytest.mark.integration

INVALID = "INVALID_PARAMETER_VALUE"
QUICK_S = 5.0  # a refused request answers in well under this, however large
T = "/2.0/mlflow"
USER = "bob"  # not an administrator: his permission checks query the database


class limits:  # noqa: N801 - the documented values (docs/operations.md, "Input limits")
    MAX_JSON_DEPTH = 64
    MAX_SEARCH_TEXT_LENGTH = 100_000
    MAX_ORDER_BY_CLAUSES = 20
    MAX_DATASET_FILTERS = 100
    MAX_FILTER_LIST_ITEMS = 1000
    MAX_SEARCH_EXPERIMENT_IDS = 10_000


def test_the_server_enforces_the_documented_limits():
    from runyard.domain import validation

    for name, value in vars(limits).items():
        if name.startswith("MAX_"):
            assert getattr(validation, name) == value, name


@dataclass
class Server:
    url: str
    auth: tuple[str, str] | None

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=self.auth, timeout=120)


@pytest.fixture(
    scope="module",
    params=BACKENDS_AND_AUTH,
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    backend, auth = request.param
    workdir = tmp_path_factory.mktemp(f"bounds-{backend}-{auth}")
    if auth:
        with auth_server(backend, workdir, default_permission="EDIT") as srv:
            yield Server(srv.url, (USER, PASSWORDS[USER]))
        return
    with backend_uri(backend, workdir) as uri:
        process: ServerProcess = runyard_server(uri, workdir)
        try:
            yield Server(process.url, None)
        finally:
            process.stop()


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def experiment_id(http: httpx.Client) -> str:
    response = http.post(f"/api{T}/experiments/create", json={"name": f"b-{uuid.uuid4().hex}"})
    assert response.status_code == 200, response.text
    return str(response.json()["experiment_id"])


@pytest.fixture(scope="module")
def run_id(http: httpx.Client, experiment_id: str) -> str:
    response = http.post(f"/api{T}/runs/create", json={"experiment_id": experiment_id})
    assert response.status_code == 200, response.text
    return str(response.json()["run"]["info"]["run_id"])


def refused(response: httpx.Response, *words: str) -> str:
    """Assert MLflow's 400 INVALID_PARAMETER_VALUE; return its message."""
    assert response.status_code == 400, response.text[:2000]
    body = response.json()
    assert body["error_code"] == INVALID, body
    for word in words:
        assert word in body["message"], body["message"][:2000]
    return str(body["message"])


def timed(send: object) -> httpx.Response:
    started = time.monotonic()
    response = send()  # type: ignore[operator]
    elapsed = time.monotonic() - started
    assert elapsed < QUICK_S, f"answered after {elapsed:.1f} s: {response.status_code}"
    return response


# --- finding 2: deep JSON -----------------------------------------------------------------------

DEEP = 1000  # the probe's bodies were ~970 levels deep; MLflow's own are 5 at most


def _deep_list(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _deep_object(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


JSON_ROUTES = [
    "experiments/create",
    "experiments/search",
    "runs/create",
    "runs/search",
    "runs/log-batch",
    "runs/log-metric",
    "logged-models/search",
]


@pytest.mark.parametrize("route", JSON_ROUTES)
@pytest.mark.parametrize("mount", ["/api", "/ajax-api"])
@pytest.mark.parametrize("make", [_deep_list, _deep_object], ids=["arrays", "objects"])
def test_deep_json_is_a_400_on_every_json_route(http, route, mount, make):
    for depth in (DEEP, limits.MAX_JSON_DEPTH + 1):
        response = http.post(
            f"{mount}{T}/{route}", content=make(depth), headers={"Content-Type": "application/json"}
        )
        refused(response, f"more than {limits.MAX_JSON_DEPTH} levels deep")


def test_deep_json_inside_a_double_encoded_body_is_a_400(http):
    inner = _deep_object(DEEP).decode()
    body = httpx.Request("POST", "/", json=inner).content  # a JSON string holding JSON
    response = http.post(
        f"/api{T}/runs/search", content=body, headers={"Content-Type": "application/json"}
    )
    refused(response, "levels deep")


def test_a_body_at_the_depth_limit_is_decoded(http, experiment_id):
    # An object holding lists nested to one level below the limit: decoded as usual.
    padding: object = 1
    for _ in range(limits.MAX_JSON_DEPTH - 2):
        padding = [padding]
    body = {"experiment_id": experiment_id, "unknown_field": padding}
    response = http.post(f"/api{T}/runs/create", json=body)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("route", ["runs/search", "experiments/search"])
def test_a_deeply_nested_page_token_is_a_400(http, experiment_id, route):
    token = base64.b64encode(b"[" * 100_000).decode()
    body = {"experiment_ids": [experiment_id], "page_token": token, "max_results": 10}
    refused(http.post(f"/api{T}/{route}", json=body), "page token")


def test_a_deeply_nested_logged_model_page_token_is_a_400(http, experiment_id):
    token = base64.b64encode(b"[" * 100_000).decode()
    body = {"experiment_ids": [experiment_id], "page_token": token}
    refused(http.post(f"/api{T}/logged-models/search", json=body), "page token")


# --- finding 3: requests too large for one statement -------------------------------------------


def test_2000_order_by_entries_on_logged_models_search(http, experiment_id):
    order_by = [{"field_name": f"metrics.m{i}", "ascending": True} for i in range(2000)]
    body = {"experiment_ids": [experiment_id], "order_by": order_by}
    response = timed(lambda: http.post(f"/api{T}/logged-models/search", json=body))
    refused(response, "2000 order_by entries", f"at most {limits.MAX_ORDER_BY_CLAUSES}")


def test_20000_datasets_on_logged_models_search(http, experiment_id):
    datasets = [{"dataset_name": f"d{i}", "dataset_digest": f"x{i}"} for i in range(20_000)]
    body = {
        "experiment_ids": [experiment_id],
        "filter": "metrics.acc > 0.5",
        "datasets": datasets,
    }
    response = timed(lambda: http.post(f"/api{T}/logged-models/search", json=body))
    refused(response, "20000 datasets", f"at most {limits.MAX_DATASET_FILTERS}")


@pytest.mark.parametrize("route", ["runs/search", "experiments/search"])
def test_2000_order_by_clauses_on_runs_and_experiments_search(http, experiment_id, route):
    order_by = [f"metrics.m{i} DESC" for i in range(2000)]
    if route == "experiments/search":
        order_by = ["name ASC"] * 2000
    body = {"experiment_ids": [experiment_id], "order_by": order_by, "max_results": 10}
    response = timed(lambda: http.post(f"/api{T}/{route}", json=body))
    refused(response, "2000 order_by entries")


def test_a_huge_in_list_is_refused_before_any_sql(http, experiment_id):
    # (short values: MLflow's own parser refuses a filter of more than 10,000 tokens)
    ids = ",".join(f"'r{i}'" for i in range(3000))
    body = {"experiment_ids": [experiment_id], "filter": f"attributes.run_id IN ({ids})"}
    response = timed(lambda: http.post(f"/api{T}/runs/search", json=body))
    refused(response, "3000 values in one IN list", f"at most {limits.MAX_FILTER_LIST_ITEMS}")


@pytest.mark.parametrize("route", ["runs/search", "experiments/search", "logged-models/search"])
def test_a_1mb_filter_is_refused_without_echoing_it(http, experiment_id, route):
    text = "name = '" + "x" * 1_000_000 + "'"
    if route == "runs/search":
        text = "params.p = '" + "x" * 1_000_000 + "'"
    body = {"experiment_ids": [experiment_id], "filter": text, "max_results": 10}
    response = timed(lambda: http.post(f"/api{T}/{route}", json=body))
    refused(response, f"at most {limits.MAX_SEARCH_TEXT_LENGTH}")
    assert len(response.content) < 10_000  # the answer does not carry the megabyte back


def test_a_1mb_order_by_clause_is_refused(http, experiment_id):
    body = {"experiment_ids": [experiment_id], "order_by": ["metrics." + "x" * 1_000_000]}
    response = timed(lambda: http.post(f"/api{T}/runs/search", json=body))
    refused(response, "order_by clause", f"at most {limits.MAX_SEARCH_TEXT_LENGTH}")


@pytest.mark.parametrize("route", ["runs/search", "logged-models/search"])
def test_too_many_experiment_ids(http, route):
    ids = [str(i) for i in range(1, 2 * limits.MAX_SEARCH_EXPERIMENT_IDS)]
    body = {"experiment_ids": ids}
    response = timed(lambda: http.post(f"/api{T}/{route}", json=body))
    refused(response, "experiment_ids", f"at most {limits.MAX_SEARCH_EXPERIMENT_IDS}")


def test_requests_at_every_limit_are_served(http, experiment_id):
    """What the limits allow still works: the bounds refuse only what no client sends."""
    order_by = [{"field_name": f"metrics.m{i}"} for i in range(limits.MAX_ORDER_BY_CLAUSES)]
    datasets = [{"dataset_name": f"d{i}"} for i in range(limits.MAX_DATASET_FILTERS)]
    body = {"experiment_ids": [experiment_id], "order_by": order_by, "datasets": datasets}
    response = timed(lambda: http.post(f"/api{T}/logged-models/search", json=body))
    assert response.status_code == 200, response.text

    ids = ",".join(f"'{uuid.uuid4().hex}'" for _ in range(limits.MAX_FILTER_LIST_ITEMS))
    body = {
        "experiment_ids": [experiment_id] * limits.MAX_SEARCH_EXPERIMENT_IDS,
        "filter": f"attributes.run_id IN ({ids})",
        "order_by": [f"metrics.m{i}" for i in range(limits.MAX_ORDER_BY_CLAUSES)],
    }
    response = timed(lambda: http.post(f"/api{T}/runs/search", json=body))
    assert response.status_code == 200, response.text

    body = {"experiment_ids": [experiment_id], "max_results": 100_000}
    response = http.post(f"/api{T}/logged-models/search", json=body)
    assert response.status_code == 200, response.text  # served in pages of at most 50,000


def test_the_official_client_at_the_limits(server, experiment_id, run_id, tmp_path: Path):
    from mlflow import MlflowClient

    env = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_ENABLE_ASYNC_LOGGING": "false"}
    if server.auth is not None:
        env |= {"MLFLOW_TRACKING_USERNAME": server.auth[0]}
        env |= {"MLFLOW_TRACKING_PASSWORD": server.auth[1]}
    with environment(env):
        client = MlflowClient(tracking_uri=server.url)
        runs = client.search_runs(
            [experiment_id],
            filter_string=f"attributes.run_id IN ('{run_id}')",
            order_by=[f"metrics.m{i} DESC" for i in range(limits.MAX_ORDER_BY_CLAUSES)],
        )
        assert [r.info.run_id for r in runs] == [run_id]
        models = client.search_logged_models(
            [experiment_id],
            datasets=[{"dataset_name": f"d{i}"} for i in range(limits.MAX_DATASET_FILTERS)],
            order_by=[{"field_name": "creation_time"}],
            max_results=100_000,
        )
        assert list(models) == []
