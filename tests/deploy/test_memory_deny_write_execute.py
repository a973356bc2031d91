"""The unit sets MemoryDenyWriteExecute=yes: the server must run without writable+executable
memory. Linux's PR_SET_MDWE (6.3+) enforces the same rule without systemd; it survives exec,
so a server started under it serves the API, PostgreSQL included, or fails here."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.servers import ServerProcess

PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1

# Turn the rule on, then become the server (or the given Python code).
LAUNCHER = (
    "import ctypes, os, sys\n"
    f"if ctypes.CDLL(None, use_errno=True).prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN},"
    " 0, 0, 0) != 0:\n"
    "    sys.exit('PR_SET_MDWE failed')\n"
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])\n"
)


def _mdwe_supported() -> bool:
    probe = subprocess.run([sys.executable, "-c", LAUNCHER, "-c", "pass"], capture_output=True)
    return probe.returncode == 0


@pytest.fixture(scope="module", autouse=True)
def _needs_mdwe() -> None:
    if not _mdwe_supported():
        pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3+)")


def test_the_launcher_really_refuses_write_execute_memory() -> None:
    code = "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_READ|mmap.PROT_WRITE|mmap.PROT_EXEC)"
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr
    guarded = subprocess.run(
        [sys.executable, "-c", LAUNCHER, "-c", code], capture_output=True, text=True
    )
    assert guarded.returncode == 1
    assert "PermissionError" in guarded.stderr


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_server_works_without_write_execute_memory(
    tmp_path: Path, backend: str, make_pg_db: Callable[[], str]
) -> None:
    uri = make_pg_db() if backend == "postgresql" else f"sqlite:///{tmp_path / 'mdwe.db'}"

    def command(port: int) -> list[str]:
        return [
            sys.executable, "-c", LAUNCHER, "-m", "runyard", "server",
            "--backend-store-uri", uri, "--artifacts-destination", str(tmp_path / "artifacts"),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
        ]  # fmt: skip

    server = ServerProcess(command, tmp_path)
    try:
        api = f"{server.url}/api/2.0/mlflow"
        with httpx.Client(timeout=30) as http:
            created = http.post(f"{api}/experiments/create", json={"name": "mdwe"})
            assert created.status_code == 200, created.text
            experiment_id = created.json()["experiment_id"]
            run = http.post(f"{api}/runs/create", json={"experiment_id": experiment_id})
            assert run.status_code == 200, run.text
            run_id = run.json()["run"]["info"]["run_id"]
            metric = {"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0}
            assert http.post(f"{api}/runs/log-metric", json=metric).status_code == 200
            history = http.get(
                f"{api}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"}
            )
            assert history.json()["metrics"][0]["value"] == 0.5
            proxy = f"{server.url}/api/2.0/mlflow-artifacts/artifacts"
            artifact = f"{proxy}/{experiment_id}/{run_id}/artifacts/x.bin"
            body = bytes(range(256)) * 4096
            assert http.put(artifact, content=body).status_code == 200
            assert http.get(artifact).content == body
    finally:
        server.stop()
    assert "PR_SET_MDWE failed" not in server.log.read_text()
