"""``/ready``: 200 while the database and the artifact store answer, 503 naming what does not."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.artifacts.services import MotoS3, destination_args, need
from tests.servers import pg_admin, pg_database, runyard_server


def test_ready_when_everything_answers(tmp_path: Path) -> None:
    srv = runyard_server(f"sqlite:///{tmp_path / 'runyard.db'}", tmp_path)
    try:
        response = httpx.get(srv.url + "/ready", timeout=10)
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "checks": {"database": "ok", "artifacts": "ok"}}
    finally:
        srv.stop()


def test_ready_without_artifact_serving(tmp_path: Path) -> None:
    srv = runyard_server(f"sqlite:///{tmp_path / 'runyard.db'}", tmp_path, "--no-serve-artifacts")
    try:
        body = httpx.get(srv.url + "/ready", timeout=10).json()
        assert body["checks"] == {"database": "ok", "artifacts": "not served"}
    finally:
        srv.stop()


def test_not_ready_when_the_database_is_gone(tmp_path: Path) -> None:
    with pg_database("runyard_ready") as url:
        srv = runyard_server(url, tmp_path)
        try:
            assert httpx.get(srv.url + "/ready", timeout=10).status_code == 200
            pg_admin(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
            response = httpx.get(srv.url + "/ready", timeout=30)
            assert response.status_code == 503
            body = response.json()
            assert body["error_code"] == "TEMPORARILY_UNAVAILABLE"
            assert body["message"] == "Not ready: database unavailable."
            assert body["checks"] == {"database": "unavailable", "artifacts": "ok"}
            assert httpx.get(srv.url + "/health", timeout=10).text == "OK"  # still alive
        finally:
            srv.stop()


def test_not_ready_when_the_artifact_store_is_unreachable(tmp_path: Path) -> None:
    if missing := MotoS3.missing():
        need(missing)
    s3 = MotoS3(tmp_path)
    try:
        args, env = destination_args("s3", "no sshd here", s3, "ready")
        srv = runyard_server(f"sqlite:///{tmp_path / 'runyard.db'}", tmp_path, *args, env=env)
    except BaseException:
        s3.stop()
        raise
    try:
        assert httpx.get(srv.url + "/ready", timeout=10).status_code == 200
        s3.stop()
        response = httpx.get(srv.url + "/ready", timeout=30)
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["database"] == "ok"
        assert checks["artifacts"] in ("unavailable", "timeout")
    finally:
        srv.stop()
        s3.stop()
