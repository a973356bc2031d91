"""A live server whose artifact store fails: a full disk, names too long, uploads cut short.

Findings 4, 5 (failed uploads) and 7 of issue 9: a full disk reached MLflow's client as "too
many 503 error responses" after four minutes of retries, a 300-byte file name was a 503, and
each failed upload left a pending task and its read-ahead buffer behind. The artifact
destination here is a small tmpfs of its own; every database and auth setting gets one server.
"""

from __future__ import annotations

import base64
import os
import re
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow
import pytest

from tests.artifacts.disks import everything_under, fill, small_disk
from tests.auth.conftest import BACKENDS_AND_AUTH, PASSWORDS, backend_uri, cli, ok
from tests.servers import ServerProcess, runyard_server

PROXY = "/api/2.0/mlflow-artifacts/artifacts"
DISK = 64 * 1024 * 1024  # tmpfs takes memory only for what is written
LIMIT = 24 * 1024 * 1024  # the server's max_artifact_bytes: more than a read-ahead buffer
ADMIN = ("admin", PASSWORDS["admin"])
DESTROYED = "Task was destroyed but it is pending"


@dataclass
class Site:
    server: ServerProcess
    disk: Path  # the artifact destination: a tmpfs of DISK bytes
    auth: tuple[str, str] | None

    @property
    def url(self) -> str:
        return self.server.url

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=self.auth, timeout=30)

    def log(self) -> str:
        return self.server.log.read_text(errors="replace")


@pytest.fixture(scope="module", params=BACKENDS_AND_AUTH)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    backend, auth = request.param
    workdir = tmp_path_factory.mktemp(f"full-{backend}-{'auth' if auth else 'open'}")
    env = {"RUNYARD_MAX_ARTIFACT_BYTES": str(LIMIT)}
    with ExitStack() as stack:  # unwound in reverse: server, database, then the mount
        disk = stack.enter_context(small_disk(workdir / "artifacts", str(DISK)))
        uri = stack.enter_context(backend_uri(backend, workdir))
        if auth:
            ok(cli(uri, "users", "create", "admin", "--admin", password=ADMIN[1]))
        server = runyard_server(uri, workdir, *(["--auth"] if auth else []), env=env)
        stack.callback(server.stop)
        yield Site(server, disk, ADMIN if auth else None)


@pytest.fixture(scope="module")
def server(site: Site) -> ServerProcess:
    """The server the integration conftest points the client at."""
    return site.server


def _run_dir() -> str:
    return f"0/{uuid.uuid4().hex}/artifacts"


# --- finding 7: a full disk -------------------------------------------------------------------


def test_official_client_fails_at_once_naming_the_cause(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client as a user has it: its default retries (seven, with backoff) on 429 and 5xx.
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", site.url)
    if site.auth:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", site.auth[0])
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", site.auth[1])
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(4 * 1024 * 1024))
    filler = fill(site.disk, leave=1024 * 1024)  # a disk all but full
    try:
        before = everything_under(site.disk)
        with mlflow.start_run() as run:
            started = time.monotonic()
            with pytest.raises(Exception) as raised:
                mlflow.log_artifact(str(big))
            elapsed = time.monotonic() - started
        after = everything_under(site.disk)
    finally:
        filler.unlink()
    assert elapsed < 10, f"took {elapsed:.1f} s: retried?"
    text = str(raised.value)
    assert "507" in text and "artifact store is full: No space left on device" in text, text
    puts = re.findall(rf"PUT {PROXY}/0/{run.info.run_id}/artifacts/big.bin (\d+)", site.log())
    assert puts == ["507"], puts  # asked once, answered once: no retry
    assert after == before  # no half-written file, no temp file, no new directory


