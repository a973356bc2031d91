"""Transport and request-validation errors, search errors, atomic batches and idempotent retries."""

from __future__ import annotations

import base64
import json

import pytest

from tests.api.httpapi import REFERENCE, Api

pytestmark = pytest.mark.integration

TS = 1_700_000_000_000
INVALID = "INVALID_PARAMETER_VALUE"
DOCS = " See the API docs for more information about request parameters."


def _missing(field: str) -> str:
    return f"Missing value for required parameter '{field}'.{DOCS}"


def _wrong_type(field: str, shown: str, type_name: str) -> str:
    # MLflow's text has two spaces after the colon.
    return f"Invalid value {shown} for parameter '{field}' supplied:  Hint: Value was of type '{type_name}'.{DOCS}"  # noqa: E501


def _token(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


# --- transport ---------------------------------------------------------------------------------


def test_post_without_content_type(api: Api, run_id: str) -> None:
    body = json.dumps({"run_id": run_id, "key": "m", "value": 1, "timestamp": TS})
    r = api.request("POST", "/runs/log-metric", content=body.encode())
    api.error(r, INVALID, "Bad Request. Content-Type header is missing.")
    assert api.history(run_id, "m") == []


def test_post_with_a_non_json_content_type(api: Api, run_id: str) -> None:
    body = json.dumps({"run_id": run_id, "key": "m", "value": 1, "timestamp": TS})
    r = api.request(
        "POST", "/runs/log-metric", content=body.encode(), headers={"Content-Type": "text/plain"}
    )
    api.error(r, INVALID, "Bad Request. Content-Type must be one of ['application/json'].")


def test_content_type_parameters_are_ignored(api: Api, run_id: str) -> None:
    body = json.dumps({"run_id": run_id, "key": "m", "value": 2.5, "timestamp": TS})
    r = api.request(
        "POST",
        "/runs/log-metric",
        content=body.encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert api.ok(r) == {}
    assert [m["value"] for m in api.history(run_id, "m")] == [2.5]


def test_get_without_query_reads_the_json_body(api: Api, run_id: str) -> None:
    r = api.request(
        "GET",
        "/runs/get",
        content=json.dumps({"run_id": run_id}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert api.ok(r)["run"]["info"]["run_id"] == run_id


def test_camel_case_field_names_are_accepted(api: Api) -> None:
    exp = api.experiment()
    runs = [api.run(exp) for _ in range(3)]
    body = {"experimentIds": [exp], "maxResults": 2, "orderBy": ["attributes.run_id DESC"]}
    page = api.ok(api.post("/runs/search", body))
    assert [r["info"]["run_id"] for r in page["runs"]] == sorted(runs, reverse=True)[:2]
    assert "next_page_token" in page


@pytest.mark.skipif(REFERENCE, reason="MLflow answers unknown paths with an HTML page")
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    "path", ["/api/2.0/mlflow/nope/nope", "/api/2.0/mlflow/runs/nope", "/api/9.9/whatever"]
)
def test_unknown_route_is_a_json_404(api: Api, method: str, path: str) -> None:
    r = api.request(method, api.url + path, json={} if method == "POST" else None)
    assert r.status_code == 404
    api.error(r, "ENDPOINT_NOT_FOUND")


# --- required fields and types -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/runs/log-metric", {"key": "m", "value": 1, "timestamp": TS}, "run_id"),
        ("/runs/log-metric", {"run_id": "{run}", "value": 1, "timestamp": TS}, "key"),
        ("/runs/log-metric", {"run_id": "{run}", "key": "m", "timestamp": TS}, "value"),
        ("/runs/log-metric", {"run_id": "{run}", "key": "m", "value": 1}, "timestamp"),
        ("/runs/log-parameter", {"run_id": "{run}", "value": "1"}, "key"),
        ("/runs/set-tag", {"run_id": "{run}", "key": "", "value": "1"}, "key"),
        ("/runs/delete", {}, "run_id"),
        ("/runs/log-batch", {"params": []}, "run_id"),
        (
            "/runs/log-batch",
            {"run_id": "{run}", "metrics": [{"key": "a", "value": 1}]},
            "metrics[0].timestamp",
        ),
        ("/runs/log-batch", {"run_id": "{run}", "params": [{"value": "5"}]}, "params[0].key"),
        ("/runs/log-batch", {"run_id": "{run}", "tags": [{"value": "5"}]}, "tags[0].key"),
        ("/experiments/create", {}, "name"),
        ("/experiments/create", {"name": ""}, "name"),
        ("/experiments/update", {"experiment_id": "0"}, "new_name"),
        ("/experiments/delete", {}, "experiment_id"),
        ("/runs/log-inputs", {}, "run_id"),
    ],
)
def test_missing_required_field(
    api: Api, run_id: str, path: str, body: dict[str, object], field: str
) -> None:
    filled = {k: (run_id if v == "{run}" else v) for k, v in body.items()}
    api.error(api.post(path, filled), INVALID, _missing(field))


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/runs/get", {}, "run_id"),
        ("/experiments/get", {}, "experiment_id"),
        ("/experiments/get-by-name", {}, "experiment_name"),
        ("/metrics/get-history", {"run_id": "{run}"}, "metric_key"),
    ],
)
def test_missing_required_query_parameter(
    api: Api, run_id: str, path: str, params: dict[str, str], field: str
) -> None:
    filled = {k: (run_id if v == "{run}" else v) for k, v in params.items()}
    api.error(api.get(path, filled), INVALID, _missing(field))


