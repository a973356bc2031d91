"""The route table: every route of the app is a row with a rule, rules are what MLflow's auth
would require, and a row cannot be built without its rule and one handler."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.routing import Route

from runyard.api import middleware, resources, routes
from runyard.api.resources import Access
from runyard.api.routes import Endpoint, Rule
from runyard.app import create_app
from runyard.domain import artifact_paths
from runyard.domain.permissions import Permission
from runyard.errors import InvalidParameterValue
from runyard.settings import Settings


def _app_routes(auth: bool) -> list[Route]:
    app_routes = create_app(Settings(auth=auth)).routes
    assert all(isinstance(r, Route) for r in app_routes)
    return [r for r in app_routes if isinstance(r, Route)]


def _served(auth: bool) -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for route in _app_routes(auth)
        for method in route.methods or ()
        if method != "HEAD"  # Starlette adds HEAD to every GET route
    }


@pytest.mark.parametrize("auth", [False, True])
def test_every_route_in_the_app_is_a_row_of_the_table(auth: bool) -> None:
    rows = {(row.method, path) for row in routes.endpoints(auth) for path in row.paths}
    assert _served(auth) == rows
    assert len(rows) == sum(len(row.paths) for row in routes.endpoints(auth))  # no duplicates


def test_api_and_ajax_api_serve_the_same_rows() -> None:
    served = _served(True)
    api = {(m, p.removeprefix("/api")) for m, p in served if p.startswith("/api/")}
    ajax = {(m, p.removeprefix("/ajax-api")) for m, p in served if p.startswith("/ajax-api/")}
    ajax_only = {("GET", "/2.0/mlflow/metrics/get-history-bulk")}
    ajax_only.add(("GET", "/2.0/mlflow/logged-models/{model_id}/artifacts/files"))
    assert ajax - api == ajax_only
    assert api - ajax == set()


def test_a_row_needs_a_rule_and_exactly_one_handler() -> None:
    rule = Rule(Permission.READ, resources.PUBLIC)

    def handler(*args: Any) -> Any:
        return {}

    with pytest.raises(TypeError):
        Endpoint("GET", "/x", rule)  # no handler
    with pytest.raises(TypeError):
        Endpoint("GET", "/x", rule, rpc=handler, stream=handler)
    with pytest.raises(TypeError):
        Endpoint("GET", "/x", rpc=handler)  # type: ignore[call-arg]  # no rule


def test_public_routes_are_only_the_ones_mlflow_leaves_open() -> None:
    public = sorted(
        path
        for row in routes.endpoints(True)
        if row.rule.on.access is Access.PUBLIC
        for path in row.paths
    )
    assert public == [
        "/ajax-api/3.0/mlflow/server-info",
        "/api/3.0/mlflow/server-info",
        "/health",
        "/ready",
        "/version",
    ]


def test_writes_need_more_than_read() -> None:
    for row in routes.endpoints(True):
        if "/permissions/" in row.path or row.rule.on.access is not Access.TARGET:
            continue
        if (
            row.method in ("PUT", "PATCH", "DELETE")
            or row.method == "POST"
            and ("search" not in row.path)
            and not row.path.endswith("/get-latest-versions")  # MLflow serves a POST read
        ):
            assert row.rule.needs >= Permission.EDIT, (row.method, row.path)
        # a registered model's tag is deleted with EDIT, as MLflow asks (a version's: MANAGE)
        if row.path.endswith(("/delete", "/restore")) or (
            row.method == "DELETE"
            and "{tag_key}" not in row.path
            and not row.path.endswith("/registered-models/delete-tag")
        ):
            assert row.rule.needs is Permission.MANAGE, (row.method, row.path)


def test_every_targeted_rule_names_its_resource_kind() -> None:
    kinds = {type(row.rule.on).__name__ for row in routes.endpoints(True)}
    assert kinds == {
        "NoResource",
        "Experiment",
        "Experiments",
        "ExperimentName",
        "Run",
        "Runs",
        "Model",
        "Artifact",
        "MultipartFile",
        "RegisteredModel",
        "NewModelVersion",
    }


def test_registry_rows_are_decided_on_their_registered_model() -> None:
    """Every registry route is decided on the registered model its message names (versions,
    tags and aliases on their model's): reads need READ, writes EDIT, deletes of models,
    versions, version tags and aliases MANAGE, and granting MANAGE, as MLflow's auth asks.
    Create is open to any user (who then manages the model), the searches to any user (who
    sees what they may read); rename and delete carry the model's grants along."""
    rows = [
        r
        for r in routes.endpoints(True)
        if "/registered-models/" in r.path or "/model-versions/" in r.path
    ]
    assert len(rows) == 27  # with /model-versions/get-artifact (served at the root)
    special = {
        "/registered-models/create": Access.NEW_REGISTERED_MODEL,
        "/registered-models/search": Access.READABLE_REGISTERED_MODELS,
        "/model-versions/search": Access.READABLE_REGISTERED_MODELS,
    }
    for row in rows:
        on = row.rule.on
        kind = next((a for suffix, a in special.items() if row.path.endswith(suffix)), None)
        if kind is not None:
            assert on.access is kind, row.path
            continue
        assert on.access is Access.TARGET, row.path
        if row.path.endswith("/model-versions/create"):  # READ on its source too
            assert isinstance(on, resources.NewModelVersion), row.path
            assert row.rule.needs is Permission.EDIT
            continue
        assert isinstance(on, resources.RegisteredModel), row.path
        follows = {
            "/registered-models/rename": resources.Grants.FOLLOW,
            "/registered-models/delete": resources.Grants.DROP,
        }
        expected = next((g for s, g in follows.items() if row.path.endswith(s)), None)
        assert on.grants is (expected or resources.Grants.STAY), row.path
        if "/permissions/" in row.path:
            assert row.rule.needs is Permission.MANAGE, row.path
        elif row.method == "GET":
            assert row.rule.needs is Permission.READ, row.path
        elif row.method == "DELETE" and not row.path.endswith("/registered-models/delete-tag"):
            assert row.rule.needs is Permission.MANAGE, row.path
        elif not row.path.endswith("/get-latest-versions"):
            assert row.rule.needs is Permission.EDIT, (row.method, row.path)


def test_auth_endpoints_exist_only_with_auth() -> None:
    assert not any("/permissions/" in p or "/users/" in p for _, p in _served(False))
    assert any("/users/current" in p for _, p in _served(True))
    names = [getattr(m.cls, "__name__", "") for m in middleware.stack(Settings(auth=True))]
    assert "AuthMiddleware" not in names  # authorisation is the route's, not a second table


def test_artifact_paths_name_their_experiment() -> None:
    assert artifact_paths.experiment_of("12/abc/artifacts/model.pkl") == 12
    assert artifact_paths.experiment_of("12") == 12
    assert artifact_paths.experiment_of("") is None
    assert artifact_paths.experiment_of("team/12/x") is None
    assert artifact_paths.experiment_of("99999999999/x") is None  # beyond an experiment id


@pytest.mark.parametrize(
    ("path", "file"),
    [
        ("", False),
        ("3", False),
        ("3/models", False),
        ("3/traces", False),
        ("team", False),
        ("3/models/", False),
        ("3//", False),
        ("3/x.txt", True),  # a file straight into an experiment's directory
        ("3/models/m-abc", True),
        ("x.txt", True),
    ],
)
def test_writes_and_deletes_outside_one_run_or_model_are_refused(path: str, file: bool) -> None:
    with pytest.raises(InvalidParameterValue, match="inside one run"):
        artifact_paths.check_within_owner(artifact_paths.clean(path), file=file)


@pytest.mark.parametrize(
    ("path", "file"),
    [
        ("3/0123456789abcdef0123456789abcdef", False),
        ("3/0123456789abcdef0123456789abcdef/artifacts/model/MLmodel", True),
        ("3/0123456789abcdef0123456789abcdef/f.txt", True),
        ("3/models/m-abc", False),
        ("3/models/m-abc/artifacts/x", True),
        ("3/traces/tr-1/artifacts/traces.json", True),
        ("team/project", False),
        ("team/project/run/artifacts/x", True),
        ("team/x.txt", True),  # outside the experiments' directories the layout is unknown
    ],
)
def test_paths_inside_one_run_or_model_may_be_written(path: str, file: bool) -> None:
    artifact_paths.check_within_owner(path, file=file)
