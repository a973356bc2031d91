"""The model registry over raw HTTP: answer shapes, and the errors for bad input.

Expected answers were taken from ``mlflow server`` 3.17.2 (``RUNYARD_TEST_REFERENCE=mlflow``);
where MLflow answers a user's mistake with a 500, runyard answers a 400 and the test says so.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest

from tests.api.httpapi import REFERENCE, Api

pytestmark = pytest.mark.integration

INVALID = "INVALID_PARAMETER_VALUE"
MISSING = "RESOURCE_DOES_NOT_EXIST"
EXISTS = "RESOURCE_ALREADY_EXISTS"
DOCS = " See the API docs for more information about request parameters."
PROMPT_TAG = "mlflow.prompt.is_prompt"


@pytest.fixture
def name() -> str:
    return f"reg-{uuid.uuid4().hex[:12]}"


def send(api: Api, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
    """GET sends ``body`` as the query string, every other method as a JSON body."""
    if method == "GET":
        return api.get(path, body)
    return api.request(method, path, json=body)


def create_model(api: Api, name: str, **fields: Any) -> dict[str, Any]:
    body = api.ok(api.post("/registered-models/create", {"name": name, **fields}))
    return body["registered_model"]  # type: ignore[no-any-return]


def create_version(api: Api, name: str, run_id: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id, **fields}
    return api.ok(api.post("/model-versions/create", body))["model_version"]  # type: ignore[no-any-return]


def model_with_version(api: Api, name: str) -> str:
    """A registered model with one version; the version's run."""
    run_id = api.run()
    create_model(api, name)
    create_version(api, name, run_id)
    return run_id


def not_found(name: str) -> str:
    return f"Registered Model with name={name} not found"


def version_not_found(name: str, version: str) -> str:
    return f"Model Version (name={name}, version={version}) not found"


def wrong_value(field: str, shown: str, type_name: str) -> str:
    # MLflow's text has two spaces after the colon.
    return (
        f"Invalid value {shown} for parameter '{field}' supplied:  "
        f"Hint: Value was of type '{type_name}'.{DOCS}"
    )


# --- answer shapes -----------------------------------------------------------------------------


def test_registered_model_shape(api: Api, name: str) -> None:
    made = create_model(
        api, name, description="d", tags=[{"key": "b", "value": "2"}, {"key": "a", "value": "1"}]
    )
    ts = made["creation_timestamp"]
    assert isinstance(ts, int) and ts > 1_600_000_000_000
    assert made == {
        "name": name,
        "creation_timestamp": ts,
        "last_updated_timestamp": ts,
        "description": "d",
        "tags": made["tags"],
    }
    assert sorted(made["tags"], key=lambda t: t["key"]) == [
        {"key": "a", "value": "1"},
        {"key": "b", "value": "2"},
    ]
    got = api.ok(api.get("/registered-models/get", {"name": name}))["registered_model"]
    assert {**got, "tags": sorted(got["tags"], key=lambda t: t["key"])} == {
        **made,
        "tags": sorted(made["tags"], key=lambda t: t["key"]),
    }

    bare = create_model(api, f"{name}-bare")
    assert bare == {
        "name": f"{name}-bare",
        "creation_timestamp": bare["creation_timestamp"],
        "last_updated_timestamp": bare["creation_timestamp"],
    }


def test_model_version_shape(api: Api, name: str) -> None:
    run_id = api.run()
    create_model(api, name)
    mv = create_version(api, name, run_id, tags=[{"key": "k", "value": "v"}], description="x")
    ts = mv["creation_timestamp"]
    assert mv == {
        "name": name,
        "version": "1",
        "creation_timestamp": ts,
        "last_updated_timestamp": ts,
        "current_stage": "None",
        "description": "x",
        "source": f"runs:/{run_id}/model",
        "run_id": run_id,
        "run_link": "",
        "status": "READY",
        "tags": [{"key": "k", "value": "v"}],
    }
    api.ok(api.post("/registered-models/alias", {"name": name, "alias": "a1", "version": "1"}))
    got = api.ok(api.get("/model-versions/get", {"name": name, "version": "1"}))["model_version"]
    assert got == {**mv, "aliases": ["a1"]}

    model = api.ok(api.get("/registered-models/get", {"name": name}))["registered_model"]
    assert model["aliases"] == [{"alias": "a1", "version": "1"}]
    assert model["last_updated_timestamp"] == ts
    # latest_versions carry no aliases in MLflow's answer.
    assert model["latest_versions"] == [mv]

    uri = api.ok(api.get("/model-versions/get-download-uri", {"name": name, "version": "1"}))
    assert uri == {"artifact_uri": f"runs:/{run_id}/model"}
    r = api.request("DELETE", "/model-versions/delete", json={"name": name, "version": "1"})
    assert api.ok(r) == {}


