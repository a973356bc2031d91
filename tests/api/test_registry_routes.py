"""The model registry's routes end to end over HTTP: both mounts, the GET forms, the bodies
MLflow's client sends, and MLflow's error answers (never a 500)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.httpapi import Api
from tests.integration.livesrv import REFERENCE

# Where runyard answers differently from MLflow on purpose (MLflow: a database error about the
# integer column, and the source check before the model's existence).
RUNYARD_ONLY = pytest.mark.skipif(REFERENCE, reason="runyard's answer differs on purpose")

RM = "/registered-models"
MV = "/model-versions"
AJAX = "/ajax-api/2.0/mlflow"


def _name() -> str:
    return f"rm-{uuid.uuid4().hex[:10]}"


def _create_model(api: Api, name: str, **fields: Any) -> dict[str, Any]:
    body = api.ok(api.post(f"{RM}/create", {"name": name, **fields}))
    return body["registered_model"]  # type: ignore[no-any-return]


def _create_version(api: Api, name: str, run_id: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id, **fields}
    return api.ok(api.post(f"{MV}/create", body))["model_version"]  # type: ignore[no-any-return]


def test_create_get_and_the_rendered_model(api: Api, run_id: str) -> None:
    name = _name()
    made = _create_model(api, name, tags=[{"key": "t", "value": "1"}], description="d")
    assert made["name"] == name
    assert made["tags"] == [{"key": "t", "value": "1"}]
    assert made["creation_timestamp"] == made["last_updated_timestamp"]
    assert "latest_versions" not in made and "aliases" not in made

    version = _create_version(api, name, run_id, tags=[{"key": "k", "value": "v"}])
    assert (version["version"], version["status"], version["current_stage"]) == (
        "1",
        "READY",
        "None",
    )
    assert version["run_id"] == run_id
    api.ok(api.post(f"{RM}/alias", {"name": name, "alias": "best", "version": "1"}))

    got = api.ok(api.get(f"{RM}/get", {"name": name}))["registered_model"]
    assert got["aliases"] == [{"alias": "best", "version": "1"}]
    assert [v["version"] for v in got["latest_versions"]] == ["1"]
    assert "aliases" not in got["latest_versions"][0]  # as MLflow renders latest_versions
    by_alias = api.ok(api.get(f"{RM}/alias", {"name": name, "alias": "best"}))["model_version"]
    assert (by_alias["version"], by_alias["aliases"]) == ("1", ["best"])
    ajax = api.request("GET", f"{api.url}{AJAX}{MV}/get", params={"name": name, "version": "1"})
    assert api.ok(ajax)["model_version"]["tags"] == [{"key": "k", "value": "v"}]


def test_searches_and_the_get_form_of_latest_versions(api: Api, run_id: str) -> None:
    prefix = _name()
    for suffix in ("b", "a", "c"):
        _create_model(api, f"{prefix}-{suffix}")
    for _ in range(2):
        _create_version(api, f"{prefix}-a", run_id)
    params = {"filter": f"name LIKE '{prefix}-%'", "max_results": 2}
    first = api.ok(api.get(f"{RM}/search", params))
    assert [m["name"] for m in first["registered_models"]] == [f"{prefix}-a", f"{prefix}-b"]
    rest = api.ok(api.get(f"{RM}/search", {**params, "page_token": first["next_page_token"]}))
    assert [m["name"] for m in rest["registered_models"]] == [f"{prefix}-c"]
    assert "next_page_token" not in rest

    found = api.ok(api.get(f"{MV}/search", {"filter": f"name = '{prefix}-a'"}))
    assert [v["version"] for v in found["model_versions"]] == ["2", "1"]
    latest = api.ok(api.get(f"{RM}/get-latest-versions", {"name": f"{prefix}-a"}))
    assert [v["version"] for v in latest["model_versions"]] == ["2"]
    posted = api.ok(
        api.post(f"{RM}/get-latest-versions", {"name": f"{prefix}-a", "stages": ["Staging"]})
    )
    assert posted == {}


def test_updates_stages_and_deletes(api: Api, run_id: str) -> None:
    name = _name()
    _create_model(api, name)
    for _ in range(2):
        _create_version(api, name, run_id)
    moved = api.ok(
        api.post(
            f"{MV}/transition-stage",
            {
                "name": name,
                "version": "1",
                "stage": "production",
                "archive_existing_versions": False,
            },
        )
    )["model_version"]
    assert moved["current_stage"] == "Production"
    patched = api.request("PATCH", f"{RM}/update", json={"name": name, "description": "new"})
    assert api.ok(patched)["registered_model"]["description"] == "new"
    gone = api.request("DELETE", f"{MV}/delete", json={"name": name, "version": "2"})
    api.ok(gone)
    api.error(
        api.get(f"{MV}/get", {"name": name, "version": "2"}),
        "RESOURCE_DOES_NOT_EXIST",
        f"Model Version (name={name}, version=2) not found",
    )
    uri = api.ok(api.get(f"{MV}/get-download-uri", {"name": name, "version": "1"}))
    assert uri == {"artifact_uri": f"runs:/{run_id}/model"}
    api.ok(api.request("DELETE", f"{RM}/delete", json={"name": name}))
    api.error(
        api.get(f"{RM}/get", {"name": name}),
        "RESOURCE_DOES_NOT_EXIST",
        f"Registered Model with name={name} not found",
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        ("POST", f"{RM}/create", {}, "INVALID_PARAMETER_VALUE"),
        ("POST", f"{RM}/create", {"name": "a/b"}, "INVALID_PARAMETER_VALUE"),
        ("GET", f"{RM}/get", {}, "INVALID_PARAMETER_VALUE"),
        ("GET", f"{RM}/search", {"max_results": 1001}, "INVALID_PARAMETER_VALUE"),
        ("GET", f"{RM}/search", {"filter": "name ="}, "INVALID_PARAMETER_VALUE"),
        ("GET", f"{MV}/search", {"max_results": 0}, "INVALID_PARAMETER_VALUE"),
        ("GET", f"{MV}/get", {"name": "x", "version": "one"}, "INVALID_PARAMETER_VALUE"),
        pytest.param(
            "GET",
            f"{MV}/get",
            {"name": "x", "version": "99999999999"},
            "RESOURCE_DOES_NOT_EXIST",
            marks=RUNYARD_ONLY,
        ),
        # an unknown model is a 404 before its source is looked at
        pytest.param(
            "POST",
            f"{MV}/create",
            {"name": "x", "source": "/etc"},
            "RESOURCE_DOES_NOT_EXIST",
            marks=RUNYARD_ONLY,
        ),
        (
            "POST",
            f"{RM}/alias",
            {"name": "x", "alias": "v1", "version": "1"},
            "INVALID_PARAMETER_VALUE",
        ),
        ("GET", f"{RM}/alias", {"name": "nope", "alias": "a"}, "RESOURCE_DOES_NOT_EXIST"),
        (
            "POST",
            f"{MV}/transition-stage",
            {"name": "x", "version": "1", "stage": "Gone"},
            "INVALID_PARAMETER_VALUE",
        ),
    ],
)
def test_user_errors_are_mlflow_errors(
    api: Api, method: str, path: str, body: dict[str, Any], code: str
) -> None:
    sent = api.get(path, body) if method == "GET" else api.request(method, path, json=body)
    api.error(sent, code)


def test_a_local_source_is_refused(api: Api) -> None:
    name = _name()
    _create_model(api, name)
    api.error(
        api.post(f"{MV}/create", {"name": name, "source": "/etc/passwd"}),
        "INVALID_PARAMETER_VALUE",
        prefix="Invalid model version source: '/etc/passwd'.",
    )


def test_a_duplicate_name_is_resource_already_exists(api: Api) -> None:
    name = _name()
    _create_model(api, name)
    api.error(
        api.post(f"{RM}/create", {"name": name}),
        "RESOURCE_ALREADY_EXISTS",
        f"Registered Model (name={name}) already exists.",
    )
