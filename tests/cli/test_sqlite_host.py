"""`runyard server` on SQLite: restarts and workers on one host start, another host is refused."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from tests.servers import runyard_server, server_once


def test_server_refuses_a_database_another_host_serves(tmp_path: Path) -> None:
    db = tmp_path / "runyard.db"
    (tmp_path / "runyard.db.host").write_text("some-other-machine\n")
    proc = server_once(db, tmp_path)
    assert proc.returncode != 0
    assert "'some-other-machine' serves it" in proc.stderr
    assert f"this is host {socket.gethostname()!r}" in proc.stderr
    assert "only safe on one host" in proc.stderr
    assert "use PostgreSQL" in proc.stderr
    assert f"delete {tmp_path / 'runyard.db.host'}" in proc.stderr
    assert not db.exists()  # refused before SQLite created anything


def test_restarts_and_workers_on_this_host_serve(tmp_path: Path) -> None:
    db = tmp_path / "runyard.db"
    for workers in ("2", "1"):  # a first start with two workers, then a restart
        server = runyard_server(f"sqlite:///{db}", tmp_path, "--workers", workers)
        try:
            response = httpx.get(f"{server.url}/api/2.0/mlflow/experiments/get?experiment_id=0")
            assert response.status_code == 200, response.text
        finally:
            server.stop()
    assert (tmp_path / "runyard.db.host").read_text() == socket.gethostname() + "\n"
