"""An httpx client for the MLflow REST API that asserts MLflow's error shape."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2

from tests.integration.livesrv import REFERENCE

__all__ = ["REFERENCE", "Api", "expected_classification", "expected_status"]


def expected_classification(error_code: str) -> dict[str, str]:
    """The ``sqlstate``/``error_class`` MLflow adds to an ``error_code``, asked of mlflow."""
    exc = MlflowException("x", error_code=getattr(databricks_pb2, error_code))
    body = json.loads(exc.serialize_as_json())
    return {k: body[k] for k in ("sqlstate", "error_class") if k in body}


def expected_status(error_code: str) -> int:
    return MlflowException(
        "x", error_code=getattr(databricks_pb2, error_code)
    ).get_http_status_code()


class Api:
    """A small client for ``/api/2.0/mlflow`` with helpers that assert MLflow's error shape."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = self._client()

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url + "/api/2.0/mlflow", timeout=60)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; ``path`` is relative to /api/2.0/mlflow unless it is a full URL."""
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 500:
            # A server may drop the connection after an internal error; start afresh so that
            # one failing request cannot break the requests of later, unrelated tests.
            self.http.close()
            self.http = self._client()
        return response

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.request("POST", path, json=body)

    def get(self, path: str, params: Any = None) -> httpx.Response:
        return self.request("GET", path, params=params)

    def ok(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert isinstance(body, dict)
        return body

    def error(
        self,
        response: httpx.Response,
        error_code: str,
        message: str | None = None,
        *,
        prefix: str | None = None,
        status: int | None = None,
    ) -> dict[str, Any]:
        """Assert an MLflow error answer: status (MLflow's for the code unless given), JSON
        body, code, classification, message."""
        assert response.status_code == (status or expected_status(error_code)), response.text
        assert response.headers["content-type"].startswith("application/json"), response.text
        body = response.json()
        assert body["error_code"] == error_code, body
        for key, value in expected_classification(error_code).items():
            assert body.get(key) == value, body
        if message is not None:
            assert body["message"] == message
        if prefix is not None:
            assert body["message"].startswith(prefix), body["message"]
        return body

    # --- fixtures-in-a-call ----------------------------------------------------------------

    def experiment(self, prefix: str = "api") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        return str(self.ok(self.post("/experiments/create", {"name": name}))["experiment_id"])

    def run(self, experiment_id: str | None = None) -> str:
        exp = experiment_id or self.experiment()
        body = self.ok(self.post("/runs/create", {"experiment_id": exp, "start_time": 1}))
        return str(body["run"]["info"]["run_id"])

    def get_run(self, run_id: str) -> dict[str, Any]:
        return self.ok(self.get("/runs/get", {"run_id": run_id}))["run"]  # type: ignore[no-any-return]

    def run_data(self, run_id: str) -> dict[str, dict[str, str]]:
        """params/tags/metrics of a run as plain key -> value dicts."""
        data = self.get_run(run_id).get("data", {})
        return {
            kind: {e["key"]: e["value"] for e in data.get(kind, [])}
            for kind in ("params", "tags", "metrics")
        }

    def history(self, run_id: str, key: str) -> list[dict[str, Any]]:
        body = self.ok(self.get("/metrics/get-history", {"run_id": run_id, "metric_key": key}))
        return body.get("metrics", [])  # type: ignore[no-any-return]

    def close(self) -> None:
        self.http.close()