def test_empty_searches_answer_an_empty_object(api: Api, name: str) -> None:
    flt = {"filter": f"name = '{name}'"}
    assert api.ok(api.get("/registered-models/search", flt)) == {}
    assert api.ok(api.get("/model-versions/search", flt)) == {}


# --- required fields ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/registered-models/create", {}, "name"),
        ("POST", "/registered-models/create", {"name": ""}, "name"),
        ("GET", "/registered-models/get", {}, "name"),
        ("PATCH", "/registered-models/update", {"description": "d"}, "name"),
        ("POST", "/registered-models/rename", {"name": "{name}"}, "new_name"),
        ("POST", "/registered-models/rename", {"new_name": "x"}, "name"),
        ("DELETE", "/registered-models/delete", {}, "name"),
        ("POST", "/registered-models/set-tag", {"name": "{name}", "value": "v"}, "key"),
        ("DELETE", "/registered-models/delete-tag", {"name": "{name}"}, "key"),
        ("POST", "/registered-models/get-latest-versions", {}, "name"),
        ("GET", "/registered-models/get-latest-versions", {}, "name"),
        ("POST", "/model-versions/create", {"name": "{name}"}, "source"),
        ("POST", "/model-versions/create", {"source": "runs:/abc/model"}, "name"),
        ("GET", "/model-versions/get", {"name": "{name}"}, "version"),
        ("PATCH", "/model-versions/update", {"name": "{name}"}, "version"),
        ("POST", "/model-versions/transition-stage", {"name": "{name}", "version": "1"}, "stage"),
        ("DELETE", "/model-versions/delete", {"version": "1"}, "name"),
        ("POST", "/model-versions/set-tag", {"name": "{name}", "version": "1"}, "key"),
        ("DELETE", "/model-versions/delete-tag", {"name": "{name}", "version": "1"}, "key"),
        ("POST", "/registered-models/alias", {"name": "{name}", "version": "1"}, "alias"),
        ("POST", "/registered-models/alias", {"name": "{name}", "alias": "a"}, "version"),
        ("DELETE", "/registered-models/alias", {"name": "{name}"}, "alias"),
        ("GET", "/registered-models/alias", {"name": "{name}"}, "alias"),
    ],
)
def test_missing_required_field(
    api: Api, name: str, method: str, path: str, body: dict[str, str], field: str
) -> None:
    model_with_version(api, name)
    filled = {k: v.replace("{name}", name) for k, v in body.items()}
    r = send(api, method, path, filled)
    api.error(r, INVALID, f"Missing value for required parameter '{field}'.{DOCS}")


def test_download_uri_checks_its_fields_late(api: Api, name: str) -> None:
    # This endpoint has no request schema in MLflow: the store words the missing name (without
    # the API-docs hint) and the missing version as a bad integer.
    model_with_version(api, name)
    r = api.get("/model-versions/get-download-uri", {"version": "1"})
    api.error(r, INVALID, "Missing value for required parameter 'name'.")
    r = api.get("/model-versions/get-download-uri", {"name": name})
    api.error(r, INVALID, "Parameter 'version' must be an integer, got ''.")