@pytest.mark.parametrize(
    ("path", "body", "field", "shown", "type_name"),
    [
        ("/experiments/create", {"name": 123}, "name", "123", "int"),
        ("/experiments/create", {"name": ["a"]}, "name", '["a"]', "list"),
        ("/runs/log-metric", {"value": "abc"}, "value", '"abc"', "str"),
        ("/runs/log-metric", {"timestamp": "abc"}, "timestamp", '"abc"', "str"),
        ("/runs/log-metric", {"run_id": 5}, "run_id", "5", "int"),
        ("/runs/log-batch", {"params": "x"}, "params", '"x"', "str"),
        ("/runs/search", {"max_results": "abc"}, "max_results", '"abc"', "str"),
        ("/runs/search", {"order_by": "x"}, "order_by", '"x"', "str"),
        ("/runs/search", {"experiment_ids": "0"}, "experiment_ids", '"0"', "str"),
        ("/runs/create", {"experiment_id": 0}, "experiment_id", "0", "int"),
    ],
)
def test_wrong_field_type(
    api: Api,
    run_id: str,
    path: str,
    body: dict[str, object],
    field: str,
    shown: str,
    type_name: str,
) -> None:
    base: dict[str, object] = {}
    if path == "/runs/log-metric":
        base = {"run_id": run_id, "key": "typed", "value": 1, "timestamp": TS}
    elif path == "/runs/log-batch":
        base = {"run_id": run_id}
    api.error(api.post(path, {**base, **body}), INVALID, _wrong_type(field, shown, type_name))
    assert api.history(run_id, "typed") == []


# --- search limits and errors ------------------------------------------------------------------


def test_search_runs_max_results_limit(api: Api) -> None:
    exp = api.experiment()
    r = api.post("/runs/search", {"experiment_ids": [exp], "max_results": 50001})
    api.error(r, INVALID, _wrong_type("max_results", "50001", "int"))
    api.ok(api.post("/runs/search", {"experiment_ids": [exp], "max_results": 50000}))
    for bad in (0, -1):
        r = api.post("/runs/search", {"experiment_ids": [exp], "max_results": bad})
        api.error(
            r,
            INVALID,
            f"Invalid value {bad} for parameter 'max_results' supplied. It must be a positive "
            "integer",
        )


def test_search_experiments_needs_max_results(api: Api) -> None:
    message = "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer"
    api.error(api.post("/experiments/search", {}), INVALID, message)
    api.error(api.get("/experiments/search", {"filter": "name = 'x'"}), INVALID, message)
    r = api.post("/experiments/search", {"max_results": 50001})
    api.error(
        r,
        INVALID,
        "Invalid value 50001 for parameter 'max_results' supplied. It must be at most 50000",
    )
    body = api.ok(api.post("/experiments/search", {"max_results": 1, "filter": "name = 'Default'"}))
    assert [e["name"] for e in body["experiments"]] == ["Default"]


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        ("metrics.a > 1 OR metrics.b < 2", "Invalid clause(s) in filter string: 'OR'"),
        ("!!!", "Invalid clause(s) in filter string: '!!!'"),
        (
            "foo.bar = 'x'",
            "Invalid entity type 'foo'. Valid values are "
            "['metric', 'parameter', 'tag', 'attribute', 'dataset']",
        ),
        ("metrics.a = 'x'", "Expected numeric value type for metric. Found 'x'"),
    ],
)
def test_search_runs_bad_filter(api: Api, filter_string: str, message: str) -> None:
    exp = api.experiment()
    r = api.post("/runs/search", {"experiment_ids": [exp], "filter": filter_string})
    api.error(r, INVALID, message)


