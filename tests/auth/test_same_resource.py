"""Every route: the permission check and the handler act on the same resource, however the
request spells it.

For each row of the route table whose rule is decided on a resource (an experiment, a run, a
model, an artifact path, a registered model), on both of its mounts, the walk sends requests in
which one place the request allows (the URL path, the query string, the JSON body; snake_case
and lowerCamelCase) names a resource of side A, which ``bob`` owns, and another place names the
same kind of resource on side B, on which he has no permission; then the same with A and B swapped.
Whatever a route reads, bob must never change anything of B nor be answered with any of it. And
each route must let bob act on A in at least one of these requests, so a route that refused
everything could not pass.

In process (Starlette's test client) on SQLite and PostgreSQL: the point is the routing, and a
subprocess per row would make the walk minutes long.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from runyard.api import resources, routes
from runyard.api.resources import Access
from runyard.app import create_app
from runyard.settings import Settings
from tests.auth.conftest import BACKENDS, PASSWORDS, backend_uri, cli, ok

T = "/api/2.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts"
SECRET = "secret-of-B"  # in every name, tag and file of experiment B


@dataclass
class Side:
    """One experiment's resources, as the walk names them."""

    experiment_id: str
    name: str
    run_id: str
    model_id: str
    run_dir: str  # <experiment_id>/<run_id>/artifacts under the proxy
    model_dir: str  # <experiment_id>/models/<model_id>/artifacts
    registered_model: str  # with version 1 (from the run), a tag and an alias


