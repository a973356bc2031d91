"""Every route has a rule, the rule index finds the route Starlette's router finds, and with
auth off nothing of auth is installed."""

from __future__ import annotations

import pytest
from starlette.routing import Match, Route

from runyard.api import auth, middleware
from runyard.app import create_app
from runyard.domain.permissions import Permission, Source, experiment_of_artifact_path
from runyard.settings import Settings


def _routes() -> list[Route]:
    routes = create_app(Settings(auth=True)).routes
    assert all(isinstance(r, Route) for r in routes), (
        "a non-Route needs rules too: extend RuleIndex"
    )
    return [r for r in routes if isinstance(r, Route)]


def test_every_route_in_the_app_has_a_rule() -> None:
    missing = [
        f"{method} {route.path}"
        for route in _routes()
        for method in sorted(route.methods or ())
        if auth.rule_for(method, route.path) is None
    ]
    assert missing == []


def test_every_rule_belongs_to_a_route() -> None:
    served = {
        (
            m,
            "/api/" + r.path.removeprefix("/ajax-api/")
            if r.path.startswith("/ajax-api/")
            else r.path,
        )
        for r in _routes()
        for m in r.methods or ()
    }
    assert sorted(set(auth.RULES) - served) == []


def test_public_routes_are_only_the_ones_mlflow_leaves_open() -> None:
    public = sorted(path for (_, path), rule in auth.RULES.items() if rule.source is Source.PUBLIC)
    assert public == ["/api/3.0/mlflow/server-info", "/health", "/ready", "/version"]


def test_writes_need_more_than_read() -> None:
    for (method, path), rule in auth.RULES.items():
        if method in ("PUT", "PATCH", "DELETE") and "/permissions/" not in path:
            assert rule.needs >= Permission.EDIT, (method, path)
        if path.endswith(("/delete", "/restore")) or (
            method == "DELETE" and "{tag_key}" not in path
        ):
            assert rule.needs is Permission.MANAGE, (method, path)


def _router_route(routes: list[Route], method: str, path: str) -> Route | None:
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
    return None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/health"),
        ("POST", "/api/2.0/mlflow/runs/log-batch"),
        ("GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk"),
        ("POST", "/api/2.0/mlflow/logged-models/search"),
        ("GET", "/api/2.0/mlflow/logged-models/search"),  # the {model_id} route, as in Starlette
        ("DELETE", "/api/2.0/mlflow/logged-models/m-1/tags/a/b"),
        ("GET", "/api/2.0/mlflow/logged-models/m-1/artifacts/directories"),
        ("PUT", "/api/2.0/mlflow-artifacts/artifacts/3/run/artifacts/x.txt"),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts"),
        ("PUT", "/ajax-api/2.0/mlflow-artifacts/mpu/part/abc/2"),
        ("GET", "/get-artifact"),
        ("GET", "/api/2.0/mlflow/nothing-here"),
        ("POST", "/api/2.0/mlflow/experiments/get"),  # path known, method not: 405 from the app
    ],
)
def test_rule_index_agrees_with_the_router(method: str, path: str) -> None:
    routes = _routes()
    matched, rule = auth.RuleIndex(routes).lookup(method, path)
    route = _router_route(routes, method, path)
    assert matched is (route is not None)
    assert rule == (None if route is None else auth.rule_for(method, route.path))


def test_artifact_paths_name_their_experiment() -> None:
    assert experiment_of_artifact_path("12/abc/artifacts/model.pkl") == 12
    assert experiment_of_artifact_path("12") == 12
    assert experiment_of_artifact_path("") is None
    assert experiment_of_artifact_path("team/12/x") is None
    assert experiment_of_artifact_path("99999999999/x") is None  # beyond an experiment id


def test_auth_off_installs_nothing() -> None:
    def names(settings: Settings) -> list[str]:
        return [getattr(m.cls, "__name__", "") for m in middleware.stack(settings)]

    assert "AuthMiddleware" not in names(Settings(auth=False))
    assert "AuthMiddleware" in names(Settings(auth=True))
