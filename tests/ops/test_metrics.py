"""``/metrics``: Prometheus text, counted by route template, summed over the workers of a pool."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import ServerProcess, runyard_server

GET_EXPERIMENT = "/api/2.0/mlflow/experiments/get"


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    response = httpx.get(url + "/metrics", timeout=10)  # a new connection: any worker answers
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def pids_that_served(log: Path, path: str) -> set[int]:
    pids = set()
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record["logger"] == "runyard.access" and record.get("path") == path:
                pids.add(record["pid"])
    return pids


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("metrics")
    srv = runyard_server(
        f"sqlite:///{workdir / 'runyard.db'}", workdir, "--workers", "2", "--log-format", "json"
    )
    try:
        yield srv
    finally:
        srv.stop()


def test_counts_add_up_over_two_workers(pool: ServerProcess) -> None:
    def one(_: int) -> int:
        url = f"{pool.url}{GET_EXPERIMENT}?experiment_id=0"
        return httpx.get(url, timeout=10).status_code  # new connection each time

    sent = 0
    with ThreadPoolExecutor(8) as threads:
        # Until both workers have answered some (the kernel decides who accepts).
        while sent < 400 and (sent < 40 or len(pids_that_served(pool.log, GET_EXPERIMENT)) < 2):
            assert set(threads.map(one, range(40))) == {200}
            sent += 40
    assert len(pids_that_served(pool.log, GET_EXPERIMENT)) == 2
    for _ in range(4):  # whichever worker answers the scrape, it counts both workers' requests
        samples = scrape(pool.url)
        labels = {"method": "GET", "route": GET_EXPERIMENT}
        total = sample(samples, "runyard_http_requests_total", **labels, status="200")
        assert total == sent
        count = sample(samples, "runyard_http_request_duration_seconds_count", **labels)
        assert count == sent


def test_errors_are_counted_by_status_under_a_bounded_route(pool: ServerProcess) -> None:
    for n in range(3):
        httpx.get(f"{pool.url}/api/2.0/mlflow/no-such-thing/{n}", timeout=10)
    bad = httpx.get(f"{pool.url}{GET_EXPERIMENT}?experiment_id=12345", timeout=10)
    assert bad.status_code == 404
    samples = scrape(pool.url)
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert sample(samples, "runyard_http_requests_total", **unmatched) == 3
    missing = {"method": "GET", "route": GET_EXPERIMENT, "status": "404"}
    assert sample(samples, "runyard_http_requests_total", **missing) == 1
    assert not any("no-such-thing" in str(key) for key in samples)


def test_in_flight_and_pool_gauges_move_under_load(pool: ServerProcess) -> None:
    started = threading.Event()

    def slow_body() -> Iterator[bytes]:
        for _ in range(15):
            yield b"x" * 1024
            started.set()
            time.sleep(0.1)

    result: list[int] = []
    upload = threading.Thread(
        target=lambda: result.append(
            httpx.put(
                f"{pool.url}/api/2.0/mlflow-artifacts/artifacts/load/slow.bin",
                content=slow_body(),
                timeout=30,
            ).status_code
        )
    )
    upload.start()
    assert started.wait(10)
    time.sleep(0.3)
    during = scrape(pool.url)
    upload.join(30)
    assert result == [200]
    after = scrape(pool.url)
    assert sample(during, "runyard_http_requests_in_flight") >= 1
    assert sample(after, "runyard_http_requests_in_flight") == 0
    assert sample(during, "runyard_db_pool_size") >= 1
    assert sample(after, "runyard_db_pool_checked_out") == 0
    route = {"method": "PUT", "route": "/api/2.0/mlflow-artifacts/artifacts/{path:path}"}
    assert sample(after, "runyard_http_request_duration_seconds_sum", **route) >= 1.0


def test_metrics_off(tmp_path: Path) -> None:
    srv = runyard_server(
        f"sqlite:///{tmp_path / 'runyard.db'}", tmp_path, env={"RUNYARD_METRICS": "false"}
    )
    try:
        response = httpx.get(srv.url + "/metrics", timeout=10)
        assert response.status_code == 404
        assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    finally:
        srv.stop()