class As:
    """The app's test client, as one user (one client: a second would start the app again)."""

    def __init__(self, client: TestClient, user: str) -> None:
        self._client = client
        secret = base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode()
        self._headers = {"Authorization": f"Basic {secret}"}

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        return self._client.request(method, url, headers=self._headers, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Any:
        return self.request("PUT", url, **kwargs)


@dataclass
class World:
    admin: As
    bob: As
    a: Side
    b: Side
    serial: Iterator[int] = field(default_factory=itertools.count)

    def snapshot_b(self) -> list[Any]:
        """Everything of B that a request could change, read as the administrator."""
        b, admin = self.b, self.admin
        return [
            _ok(admin.get(f"{T}/experiments/get", params={"experiment_id": b.experiment_id})),
            _ok(admin.get(f"{T}/runs/get", params={"run_id": b.run_id})),
            _ok(admin.get(f"{T}/logged-models/{b.model_id}", params={"allow_deleted": "true"})),
            _ok(admin.get(f"{PROXY}/artifacts", params={"path": b.run_dir})),
            _ok(admin.get(f"{PROXY}/artifacts", params={"path": b.model_dir})),
            admin.get(f"{PROXY}/artifacts/{b.run_dir}/f.txt").content,
            _ok(admin.get(f"{T}/experiments/permissions/get", params=_grant(b, "carol"))),
            _ok(admin.get(f"{T}/registered-models/get", params={"name": b.registered_model})),
            _ok(admin.get(f"{T}/model-versions/get", params=_version(b))),
            _ok(admin.get(f"{T}/registered-models/permissions/get", params=_model_grant(b))),
        ]


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def _grant(side: Side, user: str) -> dict[str, str]:
    return {"experiment_id": side.experiment_id, "username": user}


def _model_grant(side: Side, user: str = "carol") -> dict[str, str]:
    return {"name": side.registered_model, "username": user}


def _version(side: Side) -> dict[str, str]:
    return {"name": side.registered_model, "version": "1"}


def _side(client: As, name: str) -> Side:
    eid = _ok(client.post(f"{T}/experiments/create", json={"name": name}))["experiment_id"]
    run = _ok(client.post(f"{T}/runs/create", json={"experiment_id": eid, "run_name": name}))
    run_id = run["run"]["info"]["run_id"]
    batch = {
        "run_id": run_id,
        "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}],
        "tags": [{"key": "t", "value": name}],
    }
    _ok(client.post(f"{T}/runs/log-batch", json=batch))
    tag = {"experiment_id": eid, "key": "t", "value": name}
    _ok(client.post(f"{T}/experiments/set-experiment-tag", json=tag))
    body = {"experiment_id": eid, "name": name, "tags": [{"key": "t", "value": name}]}
    model_id = _ok(client.post(f"{T}/logged-models", json=body))["model"]["info"]["model_id"]
    run_dir = f"{eid}/{run_id}/artifacts"
    model_dir = f"{eid}/models/{model_id}/artifacts"
    for directory in (run_dir, f"{run_dir}/model", model_dir):  # run_dir/model: version 1's
        put = client.put(f"{PROXY}/artifacts/{directory}/f.txt", content=name.encode())
        assert put.status_code == 200, put.text
    tags = [{"key": "t", "value": name}]
    _ok(client.post(f"{T}/registered-models/create", json={"name": name, "tags": tags}))
    version = {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id, "tags": tags}
    _ok(client.post(f"{T}/model-versions/create", json=version))
    alias = {"name": name, "alias": "a", "version": "1"}
    _ok(client.post(f"{T}/registered-models/alias", json=alias))
    return Side(eid, name, run_id, model_id, run_dir, model_dir, name)


@pytest.fixture(params=BACKENDS)
def make_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh world for each route (some routes delete what they act on)."""
    with ExitStack() as stack:
        uri = stack.enter_context(backend_uri(request.param, tmp_path))
        for name in ("admin", "bob", "carol"):
            flags = ["--admin"] if name == "admin" else []
            ok(cli(uri, "users", "create", name, *flags, password=PASSWORDS[name]))
        settings = Settings(
            backend_store_uri=uri,
            artifacts_destination=str(tmp_path / "artifacts"),
            auth=True,
            auth_default_permission="NO_PERMISSIONS",
            allowed_hosts="testserver",
            metrics=False,
        )
        client = stack.enter_context(TestClient(create_app(settings)))  # one app, one lifespan
        admin, bob = As(client, "admin"), As(client, "bob")
        counter = itertools.count()

        def make() -> World:
            n = next(counter)
            a = _side(bob, f"bob-{n}")
            b = _side(admin, f"{SECRET}-{n}")
            for side in (a, b):  # a grant to read, update and delete on either side
                ok(cli(uri, "permissions", "grant", side.experiment_id, "carol", "READ"))
                model = side.registered_model
                ok(cli(uri, "permissions", "grant", model, "carol", "READ", "--registered-model"))
            return World(admin, bob, a, b)

        yield make


# --- where a request can name each kind of resource ---------------------------------------

Spelling = tuple[str, str]  # (place: url | query | body, the key it is spelled with)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _spellings(on: resources.Resource[Any]) -> list[Spelling]:
    if isinstance(on, resources.Run):
        names = ["run_id", "run_uuid"]
    elif isinstance(on, resources.Model):
        names = ["model_id"]
    elif isinstance(on, resources.Artifact | resources.MultipartFile):
        names = ["path"]
    elif isinstance(on, resources.RegisteredModel | resources.NewModelVersion):
        names = ["name"]
    elif isinstance(
        on,
        resources.Experiment | resources.Experiments | resources.Runs | resources.ExperimentName,
    ):
        names = [on.field]
    else:
        raise AssertionError(f"the walk does not know {type(on).__name__}: teach it")
    keys = sorted({k for name in names for k in (name, _camel(name))})
    # a query string may repeat a key: the second copy is a place of its own
    out: list[Spelling] = [("query", key) for key in keys] + [("query-again", keys[0])]
    out += [("body", key) for key in keys]
    if names[0] in ("model_id", "path"):
        out.append(("url", names[0]))
    return out


def _value(on: resources.Resource[Any], side: Side, place: str) -> Any:
    if isinstance(on, resources.Experiment):
        return side.experiment_id
    if isinstance(on, resources.Experiments):
        return [side.experiment_id]
    if isinstance(on, resources.ExperimentName):
        return side.name
    if isinstance(on, resources.Run):
        return side.run_id
    if isinstance(on, resources.Runs):
        return [side.run_id]
    if isinstance(on, resources.Model):
        return side.model_id
    if isinstance(on, resources.RegisteredModel | resources.NewModelVersion):
        return side.registered_model
    if isinstance(on, resources.MultipartFile) and place == "url":
        return side.run_dir  # the URL names the directory, the body the file
    return f"{side.run_dir}/f.txt"


# Fields each route needs besides its resource, so that some request can succeed.
def _extra(row: routes.Endpoint, n: int, w: World) -> dict[str, Any]:
    path = row.path
    one = {"version": "1"}
    by_suffix: dict[str, dict[str, Any]] = {
        "/experiments/update": {"new_name": f"renamed-{n}"},
        "/experiments/set-experiment-tag": {"key": "k", "value": "v"},
        "/experiments/delete-experiment-tag": {"key": "t"},
        "/runs/log-metric": {"key": "k", "value": 2.0, "timestamp": 2},
        "/runs/log-parameter": {"key": f"p{n}", "value": "v"},
        "/runs/set-tag": {"key": "k", "value": "v"},
        "/runs/delete-tag": {"key": "t"},
        "/runs/log-batch": {"metrics": [{"key": "k", "value": 1, "timestamp": 1}]},
        "/metrics/get-history": {"metric_key": "m"},
        "/metrics/get-history-bulk-interval": {"metric_key": "m"},
        "/metrics/get-history-bulk": {"metric_key": "m"},
        "/logged-models": {"name": f"model-{n}"},
        "/logged-models/{model_id}/tags": {"tags": [{"key": "k", "value": "v"}]},
        "/logged-models/{model_id}/params": {"params": [{"key": "k", "value": "v"}]},
        "/logged-models/{model_id}/artifacts/files": {"artifact_file_path": "f.txt"},
        "/get-artifact": {"path": "f.txt"},
        "/experiments/permissions/create": {"username": "carol", "permission": "EDIT"},
        "/experiments/permissions/get": {"username": "carol"},
        "/experiments/permissions/update": {"username": "carol", "permission": "MANAGE"},
        "/experiments/permissions/delete": {"username": "carol"},
        "/mpu/complete/{path:path}": {"upload_id": "0" * 32, "parts": []},
        "/mpu/abort/{path:path}": {"upload_id": "0" * 32},
        "/registered-models/rename": {"new_name": f"renamed-{n}"},
        "/registered-models/update": {"description": "changed"},
        "/registered-models/set-tag": {"key": "k", "value": "v"},
        "/registered-models/delete-tag": {"key": "t"},
        "/registered-models/permissions/create": {"username": "carol", "permission": "EDIT"},
        "/registered-models/permissions/get": {"username": "carol"},
        "/registered-models/permissions/update": {"username": "carol", "permission": "MANAGE"},
        "/registered-models/permissions/delete": {"username": "carol"},
        # bob's own run: a version from it may go into his model, never into B's
        "/model-versions/create": {"source": f"runs:/{w.a.run_id}/model", "run_id": w.a.run_id},
        "/model-versions/get": one,
        "/model-versions/update": {**one, "description": "changed"},
        "/model-versions/transition-stage": {**one, "stage": "Staging"},
        "/model-versions/delete": one,
        "/model-versions/get-download-uri": one,
        "/model-versions/set-tag": {**one, "key": "k", "value": "v"},
        "/model-versions/delete-tag": {**one, "key": "t"},
    }
    if row.method == "PATCH" and path.endswith("/logged-models/{model_id}"):
        return {"status": "LOGGED_MODEL_READY"}
    if path.endswith("/model-versions/get-artifact"):  # before /get-artifact's
        return {**one, "path": "f.txt"}
    if path.endswith("/registered-models/alias"):  # set it to version 1, get or delete it
        return {"alias": "b", "version": "1"} if row.method == "POST" else {"alias": "a"}
    for suffix, fields in by_suffix.items():
        if path.endswith(suffix):
            return dict(fields)
    return {}


@dataclass
class Request:
    method: str
    url: str
    params: list[tuple[str, Any]]
    body: dict[str, Any] | None
    content: bytes | None = None

    def send(self, client: As) -> Any:
        kwargs: dict[str, Any] = {"params": self.params}
        if self.content is not None:
            kwargs["content"] = self.content
        elif self.body is not None:
            kwargs["json"] = self.body
        return client.request(self.method, self.url, **kwargs)


def _requests(row: routes.Endpoint, mount_path: str, w: World) -> Iterator[Request]:
    """For every two places the request can name the resource in: A's in one, B's in the
    other, both ways round."""
    on = row.rule.on
    raw = row.body is routes.Body.RAW
    takes_body = row.method != "GET" and not raw  # MLflow reads DELETE's message from the body
    usable = [
        (place, key)
        for place, key in _spellings(on)
        if (place != "body" or takes_body) and (place != "url" or "{" + key in mount_path)
    ]
    for n, (first, second) in enumerate(itertools.permutations(usable, 2)):
        for mine, theirs in ((w.a, w.b), (w.b, w.a)):
            params: list[tuple[str, Any]] = []
            body: dict[str, Any] = _extra(row, n, w) if takes_body else {}
            if not takes_body:
                params += _extra(row, n, w).items()
            url = mount_path
            for (place, key), side in ((first, mine), (second, theirs)):
                value = _value(on, side, place)
                if place == "url":
                    url = url.replace("{path:path}" if key == "path" else "{" + key + "}", value)
                elif place == "body":
                    body[key] = value
                else:
                    params += [(key, v) for v in (value if isinstance(value, list) else [value])]
            url = (
                url.replace("{tag_key}", "t")
                .replace("{number:int}", "1")
                .replace("{upload_id}", "0" * 32)
                .replace("{path:path}", "")  # not named in the URL: only elsewhere
                .replace("{model_id}", "m-none")
            )
            content = b"written by bob" if raw and row.method == "PUT" else None
            yield Request(row.method, url, params, body if takes_body else None, content)


def _rows() -> list[tuple[routes.Endpoint, str]]:
    out = []
    for row in routes.endpoints(auth=True):
        if row.rule.on.access is not Access.TARGET:
            continue
        out += [(row, path) for path in row.paths]
    return out


@pytest.mark.parametrize(
    ("row", "mount_path"), _rows(), ids=[f"{r.method} {p}" for r, p in _rows()]
)
def test_the_check_and_the_handler_see_the_same_resource(
    make_world: Any, row: routes.Endpoint, mount_path: str
) -> None:
    w: World = make_world()
    if row.path.endswith("/experiments/restore"):  # only a deleted experiment can be restored
        for side, who in ((w.a, w.bob), (w.b, w.admin)):
            _ok(who.post(f"{T}/experiments/delete", json={"experiment_id": side.experiment_id}))
    if row.path.endswith("/experiments/permissions/create"):  # carol: one grant on A
        _ok(
            w.admin.request(
                "DELETE", f"{T}/experiments/permissions/delete", json=_grant(w.a, "carol")
            )
        )
    if row.path.endswith("/registered-models/permissions/create"):
        delete = f"{T}/registered-models/permissions/delete"
        _ok(w.admin.request("DELETE", delete, json=_model_grant(w.a)))
    before = w.snapshot_b()
    sent = list(_requests(row, mount_path, w))
    assert len(sent) >= 2, "the walk found no two ways to name this route's resource"
    succeeded = 0
    for req in sent:
        response = req.send(w.bob)
        assert response.status_code < 500, (req, response.text)
        if response.status_code < 300:
            succeeded += 1
            for marker in (SECRET, w.b.run_id, w.b.model_id):
                assert marker not in response.text, (req, response.text[:500])
    assert w.snapshot_b() == before, f"{len(sent)} requests through {mount_path} changed B"
    if "/mpu/" not in row.path or "/mpu/create/" in row.path:  # the others need a real upload
        assert succeeded, f"bob could not act on his own experiment through {mount_path}"
