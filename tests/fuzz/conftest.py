"""Live servers for the fuzz suite: one ``runyard server`` (one worker) per test, on SQLite and
PostgreSQL, with auth off, and with auth on as a non-admin user with some grants or as admin.

Each server gets a small world to aim at: experiments, runs, logged models, artifact files and
registered models with versions and aliases, so that generated requests can name things that
exist (and, as the user, things they may read, edit, manage, or not touch at all).
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
        self.run_uris: list[str] = []

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
        self.run_uris.append(info["artifact_uri"])
        return eid

    def registry(self, *labels: str) -> list[str]:
        """A registered model per label, each with two versions (one from this caller's last
        run, one from its last logged model), a tag on each, an alias on the first and the
        second in Staging. Their names."""
        run, model, root = self.t.runs[-1], self.t.models[-1], self.run_uris[-1]
        made = []
        for label in labels:
            name = f"fuzz-rm-{label}-{uuid.uuid4().hex[:8]}"
            tags = [{"key": "t", "value": "x"}]
            self.post("/registered-models/create", {"name": name, "tags": tags})
            for version in (
                {"source": f"runs:/{run}/d", "run_id": run},
                {"source": f"models:/{model}", "model_id": model},
            ):
                self.post("/model-versions/create", {"name": name, **version, "tags": tags})
            self.post(
                "/registered-models/alias", {"name": name, "alias": "champion", "version": "1"}
            )
            body = {"name": name, "version": "2", "stage": "Staging"}
            self.post("/model-versions/transition-stage", body)
            made.append(name)
            self.t.sources += [f"models:/{name}/1", f"models:/{name}@champion"]
        self.t.registered_models += made
        self.t.sources += [f"runs:/{run}/m", f"{root}/m", f"models:/{model}"]
        self.t.sources += [f"models:/{made[0]}/Staging", "models:/x/latest"]
        return made

    def close(self) -> None:
        self.http.close()


def _populate(url: str, admin: str | None, user: str | None) -> Targets:
    """Experiments A and B and registered models A, B and C (the admin's, or anyone's with
    auth off) and, with auth on, bob's own experiment and model D; bob may READ the A's and
    EDIT the B's. The fuzzer sees all of them, plus experiment 0. Three models of one owner:
    the warm-up's deletes and renames may take one or two away."""
    world = _World(url, admin)
    a, b = world.experiment("a"), world.experiment("b")
    model_a, model_b, _ = world.registry("a", "b", "c")
    world.t.aliases += ["champion", "other"]
    if user is not None:
        for eid, permission in ((a, "READ"), (b, "EDIT")):
            body: dict[str, object] = {"experiment_id": eid, "username": "bob"}
            body["permission"] = permission
            world.post("/experiments/permissions/create", body)
        for name, permission in ((model_a, "READ"), (model_b, "EDIT")):
            body = {"name": name, "username": "bob", "permission": permission}
            world.post("/registered-models/permissions/create", body)
        own = _World(url, user)
        own.t = world.t
        own.experiment("c")
        own.registry("d")
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
