"""Registered model (and prompt) permissions on a live ``runyard server --auth``, SQLite and
PostgreSQL, default NO_PERMISSIONS: READ / EDIT / MANAGE per model, the creator's MANAGE,
grants that follow a rename and go with a delete, 401 on every registry route, searches that
show only what the caller may read with full pages, and the official client registering and
loading a model with Basic credentials."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LinearRegression

from runyard.api import routes
from runyard.domain.entities import PROMPT_TAG
from runyard.domain.permissions import ReadableModels
from runyard.services import auth as auth_service
from runyard.services import registry as registry_service
from tests.auth.conftest import PASSWORDS, AuthServer, cli, ok
from tests.integration.livesrv import CLIENT_ENV, environment

API = "/api/2.0/mlflow"
RM = f"{API}/registered-models"
MV = f"{API}/model-versions"
PERMS = f"{RM}/permissions"


def _json(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _error(response: httpx.Response, status: int) -> dict[str, str]:
    """MLflow's error JSON: its code and message (the other fields aside)."""
    body = _json(response, status)
    return {"error_code": body["error_code"], "message": body["message"]}


def _denied(response: httpx.Response, user: str, needs: str, name: str) -> None:
    """A 403 in MLflow's error JSON, naming who needs what on which model."""
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error_code"] == "PERMISSION_DENIED"
    assert body["message"] == (
        f"Permission denied: user '{user}' needs {needs} on registered model '{name}'."
    )


@pytest.fixture(scope="module")
def run_of_alice(srv: AuthServer) -> str:
    """A run in alice's experiment (bob and carol may not read it), for version sources."""
    with srv.client("alice") as alice:
        body = {"name": "registry-sources"}
        eid = _json(alice.post(f"{API}/experiments/create", json=body))["experiment_id"]
        run = _json(alice.post(f"{API}/runs/create", json={"experiment_id": eid}))
    return str(run["run"]["info"]["run_id"])


def _new_model(client: httpx.Client, name: str, run_id: str | None = None) -> None:
    _json(client.post(f"{RM}/create", json={"name": name}))
    if run_id is not None:
        version = {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id}
        _json(client.post(f"{MV}/create", json=version))


def _grant(client: httpx.Client, name: str, user: str, level: str) -> httpx.Response:
    body = {"name": name, "username": user, "permission": level}
    return client.post(f"{PERMS}/create", json=body)


def _held(srv: AuthServer, name: str, user: str) -> str | None:
    """``user``'s grant on model ``name``, read by the administrator; None without one."""
    with srv.client("admin") as admin:
        found = admin.get(f"{PERMS}/get", params={"name": name, "username": user})
    if found.status_code == 404:
        assert found.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        return None
    grant = _json(found)["registered_model_permission"]
    assert grant["name"] == name
    return str(grant["permission"])


