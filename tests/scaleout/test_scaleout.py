"""Three ``runyard server`` replicas on one PostgreSQL and one S3 store, behind nginx.

Several client threads log metrics (log-metric and log-batch, each point unique) and upload
artifacts through nginx with the official client while one replica is frozen and then killed
with SIGKILL, so requests die inside it. Every call must succeed in the end (nginx passes a
failed request to the next replica, the client retries what still fails), and every point must
be stored exactly once: read from PostgreSQL directly and through get-metric-history.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import httpx
import mlflow
import psycopg
import pytest
from mlflow.entities import Metric

from tests.artifacts.services import MotoS3, destination_args
from tests.integration.livesrv import environment
from tests.scaleout.nginx import Access, Nginx
from tests.servers import ServerProcess, pg_database, runyard_server, skip_or_fail

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

REPLICAS = 3
THREADS = 6
BATCH = 25  # points per log-batch; calls alternate log-metric and log-batch
ARTIFACT_BYTES = (3 * 1024 * 1024, 1024 * 1024 + 7)
KILL_AFTER_CALLS = 150
FREEZE_S = 0.3  # the victim stops answering first, so requests are inside it when it dies
# Logging goes on this long after the kill: longer than nginx's fail_timeout (1 s), so it
# also sends new connections to the dead replica and has to pass them on.
AFTER_KILL_S = 2.5
MAX_CALLS_PER_THREAD = 1000  # the bound if the kill never comes

# The client's own retries (5xx and broken connections), kept short: nginx should absorb
# most failures, and a minute-long backoff would hide a hang.
CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "5",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
}

Point = tuple[str, int, int, float]  # key, step, timestamp, value


@dataclass
class Cluster:
    replicas: list[ServerProcess]
    nginx: Nginx
    db_url: str
    s3: MotoS3
    s3_prefix: str  # where the replicas keep artifacts in MotoS3.BUCKET

    @property
    def victim(self) -> ServerProcess:
        return self.replicas[0]


@pytest.fixture
def cluster(tmp_path: Path, s3_server: MotoS3 | str) -> Iterator[Cluster]:
    missing = Nginx.missing()
    if missing:
        skip_or_fail(missing)
    prefix = f"scaleout-{tmp_path.name}"
    extra, env = destination_args("s3", "no sshd needed", s3_server, prefix)
    assert not isinstance(s3_server, str)  # destination_args skipped (or failed) without it
    replicas: list[ServerProcess] = []
    nginx: Nginx | None = None
    with pg_database("runyard_scaleout") as db_url:
        try:
            for n in range(REPLICAS):  # one by one: the first creates the schema
                workdir = tmp_path / f"replica{n}"
                workdir.mkdir()
                replicas.append(runyard_server(db_url, workdir, *extra, env=env))
            nginx = Nginx(tmp_path / "nginx", [r.port for r in replicas])
            with environment(CLIENT_ENV):
                yield Cluster(replicas, nginx, db_url, s3_server, prefix)
        finally:
            if nginx is not None:
                nginx.stop()
            for replica in replicas:
                replica.stop()


def _points(thread: int, call: int) -> list[Point]:
    """Unique points: the key names the thread, step and timestamp the call."""
    count = 1 if call % 2 == 0 else BATCH
    return [
        (f"t{thread}", call * 100 + i, 1_700_000_000_000 + call * 100 + i, thread + call / 1000 + i)
        for i in range(count)
    ]


class Load:
    """Client threads logging through nginx; counts completed calls, keeps what succeeded."""

    def __init__(self, client: mlflow.MlflowClient, run_ids: list[str]) -> None:
        self.client = client
        self.run_ids = run_ids
        self.done = 0
        self.lock = threading.Lock()
        self.kill_now = threading.Event()
        self.stop = threading.Event()
        self.stored: dict[str, list[Point]] = {run_id: [] for run_id in run_ids}

    def thread(self, n: int) -> int:
        """Log until told to stop; returns how many calls succeeded (all that were made)."""
        run_id = self.run_ids[n % len(self.run_ids)]
        call = 0
        while not self.stop.is_set() and call < MAX_CALLS_PER_THREAD:
            points = _points(n, call)
            if len(points) == 1:
                key, step, ts, value = points[0]
                self.client.log_metric(run_id, key, value, timestamp=ts, step=step)
            else:
                metrics = [Metric(k, v, ts, s) for k, s, ts, v in points]
                self.client.log_batch(run_id, metrics=metrics)
            with self.lock:
                self.stored[run_id] += points  # only once the call returned
                self.done += 1
                if self.done >= KILL_AFTER_CALLS:
                    self.kill_now.set()
            call += 1
        return call


def _kill_under_load(load: Load, victim: ServerProcess) -> None:
    try:
        assert load.kill_now.wait(60), "the load never got going"
        os.kill(victim.proc.pid, signal.SIGSTOP)
        time.sleep(FREEZE_S)
        os.kill(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait(10)
        time.sleep(AFTER_KILL_S)
    finally:
        load.stop.set()


def _upload(client: mlflow.MlflowClient, run_id: str, path: Path) -> None:
    client.log_artifact(run_id, str(path), "uploads")


def _stored_points(db_url: str, run_ids: list[str]) -> dict[str, list[Point]]:
    found: dict[str, list[Point]] = {run_id: [] for run_id in run_ids}
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT run_uuid, key, step, timestamp, value FROM metrics "
            "WHERE run_uuid = ANY(%s) AND NOT is_nan",
            (run_ids,),
        ).fetchall()
    for run_id, key, step, ts, value in rows:
        found[run_id].append((key, step, ts, value))
    return found


def _s3_keys(cluster: Cluster) -> list[str]:
    """Every object under the replicas' prefix, straight from the S3 server."""
    answer = httpx.get(
        f"{cluster.s3.endpoint_url}/{MotoS3.BUCKET}",
        params={"list-type": "2", "prefix": cluster.s3_prefix + "/"},
        timeout=30,
    )
    answer.raise_for_status()
    keys = ElementTree.fromstring(answer.content).iter(f"{_S3_XML}Key")
    return sorted(key.text or "" for key in keys)