# --- unknown models and versions ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/registered-models/get", {}),
        ("PATCH", "/registered-models/update", {"description": "d"}),
        ("POST", "/registered-models/rename", {"new_name": "{name}-new"}),
        ("DELETE", "/registered-models/delete", {}),
        ("POST", "/registered-models/set-tag", {"key": "k", "value": "v"}),
        ("DELETE", "/registered-models/delete-tag", {"key": "k"}),
        ("GET", "/registered-models/get-latest-versions", {}),
        ("POST", "/registered-models/get-latest-versions", {"stages": ["Staging"]}),
        ("POST", "/model-versions/create", {"source": "runs:/{run}/model", "run_id": "{run}"}),
        ("DELETE", "/registered-models/alias", {"alias": "a"}),
        ("GET", "/registered-models/alias", {"alias": "a"}),
    ],
)
def test_unknown_registered_model(
    api: Api, name: str, method: str, path: str, body: dict[str, Any]
) -> None:
    run_id = uuid.uuid4().hex
    filled = {
        k: v.replace("{name}", name).replace("{run}", run_id) if isinstance(v, str) else v
        for k, v in body.items()
    }
    r = send(api, method, path, {"name": name, **filled})
    api.error(r, MISSING, not_found(name))
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/model-versions/get", {}),
        ("PATCH", "/model-versions/update", {"description": "d"}),
        ("DELETE", "/model-versions/delete", {}),
        ("POST", "/model-versions/set-tag", {"key": "k", "value": "v"}),
        ("DELETE", "/model-versions/delete-tag", {"key": "k"}),
        ("POST", "/model-versions/transition-stage", {"stage": "Staging"}),
        ("GET", "/model-versions/get-download-uri", {}),
        ("POST", "/registered-models/alias", {"alias": "a"}),
    ],
)
@pytest.mark.parametrize("model_exists", [True, False], ids=["known-model", "unknown-model"])
def test_unknown_version(
    api: Api, name: str, method: str, path: str, body: dict[str, str], model_exists: bool
) -> None:
    if model_exists:
        model_with_version(api, name)
    r = send(api, method, path, {"name": name, "version": "7", **body})
    api.error(r, MISSING, version_not_found(name, "7"))


@pytest.mark.parametrize("version", ["abc", "1.5", "-"])
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/model-versions/get", {}),
        ("PATCH", "/model-versions/update", {"description": "d"}),
        ("DELETE", "/model-versions/delete", {}),
        ("POST", "/model-versions/set-tag", {"key": "k", "value": "v"}),
        ("DELETE", "/model-versions/delete-tag", {"key": "k"}),
        ("POST", "/model-versions/transition-stage", {"stage": "Staging"}),
        ("GET", "/model-versions/get-download-uri", {}),
        ("POST", "/registered-models/alias", {"alias": "a"}),
    ],
)
def test_version_must_be_an_integer(
    api: Api, name: str, version: str, method: str, path: str, body: dict[str, str]
) -> None:
    model_with_version(api, name)
    r = send(api, method, path, {"name": name, "version": version, **body})
    api.error(r, INVALID, f"Parameter 'version' must be an integer, got '{version}'.")
    got = api.ok(api.get("/model-versions/get", {"name": name, "version": "1"}))
    assert got["model_version"]["current_stage"] == "None"


# --- names, duplicates, tags, aliases, stages --------------------------------------------------


def test_duplicate_create_and_rename(api: Api, name: str) -> None:
    create_model(api, name)
    r = api.post("/registered-models/create", {"name": name})
    api.error(r, EXISTS, f"Registered Model (name={name}) already exists.")
    assert r.status_code == 400
    made = create_model(api, f"{name}-1")
    r = api.post("/registered-models/rename", {"name": f"{name}-1", "new_name": f"{name}-2"})
    renamed = api.ok(r)["registered_model"]
    assert renamed["name"] == f"{name}-2"
    assert renamed["creation_timestamp"] == made["creation_timestamp"]
    assert renamed["last_updated_timestamp"] >= made["last_updated_timestamp"]
    r = api.post("/registered-models/rename", {"name": f"{name}-2", "new_name": name})
    # MLflow appends the database driver's text after this sentence.
    api.error(r, EXISTS, prefix=f"Registered Model (name={name}) already exists.")
    assert api.ok(api.get("/registered-models/get", {"name": f"{name}-2"}))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("a/b", "Invalid model name 'a/b'. Names cannot contain '/' or ':'."),
        ("a:b", "Invalid model name 'a:b'. Names cannot contain '/' or ':'."),
        ("   ", "Missing value for required parameter 'name'."),
        (
            ".",
            "Invalid value \".\" for parameter 'name' supplied: Names may be treated as files in "
            "certain cases, and must not resolve to other names when treated as such. This name "
            "would resolve to '.'",
        ),
    ],
    ids=["slash", "colon", "blank", "dot"],
)
def test_invalid_model_names(api: Api, name: str, bad: str, message: str) -> None:
    api.error(api.post("/registered-models/create", {"name": bad}), INVALID, message)
    create_model(api, name)
    r = api.post("/registered-models/rename", {"name": name, "new_name": bad})
    api.error(r, INVALID, message.replace("'name'", "'new_name'") if bad == "   " else message)
    assert api.ok(api.get("/registered-models/get", {"name": name}))


