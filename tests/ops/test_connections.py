"""Finding 6 of the security probe: connections that never send a complete request are closed,
and a worker's connections are limited, on SQLite and PostgreSQL with auth on and off.

On the code before the fix (ee67f97) a connection that sent no byte, or a request head a byte
at a time, was kept for ever (uvicorn's keep-alive timer starts only after a response, and
every byte restarts it), and 1,100 of them under a 1024 file-descriptor limit made every other
request fail. The servers here get their limits from ``RUNYARD_*`` variables, which the old
code ignores, so there it starts with no limits and each test fails on what it checks.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from runyard.cli import main
from tests.auth.conftest import PASSWORDS, backend_uri, cli, ok
from tests.servers import ServerProcess

HEAD_TIMEOUT = 1  # seconds; the default is 30
MAX_CONNECTIONS = 40
FD_LIMIT = 256  # the server's RLIMIT_NOFILE, soft and hard: room for MAX_CONNECTIONS
IDLE_FLOOD = 300  # more connections than the server has descriptors
SLACK = 4.0  # seconds beyond a deadline a loaded machine may take to act on it
API = "/api/2.0/mlflow"
HEAD = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"

# `runyard server` with its file-descriptor limit lowered first (sys.argv[1:] are its arguments).
_LOWERED = (
    "import resource, runpy, sys; "
    f"resource.setrlimit(resource.RLIMIT_NOFILE, ({FD_LIMIT}, {FD_LIMIT})); "
    "sys.argv[0] = 'runyard'; runpy.run_module('runyard', run_name='__main__')"
)


@dataclass
class Server:
    process: ServerProcess
    auth: tuple[str, str] | None  # what a normal request signs in with

    @property
    def port(self) -> int:
        return self.process.port

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.process.url, auth=self.auth, timeout=30)


_CLI = threading.Lock()  # click's test runner swaps sys.stdin and sys.stdout: one at a time


def _start(backend: str, mode: str, workdir: Path, stack: ExitStack) -> Server:
    uri = stack.enter_context(backend_uri(backend, workdir))
    extra, auth = [], None
    if mode == "auth":
        with _CLI:
            ok(cli(uri, "users", "create", "admin", "--admin", password=PASSWORDS["admin"]))
        extra, auth = ["--auth"], ("admin", PASSWORDS["admin"])

    def command(port: int) -> list[str]:
        return [
            sys.executable, "-c", _LOWERED, "server", "--backend-store-uri", uri,
            "--artifacts-destination", str(workdir / "artifacts"),
            "--host", "127.0.0.1", "--port", str(port), *extra,
        ]  # fmt: skip

    env = {
        **os.environ,
        "RUNYARD_REQUEST_HEAD_TIMEOUT": str(HEAD_TIMEOUT),
        "RUNYARD_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    }
    process = ServerProcess(command, workdir, env=env)
    stack.callback(process.stop)
    return Server(process, auth)


MODES = [(b, a) for b in ("sqlite", "postgres") for a in ("auth", "no-auth")]


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[tuple[str, str], Future[Server]]]:
    """The four servers, started at once (starting them one by one would double the module's
    time); a test waits for the one it needs. A start that fails (or skips: no PostgreSQL)
    fails (or skips) the tests of that server only."""
    with ExitStack() as stack, ThreadPoolExecutor(len(MODES)) as pool:
        started = {}
        for backend, mode in MODES:
            own = stack.enter_context(ExitStack())  # closed even when the start fails
            workdir = tmp_path_factory.mktemp(f"connections-{backend}-{mode}")
            started[backend, mode] = pool.submit(_start, backend, mode, workdir, own)
        yield started


@pytest.fixture(
    params=[
        pytest.param(mode, id="-".join(mode), marks=[pytest.mark.postgres] * (mode[0] != "sqlite"))
        for mode in MODES
    ]
)
def server(
    request: pytest.FixtureRequest, servers: dict[tuple[str, str], Future[Server]]
) -> Server:
    return servers[request.param].result()


def _connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def _closed_by_server(sock: socket.socket, wait: float) -> bool:
    """True once the server has closed ``sock`` (EOF or reset), waiting at most ``wait`` s."""
    sock.settimeout(wait)
    try:
        while True:
            if sock.recv(65536) == b"":
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def _trickle(sock: socket.socket, data: bytes, interval: float, limit: float) -> float | None:
    """Send ``data`` a byte every ``interval`` s until the server closes the connection (the
    seconds that took) or ``limit`` s have passed (None)."""
    start = time.monotonic()
    for byte in data:
        if time.monotonic() - start > limit:
            return None
        try:
            sock.sendall(bytes([byte]))
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
        if _closed_by_server(sock, interval):
            return time.monotonic() - start
    return None


def _normal_request(server: Server) -> httpx.Response:
    with server.client() as http:  # a new connection each time
        return http.get(f"{API}/experiments/search", params={"max_results": 1})


def _wait_serving(server: Server, limit: float) -> float | None:
    """Seconds until a normal request on a new connection succeeds; None if none did."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        try:
            if _normal_request(server).status_code == 200:
                return time.monotonic() - start
        except httpx.HTTPError:
            pass  # refused or reset while the worker has no descriptor left
        time.sleep(0.2)
    return None


def _idle(server: Server) -> float | None:
    with closing(_connect(server)) as sock:
        start = time.monotonic()
        closed = _closed_by_server(sock, HEAD_TIMEOUT + SLACK)
        return time.monotonic() - start if closed else None