def test_full_disk_is_507_leaves_nothing_and_recovers(site: Site) -> None:
    path = f"{_run_dir()}/model.bin"
    data = os.urandom(256 * 1024)
    with site.http() as http:
        filler = fill(site.disk)
        try:
            before = everything_under(site.disk)
            started = time.monotonic()
            answer = http.put(f"{PROXY}/{path}", content=data)
            assert time.monotonic() - started < 5
            assert answer.status_code == 507, answer.text
            assert answer.headers["content-type"] == "application/json"
            body = answer.json()
            assert body["error_code"] == "RESOURCE_EXHAUSTED"
            assert body["message"].startswith("artifact store is full: No space left on device")
            assert path in body["message"]
            assert everything_under(site.disk) == before
        finally:
            filler.unlink()
        assert http.put(f"{PROXY}/{path}", content=data).status_code == 200
        assert http.get(f"{PROXY}/{path}").content == data


# --- finding 4: names too long ----------------------------------------------------------------


def test_a_name_too_long_is_400_saying_which_and_the_limit(site: Site) -> None:
    run_dir = _run_dir()
    with site.http() as http:
        answer = http.put(f"{PROXY}/{run_dir}/{'x' * 300}", content=b"data")
        assert answer.status_code == 400, answer.text
        body = answer.json()
        assert body["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "xxxxxxxxxx" in body["message"] and "is 300 bytes long" in body["message"]
        assert "at most 255 bytes" in body["message"]
        # The limit is in bytes of UTF-8: 128 two-byte letters are 256.
        answer = http.put(f"{PROXY}/{run_dir}/{'é' * 128}", content=b"data")
        assert answer.status_code == 400, answer.text
        assert "is 256 bytes long" in answer.json()["message"]


def test_a_path_too_long_is_400_saying_the_limit(site: Site) -> None:
    deep = "/".join(["d" * 200] * 5) + "/f.txt"
    with site.http() as http:
        answer = http.put(f"{PROXY}/{_run_dir()}/{deep}", content=b"data")
        assert answer.status_code == 400, answer.text
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "may be at most 1024 bytes" in answer.json()["message"]


def test_the_longest_name_allowed_can_be_written(site: Site) -> None:
    """Its temporary name beside it must fit in 255 bytes too."""
    path = f"{_run_dir()}/{'y' * 251}.txt"
    with site.http() as http:
        assert http.put(f"{PROXY}/{path}", content=b"data").status_code == 200
        assert http.get(f"{PROXY}/{path}").content == b"data"


# --- finding 5: failed uploads leave nothing behind -------------------------------------------


def _chunks(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    for _ in range(total // size):
        yield os.urandom(size)


def _hang_up_mid_body(site: Site, path: str) -> None:
    """Promise 4 MiB, send 1 MiB, and go."""
    auth = ""
    if site.auth:
        token = base64.b64encode(f"{site.auth[0]}:{site.auth[1]}".encode()).decode()
        auth = f"Authorization: Basic {token}\r\n"
    head = (
        f"PUT {PROXY}/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
        f"Content-Length: {4 * 1024 * 1024}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", site.server.port)) as conn:
        conn.sendall(head.encode() + os.urandom(1024 * 1024))
        time.sleep(0.3)


def test_failed_uploads_leave_no_pending_task(site: Site) -> None:
    start = len(site.log())
    with site.http() as http:
        over = http.put(f"{PROXY}/{_run_dir()}/over.bin", content=_chunks(2 * LIMIT))  # chunked
        assert over.status_code == 413, over.text
        _hang_up_mid_body(site, f"{_run_dir()}/gone.bin")
        filler = fill(site.disk, leave=1024 * 1024)
        try:
            # Its read-ahead buffer fills up (8 MiB) while the store fails on the first MiB.
            full = http.put(f"{PROXY}/{_run_dir()}/full.bin", content=_chunks(LIMIT - 1024))
            assert full.status_code == 507, full.text
        finally:
            filler.unlink()
        # Allocations enough for the collector to run a few times, and find any orphan task.
        for _ in range(300):
            assert http.get("/api/2.0/mlflow/experiments/search?max_results=5").status_code == 200
    log = site.log()[start:]
    assert DESTROYED not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