_S3_XML = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def test_replica_killed_under_load_loses_and_duplicates_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    started = time.monotonic()
    client = mlflow.MlflowClient(tracking_uri=cluster.nginx.url)
    experiment_id = client.create_experiment("scale-out")
    run_ids = [client.create_run(experiment_id).info.run_id for _ in range(THREADS // 2)]
    files = []
    for n, size in enumerate(ARTIFACT_BYTES):
        path = tmp_path / f"artifact{n}.bin"
        path.write_bytes(os.urandom(size))
        files.append(path)

    load = Load(client, run_ids)
    with ThreadPoolExecutor(THREADS + 1 + len(files)) as pool:
        loggers = [pool.submit(load.thread, n) for n in range(THREADS)]
        killer = pool.submit(_kill_under_load, load, cluster.victim)
        load.kill_now.wait(60)
        uploads = [pool.submit(_upload, client, run_ids[n], f) for n, f in enumerate(files)]
        for future in [killer, *uploads]:
            future.result()
        calls = [future.result() for future in loggers]  # every call succeeded, retries included
    accesses = cluster.nginx.accesses()
    _report(accesses, cluster, time.monotonic() - started)
    assert cluster.victim.proc.returncode == -signal.SIGKILL
    assert load.done == sum(calls) > KILL_AFTER_CALLS

    # Every point whose call returned is stored, once; nothing else is.
    expected = {run_id: sorted(points) for run_id, points in load.stored.items()}
    assert sum(map(len, expected.values())) == sum(
        len(_points(n, c)) for n in range(THREADS) for c in range(calls[n])
    )
    assert {r: sorted(p) for r, p in _stored_points(cluster.db_url, run_ids).items()} == expected
    for run_id, points in expected.items():
        for key in sorted({p[0] for p in points}):
            history = client.get_metric_history(run_id, key)
            got = sorted((m.key, m.step, m.timestamp, m.value) for m in history)
            assert got == [p for p in points if p[0] == key]

    for n, path in enumerate(files):  # uploaded once, through a surviving replica, intact
        local = client.download_artifacts(run_ids[n], f"uploads/{path.name}", str(tmp_path))
        assert (
            hashlib.sha256(Path(local).read_bytes()).digest()
            == hashlib.sha256(path.read_bytes()).digest()
        )

    assert _s3_keys(cluster) == sorted(
        f"{cluster.s3_prefix}/{experiment_id}/{run_ids[n]}/artifacts/uploads/{path.name}"
        for n, path in enumerate(files)
    )  # and nothing half-written is visible

    victim = f"127.0.0.1:{cluster.victim.port}"
    assert any(a.upstreams[:1] == (victim,) and not a.failed_over for a in accesses), (
        "the victim served nothing before it died"
    )
    moved = [a for a in accesses if a.failed_over and victim in a.upstreams[:-1]]
    assert moved, "no request was passed on from the killed replica"
    assert all(_port(a.upstreams[-1]) != cluster.victim.port for a in moved)
    # Requests were inside the victim when it died (not only refused connections afterwards).
    errors = cluster.nginx.errors()
    assert "reset by peer" in errors or "prematurely closed" in errors, errors[-2000:]
    # And once nginx tried the dead replica again, its refused connections were passed on too.
    assert "Connection refused" in errors, errors[-2000:]


def _report(accesses: list[Access], cluster: Cluster, elapsed: float) -> None:
    """What the fail-over cost, for the test log (pytest -s or a failure shows it)."""
    errors = cluster.nginx.errors()
    print(
        f"\nscale-out: {len(accesses)} requests through nginx in {elapsed:.1f}s; "
        f"{sum(a.failed_over for a in accesses)} passed to another replica by nginx; "
        f"{sum(a.status >= 500 for a in accesses)} answered 5xx (retried by the client); "
        f"in-flight at the kill: {errors.count('reset by peer') + errors.count('prematurely')}; "
        f"refused afterwards: {errors.count('Connection refused')}"
    )