def test_tag_validation(api: Api, name: str) -> None:
    create_model(api, name)
    long_key = "k" * 251
    r = api.post("/registered-models/set-tag", {"name": name, "key": long_key, "value": "v"})
    api.error(r, INVALID, "'key' exceeds the maximum length of 250 characters")
    ok = api.post("/registered-models/set-tag", {"name": name, "key": "k" * 250, "value": "v"})
    assert api.ok(ok) == {}
    model = api.ok(api.get("/registered-models/get", {"name": name}))["registered_model"]
    assert model["tags"] == [{"key": "k" * 250, "value": "v"}]


def test_alias_errors(api: Api, name: str) -> None:
    model_with_version(api, name)
    bad = "has space"
    r = api.post("/registered-models/alias", {"name": name, "alias": bad, "version": "1"})
    api.error(
        r,
        INVALID,
        f"Invalid alias name: '{bad}'. Names may only contain alphanumerics, underscores (_), "
        "and dashes (-).",
    )
    r = api.post("/registered-models/alias", {"name": name, "alias": "Latest", "version": "1"})
    api.error(r, INVALID, "'latest' alias name (case insensitive) is reserved.")
    r = api.post("/registered-models/alias", {"name": name, "alias": "V12", "version": "1"})
    api.error(r, INVALID, "Version alias name 'V12' is reserved.")
    # An unknown alias is a bad parameter to MLflow (400), not a missing resource.
    r = api.get("/registered-models/alias", {"name": name, "alias": "nope"})
    api.error(r, INVALID, "Registered model alias nope not found.")
    assert r.status_code == 400
    r = api.get("/registered-models/alias", {"name": name, "alias": "latest"})
    assert api.ok(r)["model_version"]["version"] == "1"


def test_stage_errors(api: Api, name: str) -> None:
    model_with_version(api, name)
    base = {"name": name, "version": "1"}
    r = api.post("/model-versions/transition-stage", {**base, "stage": "Bogus"})
    api.error(
        r,
        INVALID,
        "Invalid Model Version stage: Bogus. Value must be one of None, Staging, Production, "
        "Archived.",
    )
    r = api.post(
        "/model-versions/transition-stage",
        {**base, "stage": "Staging", "archive_existing_versions": "yes"},
    )
    api.error(r, INVALID, wrong_value("archive_existing_versions", '"yes"', "str"))
    r = api.get("/registered-models/get-latest-versions", {"name": name, "stages": "Bogus"})
    api.error(r, INVALID, prefix="Invalid Model Version stage: Bogus.")
    got = api.ok(api.get("/model-versions/get", base))["model_version"]
    assert got["current_stage"] == "None"


def test_archiving_into_an_inactive_stage(api: Api, name: str) -> None:
    model_with_version(api, name)
    body = {
        "name": name,
        "version": "1",
        "stage": "Archived",
        "archive_existing_versions": True,
    }
    r = api.post("/model-versions/transition-stage", body)
    message = (
        "Model version transition cannot archive existing model versions because 'Archived' is "
        "not an Active stage. Valid stages are ['Staging', 'Production']"
    )
    if REFERENCE:
        # MLflow raises this user error without a code, so it is answered as a 500.
        api.error(r, "INTERNAL_ERROR", message)
    else:
        api.error(r, INVALID, message)
    got = api.ok(api.get("/model-versions/get", {"name": name, "version": "1"}))
    assert got["model_version"]["current_stage"] == "None"


def test_source_must_match_its_run(api: Api, name: str) -> None:
    run_id = api.run()
    other = api.run()
    create_model(api, name)
    for source, run in [
        (f"runs:/{run_id}/model", other),
        (f"runs:/{run_id}/model", None),
        (f"runs://host/{run_id}/model", run_id),
    ]:
        body = {"name": name, "source": source, **({"run_id": run} if run else {})}
        r = api.post("/model-versions/create", body)
        api.error(
            r,
            INVALID,
            f"Invalid model version source: '{source}'. The run_id request parameter must "
            "identify the resource that contains the source.",
        )
    r = api.post(
        "/model-versions/create",
        {"name": name, "source": f"runs:/{run_id}/../../etc", "run_id": run_id},
    )
    api.error(r, INVALID, prefix=f"Invalid model version source: 'runs:/{run_id}/../../etc'.")
    model = api.ok(api.get("/registered-models/get", {"name": name}))["registered_model"]
    assert "latest_versions" not in model