@pytest.mark.parametrize(
    ("filter_string", "prefix"),
    [
        # MLflow prints a Python set here, so the order of the listed keys is arbitrary.
        ("attributes.foo = 'x'", "Invalid attribute key 'foo' specified. Valid keys are "),
        ("params.a > 'x'", "Invalid comparator '>' not one of "),
    ],
)
def test_search_runs_bad_filter_prefix(api: Api, filter_string: str, prefix: str) -> None:
    exp = api.experiment()
    r = api.post("/runs/search", {"experiment_ids": [exp], "filter": filter_string})
    api.error(r, INVALID, prefix=prefix)


def test_search_runs_bad_order_by(api: Api) -> None:
    exp = api.experiment()
    r = api.post("/runs/search", {"experiment_ids": [exp], "order_by": ["foo.bar"]})
    api.error(
        r,
        INVALID,
        "Invalid entity type 'foo'. Valid values are "
        "['metric', 'parameter', 'tag', 'attribute', 'dataset']",
    )


def test_search_experiments_bad_filter(api: Api) -> None:
    r = api.post("/experiments/search", {"max_results": 10, "filter": "name = 'a' OR name = 'b'"})
    api.error(r, INVALID, "Invalid clause(s) in filter string: OR")
    r = api.post("/experiments/search", {"max_results": 10, "filter": "foo = 'a'"})
    api.error(r, INVALID, prefix="Invalid attribute key 'foo' specified. Valid keys are ")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("notbase64!!", "Invalid page token, could not base64-decode"),
        (_token("hello"), "Invalid page token, decoded value=b'hello'"),
        (_token('{"foo": 1}'), "Invalid page token, parsed value={'foo': 1}"),
    ],
    ids=["not-base64", "not-json", "no-offset"],
)
def test_bad_page_token(api: Api, run_id: str, token: str, message: str) -> None:
    exp = api.experiment()
    r = api.post("/runs/search", {"experiment_ids": [exp], "page_token": token})
    api.error(r, INVALID, message)
    r = api.post("/experiments/search", {"max_results": 5, "page_token": token})
    api.error(r, INVALID, message)
    r = api.get("/metrics/get-history", {"run_id": run_id, "metric_key": "m", "page_token": token})
    api.error(r, INVALID, message)


def test_get_history_max_results_must_be_positive(api: Api, run_id: str) -> None:
    r = api.get("/metrics/get-history", {"run_id": run_id, "metric_key": "m", "max_results": "0"})
    api.error(
        r,
        INVALID,
        "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer.",
    )


def test_search_page_tokens_round_trip(api: Api) -> None:
    exp = api.experiment()
    runs = [api.run(exp) for _ in range(5)]
    seen: list[str] = []
    token = None
    while True:
        body: dict[str, object] = {
            "experiment_ids": [exp],
            "max_results": 2,
            "order_by": ["attributes.run_id ASC"],
        }
        if token:
            body["page_token"] = token
        page = api.ok(api.post("/runs/search", body))
        seen.extend(r["info"]["run_id"] for r in page.get("runs", []))
        token = page.get("next_page_token")
        if not token:
            break
    assert seen == sorted(runs)


# --- atomic batches ----------------------------------------------------------------------------


def _snapshot(api: Api, run_id: str, keys: list[str]) -> tuple[object, ...]:
    return (api.run_data(run_id), {k: api.history(run_id, k) for k in keys})


@pytest.mark.parametrize(
    "bad_param",
    [
        {"key": "bad key!", "value": "1"},
        {"key": "p", "value": "changed"},
        {"key": "k" * 251, "value": "1"},
    ],
    ids=["bad-key", "changed-value", "long-key"],
)
def test_log_batch_is_atomic(api: Api, run_id: str, bad_param: dict[str, str]) -> None:
    api.ok(api.post("/runs/log-parameter", {"run_id": run_id, "key": "p", "value": "orig"}))
    before = _snapshot(api, run_id, ["m1", "m2"])
    body = {
        "run_id": run_id,
        "metrics": [
            {"key": "m1", "value": 1, "timestamp": TS, "step": 0},
            {"key": "m2", "value": 2, "timestamp": TS, "step": 0},
        ],
        "params": [{"key": "fresh", "value": "1"}, bad_param],
        "tags": [{"key": "newtag", "value": "1"}],
    }
    r = api.post("/runs/log-batch", body)
    api.error(r, INVALID)
    assert _snapshot(api, run_id, ["m1", "m2"]) == before
    assert api.run_data(run_id)["params"] == {"p": "orig"}