def test_read_edit_manage(srv: AuthServer, run_of_alice: str) -> None:
    name = "perm-levels"
    with srv.client("alice") as alice, srv.client("bob") as bob:
        _new_model(alice, name, run_of_alice)
        one = {"name": name, "version": "1"}
        tag = {"name": name, "key": "k", "value": "v"}

        # no grant, default NO_PERMISSIONS: not even a read
        _denied(bob.get(f"{RM}/get", params={"name": name}), "bob", "READ", name)
        _denied(bob.get(f"{MV}/get", params=one), "bob", "READ", name)

        granted = _json(_grant(alice, name, "bob", "READ"))  # alice manages what she made
        user_id = granted["registered_model_permission"]["user_id"]
        assert granted == {
            "registered_model_permission": {"name": name, "user_id": user_id, "permission": "READ"}
        }
        assert (
            _json(bob.get(f"{RM}/get", params={"name": name}))["registered_model"]["name"] == name
        )
        assert _json(bob.get(f"{MV}/get", params=one))["model_version"]["version"] == "1"
        latest = _json(bob.post(f"{RM}/get-latest-versions", json={"name": name}))
        assert [v["version"] for v in latest["model_versions"]] == ["1"]
        uri = _json(bob.get(f"{MV}/get-download-uri", params=one))["artifact_uri"]
        assert run_of_alice in uri
        update = {"name": name, "description": "by bob"}
        _denied(bob.patch(f"{RM}/update", json=update), "bob", "EDIT", name)
        _denied(bob.post(f"{RM}/set-tag", json=tag), "bob", "EDIT", name)
        _denied(
            bob.post(f"{MV}/set-tag", json={**one, "key": "k", "value": "v"}), "bob", "EDIT", name
        )

        change = {"name": name, "username": "bob", "permission": "EDIT"}
        assert _json(alice.patch(f"{PERMS}/update", json=change)) == {}
        assert _json(bob.post(f"{RM}/set-tag", json=tag)) == {}
        assert _json(bob.patch(f"{RM}/update", json=update))["registered_model"]["description"] == (
            "by bob"
        )
        alias = {"name": name, "alias": "champ", "version": "1"}
        assert _json(bob.post(f"{RM}/alias", json=alias)) == {}
        # a version needs READ on what it is made from: not alice's run, but this model's
        # own version 1 (a models:/ source) is fine
        source = {"name": name, "source": f"runs:/{run_of_alice}/model", "run_id": run_of_alice}
        refused = bob.post(f"{MV}/create", json=source)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error_code"] == "PERMISSION_DENIED"
        copied = _json(bob.post(f"{MV}/create", json={"name": name, "source": f"models:/{name}/1"}))
        assert copied["model_version"]["version"] == "2"
        _denied(bob.request("DELETE", f"{MV}/delete", json=one), "bob", "MANAGE", name)
        _denied(bob.request("DELETE", f"{RM}/delete", json={"name": name}), "bob", "MANAGE", name)
        _denied(bob.request("DELETE", f"{RM}/alias", json=alias), "bob", "MANAGE", name)
        _denied(_grant(bob, name, "carol", "READ"), "bob", "MANAGE", name)

        assert _json(alice.patch(f"{PERMS}/update", json={**change, "permission": "MANAGE"})) == {}
        assert (
            _json(_grant(bob, name, "carol", "READ"))["registered_model_permission"]["permission"]
            == "READ"
        )
        again = _grant(bob, name, "carol", "EDIT")
        assert _error(again, 400) == {
            "error_code": "RESOURCE_ALREADY_EXISTS",
            "message": f"Registered model permission with name={name} and username=carol "
            "already exists.",
        }
        assert _json(bob.request("DELETE", f"{MV}/delete", json=one)) == {}
        assert _json(bob.request("DELETE", f"{RM}/delete", json={"name": name})) == {}
    # deleting the model took its grants along
    assert [_held(srv, name, user) for user in ("alice", "bob", "carol")] == [None, None, None]