# --- search errors and bounds ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flt", "message"),
    [
        ("name > 'a'", "Invalid comparator for attribute: >"),
        ("run_id = 'a'", "Invalid attribute key 'run_id' specified. Valid keys are '{'name'}'"),
        ("tags.a = 1", "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1"),
        (
            "name = 1",
            "Expected a quoted string value or a list of quoted string values for attributes. "
            "Got value 1",
        ),
        (
            "params.a = 'x'",
            "Invalid entity type 'params'. Valid entity types are ('attribute', 'tag', 'tags')",
        ),
        ("tags.a > 'x'", "Invalid comparator for tag: >"),
        ("name = 'a' OR name = 'b'", "Invalid clause(s) in filter string: OR"),
        ("name =", "Invalid clause(s) in filter string: name, ="),
    ],
)
def test_bad_registered_model_filter(api: Api, flt: str, message: str) -> None:
    r = api.get("/registered-models/search", {"filter": flt})
    api.error(r, INVALID, message)


@pytest.mark.parametrize(
    ("flt", "message", "exact"),
    [
        ("version_number = 'x'", "Invalid value for numeric attribute 'version_number': 'x'", True),
        ("version_number LIKE '1'", "Invalid comparator for attribute version_number: LIKE", True),
        ("source_path > 'a'", "Invalid comparator for attribute: >", True),
        (
            "tags.a IN ('x')",
            "Expected a quoted string value for tag (e.g. 'my-value'). Got value ('x')",
            True,
        ),
        (
            "source_path IN ('a')",
            "Only ['name', 'run_id'] attributes support comparison with a list of quoted string "
            "values.",
            True,
        ),
        ("version_number = 1.5", "Invalid value for numeric attribute 'version_number': 1.5", True),
        # The valid keys are printed from a Python set, in no fixed order.
        ("foo = 'x'", "Invalid attribute key 'foo' specified. Valid keys are '", False),
    ],
)
def test_bad_model_version_filter(api: Api, flt: str, message: str, exact: bool) -> None:
    r = api.get("/model-versions/search", {"filter": flt})
    if exact:
        api.error(r, INVALID, message)
    else:
        api.error(r, INVALID, prefix=message)


def test_bad_order_by(api: Api) -> None:
    r = api.get("/registered-models/search", {"order_by": "creation_timestamp DESC"})
    # MLflow's database store rejects this key for registered models; the message ends with the
    # valid keys printed from a Python set.
    api.error(r, INVALID, prefix="Invalid order by key 'creation_timestamp' specified. Valid keys ")
    r = api.get("/registered-models/search", {"order_by": "name SIDEWAYS"})
    api.error(r, INVALID, "Invalid ordering key in order_by clause 'name SIDEWAYS'.")
    r = api.get("/model-versions/search", {"order_by": "run_id"})
    api.error(r, INVALID, prefix="Invalid attribute key 'run_id' specified. Valid keys are '")


@pytest.mark.parametrize(
    ("path", "limit"), [("/registered-models/search", 1000), ("/model-versions/search", 200_000)]
)
def test_max_results_bounds(api: Api, path: str, limit: int) -> None:
    assert "error_code" not in api.ok(api.get(path, {"max_results": str(limit)}))
    r = api.get(path, {"max_results": str(limit + 1)})
    api.error(r, INVALID, wrong_value("max_results", f'"{limit + 1}"', "str"))
    r = api.get(path, {"max_results": "ten"})
    api.error(r, INVALID, wrong_value("max_results", '"ten"', "str"))


@pytest.mark.parametrize("value", ["0", "-3"])
def test_model_version_max_results_must_be_positive(api: Api, value: str) -> None:
    r = api.get("/model-versions/search", {"max_results": value})
    api.error(
        r, INVALID, f"Invalid value for max_results. It must be a positive integer, but got {value}"
    )


def test_bad_page_tokens(api: Api) -> None:
    for path in ("/registered-models/search", "/model-versions/search"):
        r = api.get(path, {"page_token": "not base64!"})
        api.error(r, INVALID, "Invalid page token, could not base64-decode")
        token = base64.b64encode(json.dumps({"x": 1}).encode()).decode()
        r = api.get(path, {"page_token": token})
        api.error(r, INVALID, "Invalid page token, parsed value={'x': 1}")


def test_pages_over_http(api: Api, name: str) -> None:
    for i in range(5):
        create_model(api, f"{name}-{i}")
    seen: list[str] = []
    token = None
    for _ in range(5):
        query = {"filter": f"name LIKE '{name}-%'", "max_results": "2", "order_by": "name DESC"}
        if token:
            query["page_token"] = token
        body = api.ok(api.get("/registered-models/search", query))
        seen += [m["name"] for m in body["registered_models"]]
        token = body.get("next_page_token")
        if not token:
            break
    assert seen == [f"{name}-{i}" for i in (4, 3, 2, 1, 0)]