# --- idempotent retries ------------------------------------------------------------------------


def test_log_metric_twice_is_idempotent(api: Api, run_id: str) -> None:
    body = {"run_id": run_id, "key": "m", "value": 0.5, "timestamp": TS, "step": 3}
    api.ok(api.post("/runs/log-metric", body))
    first = _snapshot(api, run_id, ["m"])
    api.ok(api.post("/runs/log-metric", body))
    assert _snapshot(api, run_id, ["m"]) == first
    assert [(m["value"], m["step"], m["timestamp"]) for m in api.history(run_id, "m")] == [
        (0.5, 3, TS)
    ]


def test_nan_metric_twice_is_idempotent(api: Api, run_id: str) -> None:
    body = {"run_id": run_id, "key": "n", "value": "NaN", "timestamp": TS, "step": 0}
    api.ok(api.post("/runs/log-metric", body))
    api.ok(api.post("/runs/log-metric", body))
    history = api.history(run_id, "n")
    assert [m["value"] for m in history] == ["NaN"]
    assert api.run_data(run_id)["metrics"] == {"n": "NaN"}


def test_log_batch_twice_is_idempotent(api: Api, run_id: str) -> None:
    body = {
        "run_id": run_id,
        "metrics": [
            {"key": "a", "value": 1, "timestamp": TS, "step": 0},
            {"key": "a", "value": 2, "timestamp": TS + 1, "step": 1},
            {"key": "b", "value": 3, "timestamp": TS, "step": 0},
        ],
        "params": [{"key": "p", "value": "1"}],
        "tags": [{"key": "t", "value": "1"}],
    }
    api.ok(api.post("/runs/log-batch", body))
    first = _snapshot(api, run_id, ["a", "b"])
    api.ok(api.post("/runs/log-batch", body))
    assert _snapshot(api, run_id, ["a", "b"]) == first
    assert len(api.history(run_id, "a")) == 2
    assert len(api.history(run_id, "b")) == 1


def test_duplicate_metrics_inside_one_batch_are_stored_once(api: Api, run_id: str) -> None:
    point = {"key": "d", "value": 1.5, "timestamp": TS, "step": 2}
    api.ok(api.post("/runs/log-batch", {"run_id": run_id, "metrics": [point, point, point]}))
    assert len(api.history(run_id, "d")) == 1


def test_set_tag_twice_is_idempotent(api: Api, run_id: str) -> None:
    body = {"run_id": run_id, "key": "t", "value": "v"}
    api.ok(api.post("/runs/set-tag", body))
    first = _snapshot(api, run_id, [])
    api.ok(api.post("/runs/set-tag", body))
    assert _snapshot(api, run_id, []) == first
    assert api.run_data(run_id)["tags"]["t"] == "v"


def test_update_run_twice_is_idempotent(api: Api, run_id: str) -> None:
    body = {"run_id": run_id, "status": "FINISHED", "end_time": TS}
    info = api.ok(api.post("/runs/update", body))["run_info"]
    again = api.ok(api.post("/runs/update", body))["run_info"]
    assert info == again
    assert (again["status"], again["end_time"]) == ("FINISHED", TS)


# --- response shape ----------------------------------------------------------------------------


def test_metric_specials_on_the_wire(api: Api, run_id: str) -> None:
    for key, value in [("nan", "NaN"), ("pinf", "Infinity"), ("ninf", "-Infinity")]:
        r = api.post(
            "/runs/log-metric", {"run_id": run_id, "key": key, "value": value, "timestamp": TS}
        )
        api.ok(r)
    metrics = api.run_data(run_id)["metrics"]
    assert metrics == {
        "nan": "NaN",
        "pinf": 1.7976931348623157e308,
        "ninf": -1.7976931348623157e308,
    }


def test_empty_responses_are_empty_objects(api: Api, run_id: str) -> None:
    r = api.post("/runs/set-tag", {"run_id": run_id, "key": "k", "value": "v"})
    assert r.json() == {}
    assert r.headers["content-type"].startswith("application/json")
