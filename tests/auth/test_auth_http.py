"""A live ``runyard server --auth``: 401 and 403 on every route family in MLflow's error JSON,
public routes, the permission endpoints, and experiments/search filtering."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth.conftest import PASSWORDS, AuthServer, auth_server, cli, ok

API = "/api/2.0/mlflow"
AJAX = "/ajax-api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts"


@dataclass
class World:
    """Experiment A (alice's; bob may read it) with a run, a metric, an artifact, a model."""

    srv: AuthServer
    experiment_id: str
    run_id: str
    model_id: str
    artifact_dir: str  # <experiment_id>/<run_id>/artifacts under the proxy


def _json(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(scope="module")
def world(srv: AuthServer) -> Iterator[World]:
    with srv.client("alice") as alice:
        eid = _json(alice.post(f"{API}/experiments/create", json={"name": "A"}))["experiment_id"]
        run = _json(alice.post(f"{API}/runs/create", json={"experiment_id": eid}))["run"]
        run_id = run["info"]["run_id"]
        _json(
            alice.post(
                f"{API}/runs/log-metric",
                json={"run_id": run_id, "key": "m", "value": 1.5, "timestamp": 1, "step": 0},
            )
        )
        artifact_dir = f"{eid}/{run_id}/artifacts"
        upload = alice.put(f"{ARTIFACTS}/artifacts/{artifact_dir}/f.txt", content=b"hello")
        assert upload.status_code == 200, upload.text
        body = {"experiment_id": eid, "name": "model-a"}
        model_id = _json(alice.post(f"{API}/logged-models", json=body))["model"]["info"]["model_id"]
    ok(cli(srv.uri, "permissions", "grant", eid, "bob", "READ"))
    yield World(srv, eid, run_id, model_id, artifact_dir)


# (name, method, path, request arguments): what READ allows, and what needs EDIT or more.
Call = tuple[str, str, str, dict[str, Any]]


def reads(w: World) -> list[Call]:
    run, eid, model = w.run_id, w.experiment_id, w.model_id
    return [
        ("experiment", "GET", f"{API}/experiments/get", {"params": {"experiment_id": eid}}),
        ("by name", "GET", f"{API}/experiments/get-by-name", {"params": {"experiment_name": "A"}}),
        ("run", "GET", f"{API}/runs/get", {"params": {"run_id": run}}),
        ("runs search", "POST", f"{API}/runs/search", {"json": {"experiment_ids": [eid]}}),
        (
            "history",
            "GET",
            f"{API}/metrics/get-history",
            {"params": {"run_id": run, "metric_key": "m"}},
        ),
        (
            "ajax bulk",
            "GET",
            f"{AJAX}/metrics/get-history-bulk-interval",
            {"params": {"run_ids": run, "metric_key": "m"}},
        ),
        ("ajax run", "GET", f"{AJAX}/runs/get", {"params": {"run_id": run}}),
        ("list", "GET", f"{API}/artifacts/list", {"params": {"run_id": run}}),
        ("get-artifact", "GET", "/get-artifact", {"params": {"run_uuid": run, "path": "f.txt"}}),
        ("proxy get", "GET", f"{ARTIFACTS}/artifacts/{w.artifact_dir}/f.txt", {}),
        ("proxy list", "GET", f"{ARTIFACTS}/artifacts", {"params": {"path": w.artifact_dir}}),
        ("model", "GET", f"{API}/logged-models/{model}", {}),
        (
            "models search",
            "POST",
            f"{API}/logged-models/search",
            {"json": {"experiment_ids": [eid]}},
        ),
        ("model files", "GET", f"{API}/logged-models/{model}/artifacts/directories", {}),
    ]


def writes(w: World) -> list[Call]:
    run, eid, model = w.run_id, w.experiment_id, w.model_id
    metric = {"run_id": run, "key": "m", "value": 2.0, "timestamp": 2, "step": 1}
    return [
        ("run", "POST", f"{API}/runs/create", {"json": {"experiment_id": eid}}),
        ("metric", "POST", f"{API}/runs/log-metric", {"json": metric}),
        ("batch", "POST", f"{API}/runs/log-batch", {"json": {"run_id": run, "metrics": [metric]}}),
        (
            "ajax tag",
            "POST",
            f"{AJAX}/runs/set-tag",
            {"json": {"run_id": run, "key": "k", "value": "v"}},
        ),
        (
            "experiment tag",
            "POST",
            f"{API}/experiments/set-experiment-tag",
            {"json": {"experiment_id": eid, "key": "k", "value": "v"}},
        ),
        ("delete run", "POST", f"{API}/runs/delete", {"json": {"run_id": run}}),
        ("proxy put", "PUT", f"{ARTIFACTS}/artifacts/{w.artifact_dir}/g.txt", {"content": b"x"}),
        (
            "multipart",
            "POST",
            f"{ARTIFACTS}/mpu/create/{w.artifact_dir}",
            {"json": {"path": "big.bin", "num_parts": 1}},
        ),
        (
            "multipart part",
            "PUT",
            f"{ARTIFACTS}/mpu/part/some-upload/1",
            {"params": {"path": f"{w.artifact_dir}/big.bin"}, "content": b"x"},
        ),
        ("proxy delete", "DELETE", f"{ARTIFACTS}/artifacts/{w.artifact_dir}/f.txt", {}),
        (
            "model tags",
            "PATCH",
            f"{API}/logged-models/{model}/tags",
            {"json": {"tags": [{"key": "k", "value": "v"}]}},
        ),
        (
            "new model",
            "POST",
            f"{API}/logged-models",
            {"json": {"experiment_id": eid, "name": "b"}},
        ),
        (
            "grant",
            "POST",
            f"{API}/experiments/permissions/create",
            {"json": {"experiment_id": eid, "username": "carol", "permission": "READ"}},
        ),
    ]


def _assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, (response.request.url, response.text)
    body = response.json()
    assert body["error_code"] == code
    assert body["message"]


def _send(client: httpx.Client, call: Call) -> httpx.Response:
    _, method, path, kwargs = call
    return client.request(method, path, **kwargs)


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_no_or_bad_credentials_are_401_on_every_route_family(world: World) -> None:
    srv = world.srv
    ok(cli(srv.uri, "tokens", "create", "alice"))  # a live token of someone else's exists
    revoked = cli(srv.uri, "tokens", "create", "alice", "--name", "old").stdout.strip()
    token_id = ok(cli(srv.uri, "tokens", "list", "alice")).splitlines()[-1].split("\t")[0]
    with srv.client(token=revoked) as before:
        assert (
            before.get(f"{API}/experiments/get", params={"experiment_id": "0"}).status_code != 401
        )
    ok(cli(srv.uri, "tokens", "revoke", token_id))
    credentials: dict[str, dict[str, str]] = {
        "none": {},
        "wrong password": _basic("alice", "not-her-password"),
        "unknown user": _basic("mallory", "whatever-password"),
        "revoked token": {"Authorization": f"Bearer {revoked}"},
        "revoked token as password": _basic("alice", revoked),
        "garbage bearer": {"Authorization": "Bearer ryd_nope"},
        "other scheme": {"Authorization": "Digest abc"},
    }
    with httpx.Client(base_url=srv.url, timeout=60) as anonymous:
        for call in reads(world) + writes(world):
            for why, headers in credentials.items():
                response = anonymous.request(call[1], call[2], headers=headers, **call[3])
                _assert_error(response, 401, "UNAUTHENTICATED")
                assert response.headers["WWW-Authenticate"] == 'Basic realm="runyard"', why


def test_public_routes_need_no_credentials(srv: AuthServer) -> None:
    with httpx.Client(base_url=srv.url, timeout=60) as anonymous:
        assert anonymous.get("/health").text == "OK"
        assert anonymous.get("/version").status_code == 200
        info = _json(anonymous.get("/api/3.0/mlflow/server-info"))
        assert info["artifact_serving_enabled"] is True


def test_read_only_user_can_read_but_not_write(world: World) -> None:
    with world.srv.client("bob") as bob:
        for name, *_ in reads(world):
            call = next(c for c in reads(world) if c[0] == name)
            assert _send(bob, call).status_code == 200, name
        for call in writes(world):
            _assert_error(_send(bob, call), 403, "PERMISSION_DENIED")


def test_user_without_permission_can_do_nothing(world: World) -> None:
    with world.srv.client("carol") as carol:
        for call in reads(world) + writes(world):
            _assert_error(_send(carol, call), 403, "PERMISSION_DENIED")


def test_403_messages_say_who_needs_what_where(world: World) -> None:
    with world.srv.client("bob") as bob:
        metric = writes(world)[1]
        body = _send(bob, metric).json()
    assert body == {
        "error_code": "PERMISSION_DENIED",
        "message": f"Permission denied: user 'bob' needs EDIT on experiment {world.experiment_id}.",
        "sqlstate": "KAM00",
        "error_class": "PERMISSION_DENIED",
    }


def test_the_owner_may_write_and_tokens_work_too(world: World) -> None:
    token = cli(world.srv.uri, "tokens", "create", "alice").stdout.strip()
    with world.srv.client("alice") as alice, world.srv.client(token=token) as by_token:
        for client in (alice, by_token):
            metric = writes(world)[1]
            assert _send(client, metric).status_code == 200
        with httpx.Client(base_url=world.srv.url, headers=_basic("alice", token)) as as_password:
            assert _send(as_password, reads(world)[2]).status_code == 200
        with httpx.Client(base_url=world.srv.url, headers=_basic("bob", token)) as wrong_user:
            _assert_error(_send(wrong_user, reads(world)[2]), 401, "UNAUTHENTICATED")


def test_missing_runs_are_404_not_403(world: World) -> None:
    with world.srv.client("carol") as carol:
        response = carol.get(f"{API}/runs/get", params={"run_id": "0" * 32})
    _assert_error(response, 404, "RESOURCE_DOES_NOT_EXIST")


def test_search_across_experiments_needs_read_on_each(world: World, srv: AuthServer) -> None:
    with srv.client("admin") as admin:
        other = _json(admin.post(f"{API}/experiments/create", json={"name": "other"}))
    with srv.client("bob") as bob:
        both = {"experiment_ids": [world.experiment_id, other["experiment_id"]]}
        _assert_error(bob.post(f"{API}/runs/search", json=both), 403, "PERMISSION_DENIED")
        found = _json(
            bob.post(f"{API}/runs/search", json={"experiment_ids": [world.experiment_id]})
        )
    assert [r["info"]["run_id"] for r in found["runs"]] == [world.run_id]


def test_artifact_root_is_for_admins(world: World) -> None:
    with world.srv.client("alice") as alice, world.srv.client("admin") as admin:
        _assert_error(alice.get(f"{ARTIFACTS}/artifacts"), 403, "PERMISSION_DENIED")
        _assert_error(
            alice.put(f"{ARTIFACTS}/artifacts/loose.txt", content=b"x"), 403, "PERMISSION_DENIED"
        )
        names = [f["path"] for f in _json(admin.get(f"{ARTIFACTS}/artifacts"))["files"]]
    assert world.experiment_id in names


def test_current_user(world: World) -> None:
    with world.srv.client("bob") as bob:
        body = _json(bob.get(f"{API}/users/current"))
    assert body["user"]["username"] == "bob" and body["user"]["is_admin"] is False
    assert body["is_basic_auth"] is True


def test_permission_endpoints(world: World) -> None:
    eid = world.experiment_id
    key = {"experiment_id": eid, "username": "carol"}
    with world.srv.client("alice") as alice, world.srv.client("carol") as carol:
        mine = _json(
            alice.get(f"{API}/experiments/permissions/get", params={**key, "username": "alice"})
        )
        assert mine["experiment_permission"]["permission"] == "MANAGE"  # the creator's
        created = _json(
            alice.post(f"{API}/experiments/permissions/create", json={**key, "permission": "READ"})
        )
        assert created["experiment_permission"]["experiment_id"] == eid
        assert created["experiment_permission"]["permission"] == "READ"
        again = alice.post(
            f"{API}/experiments/permissions/create", json={**key, "permission": "READ"}
        )
        _assert_error(again, 400, "RESOURCE_ALREADY_EXISTS")
        assert carol.get(f"{API}/runs/get", params={"run_id": world.run_id}).status_code == 200
        _assert_error(writes(world) and _send(carol, writes(world)[1]), 403, "PERMISSION_DENIED")

        _json(
            alice.patch(f"{API}/experiments/permissions/update", json={**key, "permission": "EDIT"})
        )
        assert _send(carol, writes(world)[1]).status_code == 200
        bad = alice.patch(
            f"{API}/experiments/permissions/update", json={**key, "permission": "OWNER"}
        )
        _assert_error(bad, 400, "INVALID_PARAMETER_VALUE")
        # carol may edit but not manage: she cannot hand out permissions
        grant = carol.post(
            f"{API}/experiments/permissions/create",
            json={"experiment_id": eid, "username": "bob", "permission": "EDIT"},
        )
        _assert_error(grant, 403, "PERMISSION_DENIED")

        _json(alice.request("DELETE", f"{API}/experiments/permissions/delete", json=key))
        _assert_error(
            carol.get(f"{API}/runs/get", params={"run_id": world.run_id}), 403, "PERMISSION_DENIED"
        )
        gone = alice.get(f"{API}/experiments/permissions/get", params=key)
        _assert_error(gone, 404, "RESOURCE_DOES_NOT_EXIST")


def _search(client: httpx.Client, max_results: int) -> list[str]:
    """Every experiment a user's search returns, page by page."""
    names: list[str] = []
    token = None
    while True:
        body = {"max_results": max_results, "order_by": ["name ASC"]}
        if token:
            body["page_token"] = token
        page = _json(client.post(f"{API}/experiments/search", json=body))
        names += [e["name"] for e in page.get("experiments", [])]
        assert len(page.get("experiments", [])) <= max_results
        token = page.get("next_page_token")
        if not token:
            return names


def test_experiment_search_returns_only_readable_experiments(world: World) -> None:
    srv = world.srv
    with srv.client("admin") as admin:
        for i in range(6):
            eid = _json(admin.post(f"{API}/experiments/create", json={"name": f"s{i}"}))[
                "experiment_id"
            ]
            if i in (1, 4):
                ok(cli(srv.uri, "permissions", "grant", eid, "bob", "READ"))
        everything = _search(admin, 100)
    assert {"Default", "A", "s0", "s1", "s2", "s3", "s4", "s5"} <= set(everything)
    with srv.client("bob") as bob, srv.client("carol") as carol:
        assert _search(bob, 100) == ["A", "s1", "s4"]
        assert _search(bob, 1) == ["A", "s1", "s4"]  # pages filled from further rows
        assert _search(bob, 2) == ["A", "s1", "s4"]
        readable_by_carol = _search(carol, 3)
    assert "A" not in readable_by_carol and "s1" not in readable_by_carol


def test_server_starts_without_an_admin_and_says_how_to_make_one(tmp_path: Path) -> None:
    from tests.servers import runyard_server

    server = runyard_server(f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path, "--auth")
    try:
        with httpx.Client(base_url=server.url) as anonymous:
            _assert_error(
                anonymous.get(f"{API}/experiments/get?experiment_id=0"), 401, "UNAUTHENTICATED"
            )
    finally:
        server.stop()
    assert "runyard users create NAME --admin" in server.log.read_text()


def test_default_permission_applies_without_a_grant(tmp_path: Path) -> None:
    with auth_server("sqlite", tmp_path, default_permission="READ") as srv:
        with srv.client("carol") as carol:
            assert _json(carol.get(f"{API}/experiments/get", params={"experiment_id": "0"}))
            metric = {"experiment_id": "0"}
            _assert_error(carol.post(f"{API}/runs/create", json=metric), 403, "PERMISSION_DENIED")
        assert PASSWORDS["carol"]


def test_registered_models_without_a_grant_get_the_default_permission(tmp_path: Path) -> None:
    """With default READ, every user reads models they hold no grant on, and may create
    models (which they then manage), but not change or delete someone else's; a grant below
    READ hides a model from its get and search (tests/auth/test_registry_permissions.py has
    the rest)."""
    rm = f"{API}/registered-models"
    with (
        auth_server("sqlite", tmp_path, default_permission="READ") as srv,
        srv.client("admin") as admin,
        srv.client("carol") as carol,
    ):
        made = _json(admin.post(f"{rm}/create", json={"name": "shared"}))
        assert made["registered_model"]["name"] == "shared"
        got = _json(carol.get(f"{rm}/get", params={"name": "shared"}))
        assert got["registered_model"]["name"] == "shared"
        found = _json(carol.get(f"{rm}/search", params={"filter": "name = 'shared'"}))
        assert [m["name"] for m in found["registered_models"]] == ["shared"]
        mine = _json(carol.post(f"{rm}/create", json={"name": "mine"}))
        assert mine["registered_model"]["name"] == "mine"
        assert _json(carol.patch(f"{rm}/update", json={"name": "mine", "description": "x"}))
        for method, path, body in (
            ("PATCH", f"{rm}/update", {"name": "shared", "description": "x"}),
            ("DELETE", f"{rm}/delete", {"name": "shared"}),
        ):
            refused = carol.request(method, path, json=body)
            _assert_error(refused, 403, "PERMISSION_DENIED")
            assert "on registered model 'shared'" in refused.json()["message"]
        missing = carol.get(f"{rm}/get", params={"name": "nope"})
        _assert_error(missing, 404, "RESOURCE_DOES_NOT_EXIST")
        hide = {"name": "shared", "username": "carol", "permission": "NO_PERMISSIONS"}
        _json(admin.post(f"{rm}/permissions/create", json=hide))
        hidden = carol.get(f"{rm}/get", params={"name": "shared"})
        _assert_error(hidden, 403, "PERMISSION_DENIED")
        found = _json(carol.get(f"{rm}/search", params={"filter": "name LIKE '%'"}))
        assert [m["name"] for m in found["registered_models"]] == ["mine"]
        assert _json(admin.get(f"{rm}/get", params={"name": "shared"}))