def _slow_head(server: Server, after_a_response: bool = False) -> float | None:
    # Four bytes a second: more often than uvicorn's 5 s keep-alive timer could catch.
    with closing(_connect(server)) as sock:
        if after_a_response:
            sock.sendall(HEAD + b"\r\n")
            sock.settimeout(5)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        return _trickle(sock, HEAD + b"X-Slow: " + b"a" * 200, 0.25, HEAD_TIMEOUT + SLACK)


def _slow_upload(server: Server) -> tuple[int, float, bool]:
    """Status, seconds taken and whether the file reads back whole, for an artifact upload
    whose body streams for two head timeouts."""
    with server.client() as http:
        eid = http.post(f"{API}/experiments/create", json={"name": f"slow-{time.time_ns()}"})
        assert eid.status_code == 200, eid.text
        run = http.post(f"{API}/runs/create", json={"experiment_id": eid.json()["experiment_id"]})
        assert run.status_code == 200, run.text
        info = run.json()["run"]["info"]
        url = "/api/2.0/mlflow-artifacts/artifacts/"
        url += f"{info['experiment_id']}/{info['run_id']}/artifacts/slow.bin"
        chunks = [bytes([n]) * 1000 for n in range(8)]

        def slow_body() -> Iterator[bytes]:
            for chunk in chunks:
                yield chunk
                time.sleep(HEAD_TIMEOUT * 2 / len(chunks))

        start = time.monotonic()
        put = http.put(url, content=slow_body())
        took = time.monotonic() - start
        got = http.get(url)
        return put.status_code, took, got.content == b"".join(chunks)


def test_heads_are_timed_and_bodies_are_not(server: Server) -> None:
    """At the same time: a connection that sends nothing, a head sent a byte at a time on a
    new connection and after a response on a kept-alive one are closed by the head deadline;
    an upload whose body streams for longer after a complete head finishes."""
    with ThreadPoolExecutor(4) as pool:
        idle = pool.submit(_idle, server)
        fresh = pool.submit(_slow_head, server)
        kept_alive = pool.submit(_slow_head, server, after_a_response=True)
        upload = pool.submit(_slow_upload, server)
    problems = []
    for name, closed_after in [
        ("a connection that sent nothing", idle.result()),
        ("a head sent a byte at a time", fresh.result()),
        ("a head sent a byte at a time after a response", kept_alive.result()),
    ]:
        if closed_after is None:
            problems.append(f"{name} was kept")
        elif closed_after < HEAD_TIMEOUT * 0.8:
            problems.append(f"{name} was closed before its deadline, after {closed_after:.1f} s")
    assert problems == []
    status, took, intact = upload.result()
    assert status == 200
    assert took >= HEAD_TIMEOUT * 2  # it did stream past the head deadline
    assert intact


def test_idle_connections_beyond_the_fd_limit_stop_blocking_requests(server: Server) -> None:
    assert _wait_serving(server, 5) is not None
    with ExitStack() as stack:
        idle = [stack.enter_context(closing(_connect(server))) for _ in range(IDLE_FLOOD)]
        took = _wait_serving(server, HEAD_TIMEOUT + SLACK + 4)
        assert took is not None, f"{IDLE_FLOOD} idle connections kept every request out"
        # The server closed every one of them (or never accepted it: refused or reset).
        kept = [sock for sock in idle if not _closed_by_server(sock, 0.01)]
        assert kept == []
    response = _normal_request(server)
    assert response.status_code == 200, response.text
    assert "experiments" in response.json()


def test_beyond_max_connections_a_new_connection_gets_503_json(server: Server) -> None:
    assert _wait_serving(server, 5) is not None
    with ExitStack() as stack:
        held = [stack.enter_context(closing(_connect(server))) for _ in range(MAX_CONNECTIONS)]
        time.sleep(0.2)  # accepted, and well inside their head deadline
        refused = _normal_request(server)
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/json"
        assert refused.headers["connection"] == "close"
        body = refused.json()
        assert body["error_code"] == "TEMPORARILY_UNAVAILABLE"
        assert "connection limit" in body["message"]
        for sock in held[:5]:  # connections drop: room for new ones at once
            sock.close()
        time.sleep(0.2)
        again = _normal_request(server)
        assert again.status_code == 200, again.text


def test_the_limits_are_flags_and_validated() -> None:
    runner = CliRunner()
    for flag in ("--request-head-timeout", "--max-connections"):
        result = runner.invoke(main, ["server", flag, "0"])
        assert result.exit_code == 2
        assert f"from {flag} is out of range: 0" in result.output, result.output


def test_max_connections_fits_the_fd_limit(tmp_path: Path) -> None:
    """Raised to what the defaults need when the hard limit allows it; otherwise the
    connection limit is lowered to what the descriptors can hold."""
    probe = (
        "import resource, sys; "
        "soft, hard = int(sys.argv[1]), int(sys.argv[2]); "
        "resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)); "
        "from runyard.connections import fit_to_fd_limit; "
        "print(fit_to_fd_limit(1000, 20), resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
    )

    def fit(soft: int, hard: int) -> list[int]:
        done = subprocess.run(
            [sys.executable, "-c", probe, str(soft), str(hard)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        return [int(word) for word in done.stdout.split()]

    limit, raised = fit(1024, 8192)
    assert limit == 1000 and 1024 < raised <= 8192
    limit, kept = fit(256, 256)
    assert kept == 256 and 1 <= limit < (256 // 2)
