"""docs/deploying.md, run: its marked commands in order, then the official client checks the result.

The page's blocks marked ``<!-- walkthrough -->`` run verbatim, in one bash session, as the
page says to run them. Three marked blocks stand for things a throwaway environment does
differently, and the test says so in the marker:

* the names block: the test's own values (a temporary /etc and /var, a unique database name,
  the test's sshd, a free port);
* the storage host's authorized_keys: the test adds the key to its sshd's file;
* the foreground ``runyard server``: started in the background, waited for, stopped at the end.

Everything else (setup postgres, db upgrade, keys, known_hosts, config, users, token,
permissions, doctor, the systemd unit and its verification, ``mlflow run``) is the page's own
text. A change to the page changes what this test runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.artifacts.services import Sshd, need
from tests.servers import PG_ADMIN_URL, free_port, pg_admin, pg_available, skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deploying.md"
MARKER = re.compile(r"<!-- walkthrough(?::\s*(?P<note>[^>]*?))?\s*-->\s*\n```(\w+)\n(.*?)```", re.S)

# Waits on /ready with the test's own Python, so the walkthrough needs no curl.
READY = (
    shlex.quote(sys.executable)
    + " -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1])'"
)

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]


def blocks() -> list[tuple[str, str]]:
    """(note, body) of every marked block, in page order."""
    return [(m.group("note") or "", m.group(3)) for m in MARKER.finditer(DOC.read_text())]


def test_the_page_has_the_blocks_this_test_replaces() -> None:
    notes = [note for note, _ in blocks()]
    assert any("own values" in n for n in notes)
    assert any("authorized_keys" in n for n in notes)
    assert any("background" in n for n in notes)
    assert sum(1 for n in notes if not n) >= 8


def script(values: dict[str, str], authorized_keys: Path, server_log: Path) -> str:
    lines = ["set -euo pipefail"]
    for note, body in blocks():
        if "own values" in note:
            lines += [f"{k}={shlex.quote(v)}" for k, v in values.items()]
        elif "authorized_keys" in note:
            lines.append(f'cat "$CONF/sftp_key.pub" >> {shlex.quote(str(authorized_keys))}')
        elif "background" in note:
            assert body.strip() == "runyard server", body
            lines += [
                f"runyard server > {shlex.quote(str(server_log))} 2>&1 &",
                'echo $! > "$DATA/server.pid"',
                "for _ in $(seq 1 150); do",
                f'  {READY} "http://127.0.0.1:$PORT/ready" 2> /dev/null && break',
                "  sleep 0.2",
                "done",
                f'{READY} "http://127.0.0.1:$PORT/ready"',
            ]
        else:
            assert not note, f"unknown walkthrough marker: {note!r}"
            lines.append(body)
    return "\n".join(lines) + "\n"


def test_the_deploying_guide_end_to_end(tmp_path: Path, sshd: Sshd | str) -> None:
    ssh = need(sshd)
    if not pg_available():
        skip_or_fail("PostgreSQL is not reachable on 127.0.0.1:5432")
    for tool in ("systemd-analyze", "ssh-keyscan"):
        if shutil.which(tool) is None:
            skip_or_fail(f"{tool} is not installed (scripts/services installs it)")

    name = f"walk_{uuid.uuid4().hex[:10]}"
    storage_dir = ssh.root / name
    storage_dir.mkdir()
    admin_url = tmp_path / "pg-admin-url"
    admin_url.write_text(PG_ADMIN_URL + "\n")
    port = free_port()
    values = {
        "CONF": str(tmp_path / "etc" / "runyard"),
        "DATA": str(tmp_path / "var" / "runyard"),
        "DB_NAME": name,
        "STORAGE": f"{ssh.user}@127.0.0.1",
        "STORAGE_PORT": str(ssh.port),
        "STORAGE_DIR": str(storage_dir),
        "PORT": str(port),
        "PUBLIC_NAME": "mlflow.example.com",
        "SERVER_URL": f"http://127.0.0.1:{port}",
        "SERVICE_USER": "nobody",
        "PG_ADMIN_OPTIONS": f"--admin-url-file {admin_url}",
    }
    (tmp_path / "etc").mkdir()
    (tmp_path / "var").mkdir()
    server_log = tmp_path / "server.log"
    walk = tmp_path / "walkthrough.sh"
    walk.write_text(script(values, ssh.workdir / "authorized_keys", server_log))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RUNYARD_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    conf, data = Path(values["CONF"]), Path(values["DATA"])
    try:
        done = subprocess.run(
            ["bash", str(walk)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=540
        )
        output = done.stdout + done.stderr
        server_output = server_log.read_text() if server_log.exists() else ""
        assert done.returncode == 0, f"{output}\n--- server ---\n{server_output}"

        # The secret file is the only place the password lives.
        db_uri = (conf / "db-uri").read_text().strip()
        password = db_uri.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
        assert (conf / "db-uri").stat().st_mode & 0o777 == 0o600
        assert password not in output
        assert password not in server_output
        assert password not in (conf / "runyard.service").read_text()
        assert "LoadCredential=backend_store_uri:" in (conf / "runyard.service").read_text()

        check_the_run(f"http://127.0.0.1:{port}", (conf / "alice.token").read_text().strip())
        # The model went to the storage host over SFTP, not to the server's disk.
        stored = {p.name for p in storage_dir.rglob("*") if p.is_file()}
        assert {"MLmodel", "model.skops"} <= stored, stored
    finally:
        pid_file = data / "server.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        pg_admin(f'DROP ROLE IF EXISTS "{name}"')


def check_the_run(url: str, token: str) -> None:
    from mlflow.tracking import MlflowClient

    # Without credentials the server answers 401 in MLflow's error JSON.
    anonymous = httpx.get(f"{url}/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"})
    assert anonymous.status_code == 401
    assert anonymous.json()["error_code"] == "UNAUTHENTICATED"

    os.environ["MLFLOW_TRACKING_TOKEN"] = token
    try:
        client = MlflowClient(tracking_uri=url)
        runs = client.search_runs(["0"])
        assert len(runs) == 1
        run = runs[0]
        assert run.info.status == "FINISHED"
        assert run.data.params["alpha"] == "0.5"
        assert set(run.data.metrics) >= {"rmse", "mae", "r2"}
        assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
        import mlflow.pyfunc
        from sklearn.datasets import load_diabetes

        before = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(url)
        try:
            model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
        finally:
            mlflow.set_tracking_uri(before)
        predicted = list(model.predict(load_diabetes(as_frame=True).data.iloc[:4]))
        assert len(predicted) == 4
        assert all(0 < p < 400 for p in predicted)
    finally:
        del os.environ["MLFLOW_TRACKING_TOKEN"]