def test_the_creator_manages_and_grants_follow_the_name(srv: AuthServer) -> None:
    old, new = "perm-made-by-carol", "perm-renamed-by-carol"
    with srv.client("carol") as carol, srv.client("bob") as bob, srv.client("alice") as alice:
        _new_model(carol, old)  # carol holds nothing anywhere: creating needs no grant
        assert _held(srv, old, "carol") == "MANAGE"
        _json(_grant(carol, old, "bob", "READ"))
        renamed = _json(carol.post(f"{RM}/rename", json={"name": old, "new_name": new}))
        assert renamed["registered_model"]["name"] == new
        assert (_held(srv, new, "carol"), _held(srv, new, "bob")) == ("MANAGE", "READ")
        assert (_held(srv, old, "carol"), _held(srv, old, "bob")) == (None, None)
        assert _json(bob.get(f"{RM}/get", params={"name": new}))["registered_model"]["name"] == new

        # the old name is free again: whoever takes it starts with only their own grant
        _new_model(alice, old)
        assert (_held(srv, old, "alice"), _held(srv, old, "carol")) == ("MANAGE", None)
        _denied(carol.get(f"{RM}/get", params={"name": old}), "carol", "READ", old)

        # a deleted model's grants do not pass to the next model of that name
        _json(carol.request("DELETE", f"{RM}/delete", json={"name": new}))
        _new_model(alice, new)
        _denied(bob.get(f"{RM}/get", params={"name": new}), "bob", "READ", new)
        _denied(carol.get(f"{RM}/get", params={"name": new}), "carol", "READ", new)

        # a name that is no model: the handler's 404, whoever asks
        missing = carol.get(f"{RM}/get", params={"name": "perm-nothing"})
        assert _json(missing, 404)["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_permission_endpoints(srv: AuthServer) -> None:
    name = "perm-endpoints"
    with srv.client("alice") as alice, srv.client("admin") as admin:
        _new_model(alice, name)
        query = {"name": name, "username": "bob"}
        absent = _error(alice.get(f"{PERMS}/get", params=query), 404)
        assert absent == {
            "error_code": "RESOURCE_DOES_NOT_EXIST",
            "message": f"Registered model permission with name={name} and username=bob not found",
        }
        bad = _grant(alice, name, "bob", "OWNER")
        assert _json(bad, 400)["error_code"] == "INVALID_PARAMETER_VALUE"
        nobody = _grant(alice, name, "nobody", "READ")
        assert _json(nobody, 404)["message"] == "User with username=nobody not found"
        no_model = _grant(admin, "perm-no-such-model", "bob", "READ")
        assert _json(no_model, 404)["message"] == (
            "Registered Model with name=perm-no-such-model not found"
        )
        _json(_grant(alice, name, "bob", "EDIT"))
        got = _json(alice.get(f"{PERMS}/get", params=query))["registered_model_permission"]
        assert (got["name"], got["permission"]) == (name, "EDIT")
        assert _json(alice.request("DELETE", f"{PERMS}/delete", json=query)) == {}
        gone = alice.request("DELETE", f"{PERMS}/delete", json=query)
        assert _json(gone, 404)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        ajax = alice.get("/ajax-api/2.0/mlflow/registered-models/permissions/get", params=query)
        assert _json(ajax, 404)["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def _registry_rows() -> list[tuple[str, str]]:
    return [
        (row.method, path)
        for row in routes.endpoints(auth=True)
        if "/registered-models" in row.path or "/model-versions" in row.path
        for path in row.paths
    ]


def test_every_registry_route_needs_credentials(srv: AuthServer) -> None:
    rows = _registry_rows()
    assert len(rows) == 53  # 26 rows under /api and /ajax-api, get-artifact at the root
    wrong = httpx.BasicAuth("bob", "not-his-password")
    with httpx.Client(base_url=srv.url, timeout=60) as anonymous:
        for method, path in rows:
            for auth in (None, wrong):
                kwargs: dict[str, Any] = {"params": {"name": "x"}}
                if method != "GET":
                    kwargs = {"json": {"name": "x"}}
                response = anonymous.request(method, path, auth=auth, **kwargs)
                assert response.status_code == 401, (method, path, response.text)
                assert response.headers["www-authenticate"] == 'Basic realm="runyard"'
                body = response.json()
                assert body["error_code"] == "UNAUTHENTICATED", (method, path)
                assert {"error_code", "message"} <= set(body)


def _names(page: dict[str, Any], key: str = "registered_models") -> list[str]:
    return [m["name"] for m in page.get(key, [])]


def test_search_shows_only_readable_models_in_full_pages(
    srv: AuthServer, run_of_alice: str
) -> None:
    names = [f"perm-search-{i}" for i in range(7)]
    readable = {names[i] for i in (1, 3, 4, 6)}
    with srv.client("alice") as alice, srv.client("carol") as carol:
        for name in names:
            _new_model(alice, name, run_of_alice)
        for name in sorted(readable):
            _json(_grant(alice, name, "carol", "READ"))
        _json(_grant(alice, names[5], "carol", "NO_PERMISSIONS"))  # a grant that reads nothing

        def pages(route: str, key: str, size: int) -> list[list[str]]:
            out, token = [], None
            while True:
                params: dict[str, Any] = {"filter": "name LIKE 'perm-search-%'"}
                params.update(max_results=size, order_by="name ASC")
                if token:
                    params["page_token"] = token
                page = _json(carol.get(route, params=params))
                out.append(_names(page, key))
                token = page.get("next_page_token")
                if not token:
                    return out

        in_order = sorted(readable)
        assert pages(f"{RM}/search", "registered_models", 2) == [in_order[:2], in_order[2:]]
        assert pages(f"{RM}/search", "registered_models", 3) == [in_order[:3], in_order[3:]]
        assert pages(f"{MV}/search", "model_versions", 3) == [in_order[:3], in_order[3:]]
        # the same search as alice (MANAGE on all seven) and as the administrator
        with srv.client("admin") as admin:
            for who in (alice, admin):
                params = {"filter": "name LIKE 'perm-search-%'", "max_results": 10}
                assert sorted(_names(_json(who.get(f"{RM}/search", params=params)))) == names

        # prompts are registered models: their search is filtered alike
        for i in range(3):
            tags = [{"key": PROMPT_TAG, "value": "true"}]
            _json(alice.post(f"{RM}/create", json={"name": f"perm-prompt-{i}", "tags": tags}))
        _json(_grant(alice, "perm-prompt-1", "carol", "READ"))
        prompts = {
            "filter": f"name LIKE 'perm-prompt-%' AND tags.`{PROMPT_TAG}` = 'true'",
            "max_results": 1,
        }
        page = _json(carol.get(f"{RM}/search", params=prompts))
        assert _names(page) == ["perm-prompt-1"]
        assert "next_page_token" not in page


def test_search_with_a_readable_default(srv: AuthServer, run_of_alice: str, tmp_path: Path) -> None:
    """Where the default lets users read, a grant below READ is what hides a model (the same
    SQL a server with default READ runs, through the service)."""
    names = [f"perm-default-{i}" for i in range(5)]
    with srv.client("alice") as alice:
        for name in names:
            _new_model(alice, name, run_of_alice)
        _json(_grant(alice, names[2], "carol", "NO_PERMISSIONS"))
        _json(_grant(alice, names[3], "carol", "READ"))
    ctx = auth_service.open_for_admin(srv.uri, str(tmp_path / "artifacts"))
    try:
        carol = next(u for u in auth_service.list_users(ctx) if u.username == "carol")
        seen: list[str] = []
        token = None
        for _ in range(5):
            page = registry_service.search_registered_models(
                ctx,
                filter_string="name LIKE 'perm-default-%'",
                max_results=2,
                order_by=["name"],
                page_token=token,
                readable=ReadableModels(carol.id, ungranted=True),
            )
            assert len(page.items) == 2 or page.next_page_token is None
            seen += [m.name for m in page.items]
            token = page.next_page_token
            if token is None:
                break
        assert seen == [names[0], names[1], names[3], names[4]]
        versions = registry_service.search_model_versions(
            ctx,
            filter_string="name LIKE 'perm-default-%'",
            max_results=10,
            order_by=[],
            page_token=None,
            readable=ReadableModels(carol.id, ungranted=False),
        )
        assert [v.name for v in versions.items] == [names[3]]
    finally:
        ctx.db.dispose()


def test_cli_grants_on_registered_models(srv: AuthServer) -> None:
    name = "perm-by-cli"
    with srv.client("alice") as alice, srv.client("bob") as bob:
        _new_model(alice, name)
        out = ok(cli(srv.uri, "permissions", "grant", name, "bob", "edit", "--registered-model"))
        assert out.strip() == f"bob has EDIT on registered model {name}."
        tag = {"name": name, "key": "k", "value": "v"}
        assert _json(bob.post(f"{RM}/set-tag", json=tag)) == {}
        listed = ok(cli(srv.uri, "permissions", "list", "--registered-model", name))
        assert listed.splitlines() == [
            f"registered-model:{name}\talice\tMANAGE",
            f"registered-model:{name}\tbob\tEDIT",
        ]
        assert ok(cli(srv.uri, "permissions", "list", "--registered-model", "nothing")) == ""
        missing = cli(
            srv.uri, "permissions", "grant", "nothing", "bob", "READ", "--registered-model"
        )
        assert missing.exit_code == 1
        assert "Registered Model with name=nothing not found" in missing.output
        revoked = ok(cli(srv.uri, "permissions", "revoke", name, "bob", "--registered-model"))
        assert revoked.strip() == f"Revoked bob's permission on registered model {name}."
        _denied(bob.post(f"{RM}/set-tag", json=tag), "bob", "EDIT", name)
        twice = cli(srv.uri, "permissions", "revoke", name, "bob", "--registered-model")
        assert twice.exit_code == 1 and "not found" in twice.output


# --- the official client ------------------------------------------------------------------------


@pytest.fixture
def basic_env(srv: AuthServer) -> Iterator[None]:
    env = {**CLIENT_ENV, "MLFLOW_TRACKING_USERNAME": "alice"}
    previous = mlflow.get_tracking_uri()
    with environment({**env, "MLFLOW_TRACKING_PASSWORD": PASSWORDS["alice"]}):
        mlflow.set_tracking_uri(srv.url)
        try:
            yield
        finally:
            mlflow.set_tracking_uri(previous)


def test_the_client_registers_and_loads_a_model(
    srv: AuthServer, basic_env: None, tmp_path: Path
) -> None:
    name = "perm-client-model"
    x = np.array([[1.0], [4.0]])
    model = LinearRegression().fit(np.arange(4.0).reshape(-1, 1), 3.0 * np.arange(4.0) - 1.0)
    experiment_id = mlflow.MlflowClient().create_experiment("perm-client")
    with mlflow.start_run(experiment_id=experiment_id):
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            pip_requirements=["scikit-learn", "numpy"],
            registered_model_name=name,
        )
    assert info.registered_model_version == "1"
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(name, "champion", "1")
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_allclose(np.asarray(loaded.predict(x)).ravel(), model.predict(x))
    assert _held(srv, name, "alice") == "MANAGE"  # the client's create made her the owner

    bob = {"MLFLOW_TRACKING_USERNAME": "bob", "MLFLOW_TRACKING_PASSWORD": PASSWORDS["bob"]}
    with environment(bob), pytest.raises(MlflowException) as denied:
        mlflow.MlflowClient().get_registered_model(name)
    assert denied.value.error_code == "PERMISSION_DENIED"
    assert f"needs READ on registered model '{name}'" in denied.value.message