def test_prompts_are_not_registered_models(api: Api, name: str) -> None:
    # MLflow keeps prompts in the same tables, tagged; a registered-model search hides them
    # unless the filter asks for that tag.
    create_model(api, f"{name}-model")
    create_model(api, f"{name}-prompt", tags=[{"key": PROMPT_TAG, "value": "true"}])
    mine = f"name LIKE '{name}-%'"

    def found(flt: str) -> list[str]:
        body = api.ok(api.get("/registered-models/search", {"filter": flt}))
        return [m["name"] for m in body.get("registered_models", [])]

    assert found(mine) == [f"{name}-model"]
    assert found(f"{mine} AND tags.`{PROMPT_TAG}` = 'true'") == [f"{name}-prompt"]
    assert found(f"{mine} AND tags.`{PROMPT_TAG}` != 'true'") == [f"{name}-model"]


# --- methods and mounts ------------------------------------------------------------------------


def test_get_and_post_forms(api: Api, name: str) -> None:
    run_id = api.run()
    create_model(api, name)
    for _ in range(3):
        create_version(api, name, run_id)
    for version, stage in (("1", "Staging"), ("2", "Production")):
        body = {"name": name, "version": version, "stage": stage}
        api.ok(api.post("/model-versions/transition-stage", body))

    def latest(r: httpx.Response) -> list[tuple[str, str]]:
        return sorted((mv["current_stage"], mv["version"]) for mv in api.ok(r)["model_versions"])

    both = [("Production", "2"), ("Staging", "1")]
    by_get = api.request(
        "GET",
        "/registered-models/get-latest-versions",
        params=[("name", name), ("stages", "Staging"), ("stages", "Production")],
    )
    assert latest(by_get) == both
    by_post = api.post(
        "/registered-models/get-latest-versions",
        {"name": name, "stages": ["Staging", "Production"]},
    )
    assert latest(by_post) == both
    everything = api.post("/registered-models/get-latest-versions", {"name": name})
    assert latest(everything) == [("None", "3"), *both]

    # A GET without a query string reads a JSON body, as MLflow's client never does but curl may.
    r = api.request(
        "GET",
        "/registered-models/get",
        content=json.dumps({"name": name}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert api.ok(r)["registered_model"]["name"] == name

    # Repeated order_by values in a query string are a list.
    r = api.request(
        "GET",
        "/model-versions/search",
        params=[
            ("filter", f"name = '{name}'"),
            ("order_by", "current_stage"),
        ],
    )
    api.error(r, INVALID, prefix="Invalid attribute key 'current_stage' specified.")
    r = api.request(
        "GET",
        "/model-versions/search",
        params=[
            ("filter", f"name = '{name}'"),
            ("order_by", "name ASC"),
            ("order_by", "version_number ASC"),
        ],
    )
    assert [mv["version"] for mv in api.ok(r)["model_versions"]] == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/registered-models/get"),
        ("POST", "/registered-models/search"),
        ("GET", "/registered-models/create"),
        ("POST", "/registered-models/update"),
        ("POST", "/model-versions/delete"),
    ],
)
def test_wrong_method(api: Api, name: str, method: str, path: str) -> None:
    r = send(api, method, path, {"name": name})
    assert r.status_code == 405
    if not REFERENCE:  # MLflow's 405 is Flask's HTML page
        api.error(r, "BAD_REQUEST", status=405)


def test_ajax_api_mount(api: Api, name: str) -> None:
    ajax = api.url + "/ajax-api/2.0/mlflow"
    made = api.ok(api.post(f"{ajax}/registered-models/create", {"name": name}))
    assert made["registered_model"]["name"] == name
    got = api.ok(api.get("/registered-models/get", {"name": name}))["registered_model"]
    assert got == made["registered_model"]
    r = api.get(f"{ajax}/registered-models/search", {"filter": f"name = '{name}'"})
    assert [m["name"] for m in api.ok(r)["registered_models"]] == [name]
    r = api.get(f"{ajax}/registered-models/get", {"name": f"{name}-nope"})
    api.error(r, MISSING, not_found(f"{name}-nope"))
    api.ok(api.request("DELETE", f"{ajax}/registered-models/delete", json={"name": name}))
    api.error(api.get("/registered-models/get", {"name": name}), MISSING, not_found(name))
