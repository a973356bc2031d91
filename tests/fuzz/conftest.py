"""Live servers for the fuzz suite: one ``runyard server`` (one worker) per test, on SQLite and
PostgreSQL, with auth off, and with auth on as a non-admin user with some grants or as admin.

Each server gets a small world to aim at: experiments, runs, logged models and artifact files,
so that generated requests can name things that exist (and, as the user, things they may read,
edit, manage, or not touch at all).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.auth.conftest import PASSWORDS, auth_server, backend_uri
from tests.fuzz.fields import Targets
from tests.fuzz.probe import basic
from tests.servers import ServerProcess, runyard_server

MODES = ("off", "user", "admin")  # auth off; auth on as bob (some grants); auth on as admin
PARAMS = [
    pytest.param(
        (backend, mode),
        id=f"{backend}-{mode}",
        marks=[pytest.mark.postgres] if backend == "postgres" else [],
    )
    for backend in ("sqlite", "postgres")
    for mode in MODES
]


@dataclass
class FuzzServer:
    server: ServerProcess
    mode: str
    authorization: str | None  # the mode's Authorization header; None with auth off
    targets: Targets

    @property
    def auth(self) -> bool:
        return self.mode != "off"

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def log(self) -> Path:
        return self.server.log


def _ok(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 200, (response.request.url, response.text)
    body = response.json() if response.content else {}
    assert isinstance(body, dict)
    return body


class _World:
    """Creates what the fuzzer aims at, as one caller."""

    def __init__(self, url: str, authorization: str | None) -> None:
        headers = {"Authorization": authorization} if authorization else {}
        self.http = httpx.Client(base_url=url, headers=headers, timeout=30)
        self.t = Targets(experiments=[], names=[], runs=[], models=[], artifacts=[])

    def post(self, path: str, body: dict[str, object]) -> dict[str, object]:
        return _ok(self.http.post("/api/2.0/mlflow" + path, json=body))

    def put(self, path: str, data: bytes) -> None:
        _ok(self.http.put("/api/2.0/mlflow-artifacts/artifacts/" + path, content=data))

    def experiment(self, label: str) -> str:
        name = f"fuzz-{label}-{uuid.uuid4().hex[:8]}"
        eid = str(self.post("/experiments/create", {"name": name})["experiment_id"])
        self.t.experiments.append(eid)
        self.t.names.append(name)
        run = self.post("/runs/create", {"experiment_id": eid, "start_time": 1})["run"]
        info = run["info"]  # type: ignore[index]
        self.t.runs.append(info["run_id"])
        self.post(
            "/runs/log-batch",
            {
                "run_id": info["run_id"],
                "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}],
                "params": [{"key": "p", "value": "1"}],
                "tags": [{"key": "t", "value": "x"}],
            },
        )
        model = self.post("/logged-models", {"experiment_id": eid, "name": "m"})["model"]
        model_info = model["info"]  # type: ignore[index]
        self.t.models.append(model_info["model_id"])
        for uri, files in (
            (info["artifact_uri"], ["f.txt", "d/g.json"]),
            (model_info["artifact_uri"], ["m.txt", "d/n.bin"]),
        ):
            root = uri.removeprefix("mlflow-artifacts:/").strip("/")
            for name in files:
                self.put(f"{root}/{name}", b"fuzz target " + name.encode())
            self.t.artifacts += [f"{root}/{name}" for name in files] + [root, f"{root}/d"]
        self.t.artifacts.append(eid)
        root = info["artifact_uri"].removeprefix("mlflow-artifacts:/").strip("/")
        upload = _ok(
            self.http.post(
                f"/api/2.0/mlflow-artifacts/mpu/create/{root}",
                json={"path": "local/big.bin", "num_parts": 2},
            )
        )
        self.t.uploads.append(str(upload["upload_id"]))
        self.t.artifacts.append(f"{root}/big.bin")
        return eid

    def close(self) -> None:
        self.http.close()


def _populate(url: str, admin: str | None, user: str | None) -> Targets:
    """Experiments A and B (the admin's, or anyone's with auth off) and, with auth on, bob's
    own C; bob may READ A and EDIT B. The fuzzer sees all of them, plus experiment 0."""
    world = _World(url, admin)
    a, b = world.experiment("a"), world.experiment("b")
    if user is not None:
        for eid, permission in ((a, "READ"), (b, "EDIT")):
            body: dict[str, object] = {"experiment_id": eid, "username": "bob"}
            body["permission"] = permission
            world.post("/experiments/permissions/create", body)
        own = _World(url, user)
        own.t = world.t
        own.experiment("c")
        own.close()
    world.t.experiments.append("0")
    world.close()
    return world.t


@pytest.fixture(params=PARAMS)
def fuzz_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FuzzServer]:
    backend, mode = request.param
    with ExitStack() as stack:
        if mode == "off":
            uri = stack.enter_context(backend_uri(backend, tmp_path))
            server = runyard_server(uri, tmp_path, "--workers", "1")
            stack.callback(server.stop)
            yield FuzzServer(server, mode, None, _populate(server.url, None, None))
            return
        auth = stack.enter_context(auth_server(backend, tmp_path))
        admin, bob = basic("admin", PASSWORDS["admin"]), basic("bob", PASSWORDS["bob"])
        targets = _populate(auth.url, admin, bob)
        yield FuzzServer(auth.server, mode, admin if mode == "admin" else bob, targets)
