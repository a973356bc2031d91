"""Concurrent writers on SQLite with several worker processes never see "database is locked"."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.servers import ServerProcess

pytestmark = pytest.mark.integration


def _post(client: httpx.Client, path: str, body: dict[str, object]) -> dict[str, object]:
    resp = client.post(f"/api/2.0/mlflow/{path}", json=body)
    assert resp.status_code == 200, resp.text
    data: dict[str, object] = resp.json()
    return data


def test_sixteen_writers_two_workers_sqlite(
    tmp_path: Path, start_server: Callable[..., ServerProcess]
) -> None:
    server = start_server(f"sqlite:///{tmp_path / 'c.db'}", "--workers", "2")
    with httpx.Client(base_url=server.url, timeout=60) as client:
        eid = _post(client, "experiments/create", {"name": "concurrency"})["experiment_id"]

    def writer(n: int) -> str:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            run = _post(c, "runs/create", {"experiment_id": eid, "run_name": f"w{n}"})
            rid = run["run"]["info"]["run_id"]  # type: ignore[index]
            for batch in range(10):
                metrics = [
                    {"key": "m", "value": float(i), "timestamp": i, "step": batch * 100 + i}
                    for i in range(100)
                ]
                _post(c, "runs/log-batch", {"run_id": rid, "metrics": metrics})
                _post(c, "runs/set-tag", {"run_id": rid, "key": "batch", "value": str(batch)})
            _post(c, "runs/log-parameter", {"run_id": rid, "key": "n", "value": str(n)})
            _post(c, "runs/update", {"run_id": rid, "status": "FINISHED", "end_time": 1})
            return str(rid)

    with ThreadPoolExecutor(16) as pool:
        run_ids = list(pool.map(writer, range(16)))

    with httpx.Client(base_url=server.url, timeout=60) as client:
        for rid in run_ids:
            hist = client.get(
                "/api/2.0/mlflow/metrics/get-history", params={"run_id": rid, "metric_key": "m"}
            ).json()
            assert len(hist["metrics"]) == 1000
            run = client.get("/api/2.0/mlflow/runs/get", params={"run_id": rid}).json()["run"]
            assert run["info"]["status"] == "FINISHED"
            assert {"key": "batch", "value": "9"} in run["data"]["tags"]
            assert run["data"]["metrics"] == [
                {"key": "m", "value": 99.0, "timestamp": 99, "step": 999}
            ]
