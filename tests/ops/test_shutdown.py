"""Stopping: SIGTERM drains the requests in flight, refuses new connections and exits 0;
systemd hears READY=1 once every worker serves and STOPPING=1 when the stop begins."""

from __future__ import annotations

import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runyard.sd_notify import notify
from tests.servers import runyard_server

CHUNK = 64 * 1024
CHUNKS = 20


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_lets_a_slow_upload_finish_and_exits_0(tmp_path: Path, workers: int) -> None:
    srv = runyard_server(
        f"sqlite:///{tmp_path / 'runyard.db'}", tmp_path, "--workers", str(workers)
    )
    sending = threading.Event()

    def slow_body() -> Iterator[bytes]:
        for n in range(CHUNKS):
            yield bytes([n]) * CHUNK
            sending.set()
            time.sleep(0.1)

    result: list[int] = []

    def upload() -> None:
        url = f"{srv.url}/api/2.0/mlflow-artifacts/artifacts/drain/file.bin"
        result.append(httpx.put(url, content=slow_body(), timeout=60).status_code)

    thread = threading.Thread(target=upload)
    try:
        thread.start()
        assert sending.wait(10)
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with pytest.raises(httpx.ConnectError):  # the listening socket is closed everywhere
            httpx.get(srv.url + "/health", timeout=5)
        assert thread.is_alive()  # still sending: the server waits for it
        thread.join(60)
        assert result == [200]
        assert srv.proc.wait(30) == 0
    finally:
        srv.stop()
    stored = tmp_path / "artifacts" / "drain" / "file.bin"
    assert stored.read_bytes() == b"".join(bytes([n]) * CHUNK for n in range(CHUNKS))


@pytest.fixture(params=["path", "abstract"])
def notify_socket(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "abstract":
        name = f"runyard-test-{uuid.uuid4().hex}"
        sock.bind("\0" + name)
        address = "@" + name
    else:
        address = str(tmp_path / "notify.sock")
        sock.bind(address)
    sock.settimeout(30)
    try:
        yield sock, address
    finally:
        sock.close()


def test_notify_sends_one_datagram(notify_socket: tuple[socket.socket, str]) -> None:
    sock, address = notify_socket
    assert notify(address, "STATUS=hello")
    assert sock.recv(100) == b"STATUS=hello"
    assert not notify(None, "READY=1")
    assert not notify(address + "-nobody-listens", "READY=1")


@pytest.mark.parametrize("workers", [1, 2])
def test_systemd_hears_ready_then_stopping(
    tmp_path: Path, notify_socket: tuple[socket.socket, str], workers: int
) -> None:
    sock, address = notify_socket
    srv = runyard_server(
        f"sqlite:///{tmp_path / 'runyard.db'}",
        tmp_path,
        "--workers",
        str(workers),
        env={"NOTIFY_SOCKET": address},
    )
    try:
        assert sock.recv(100) == b"READY=1"
        # Every worker had finished starting when READY=1 was sent.
        assert srv.log.read_text().count("Application startup complete") == workers
        srv.proc.send_signal(signal.SIGTERM)
        assert sock.recv(100) == b"STOPPING=1"
        assert srv.proc.wait(30) == 0
    finally:
        srv.stop()
