"""Edge cases found by comparing runyard with a live ``mlflow server`` request by request."""

from __future__ import annotations

import uuid

import pytest

from tests.api.httpapi import REFERENCE, Api

pytestmark = pytest.mark.integration

INVALID = "INVALID_PARAMETER_VALUE"
DOCS = " See the API docs for more information about request parameters."


def test_create_run_accepts_any_tag_key(api: Api) -> None:
    """MLflow validates tag keys in set-tag and log-batch, but not in runs/create."""
    exp = api.experiment()
    tags = [
        {"key": "my tag?", "value": "x"},
        {"key": "../up", "value": "y"},
        {"key": "ünï", "value": "z"},
    ]
    body = api.ok(api.post("/runs/create", {"experiment_id": exp, "tags": tags}))
    run_id = body["run"]["info"]["run_id"]
    got = api.run_data(run_id)["tags"]
    assert {k: got[k] for k in ("my tag?", "../up", "ünï")} == {
        "my tag?": "x",
        "../up": "y",
        "ünï": "z",
    }


def test_create_run_rejects_a_run_name_that_contradicts_the_tag(api: Api) -> None:
    exp = api.experiment()
    body = {
        "experiment_id": exp,
        "run_name": "a",
        "tags": [{"key": "mlflow.runName", "value": "b"}],
    }
    api.error(
        api.post("/runs/create", body),
        INVALID,
        "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different "
        "values (run_name='a', mlflow.runName='b').",
    )


def test_experiment_name_and_tag_limits(api: Api) -> None:
    api.error(
        api.post("/experiments/create", {"name": "n" * 501}),
        INVALID,
        "'name' exceeds the maximum length of 500 characters",
    )
    exp = api.experiment()
    r = api.post(
        "/experiments/set-experiment-tag", {"experiment_id": exp, "key": "k", "value": "v" * 20001}
    )
    api.error(r, INVALID, "'value' exceeds the maximum length of 20000 characters")
    r = api.post(
        "/experiments/set-experiment-tag", {"experiment_id": exp, "key": "k" * 251, "value": "v"}
    )
    api.error(r, INVALID, "'key' exceeds the maximum length of 250 characters")
    value = "v" * 20000
    api.ok(
        api.post(
            "/experiments/set-experiment-tag", {"experiment_id": exp, "key": "k", "value": value}
        )
    )
    got = api.ok(api.get("/experiments/get", {"experiment_id": exp}))["experiment"]
    assert {t["key"]: t["value"] for t in got["tags"]} == {"k": value}


def test_delete_a_missing_experiment_tag(api: Api) -> None:
    exp = api.experiment()
    r = api.post("/experiments/delete-experiment-tag", {"experiment_id": exp, "key": "nope"})
    api.error(r, "RESOURCE_DOES_NOT_EXIST", f"No tag with name: nope in experiment with id {exp}")


@pytest.mark.parametrize(
    ("dataset", "tags", "message"),
    [
        ({"name": "d" * 501}, [], "'name' exceeds the maximum length of 500 characters"),
        ({"digest": "x" * 37}, [], "'digest' exceeds the maximum length of 36 characters"),
        (
            {},
            [{"key": "mlflow.data.context", "value": "v" * 501}],
            "'value' exceeds the maximum length of 500 characters",
        ),
        (
            {},
            [{"key": "k" * 256, "value": "v"}],
            "'key' exceeds the maximum length of 255 characters",
        ),
    ],
    ids=["name", "digest", "tag-value", "tag-key"],
)
def test_dataset_input_limits(
    api: Api, run_id: str, dataset: dict[str, str], tags: list[dict[str, str]], message: str
) -> None:
    entity = {"name": "d", "digest": "x", "source_type": "local", "source": "{}", **dataset}
    body = {"run_id": run_id, "datasets": [{"dataset": entity, "tags": tags}]}
    api.error(api.post("/runs/log-inputs", body), INVALID, message)
    assert "inputs" not in api.get_run(run_id) or not api.get_run(run_id)["inputs"]


# --- get-history-bulk-interval -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_results": "0"}, f"max_results must be between 1 and 2500.{DOCS}"),
        ({"max_results": "2501"}, f"max_results must be between 1 and 2500.{DOCS}"),
        (
            {"max_results": "abc"},
            "Invalid value \"abc\" for parameter 'max_results' supplied:  Hint: Value was of "
            f"type 'str'.{DOCS}",
        ),
        (
            {"start_step": "1"},
            "If either start step or end step are specified, both must be specified.",
        ),
        (
            {"start_step": "5", "end_step": "2"},
            "end_step must be greater than start_step. Found start_step=5 and end_step=2.",
        ),
    ],
    ids=["max-0", "max-2501", "max-abc", "start-only", "start-after-end"],
)
def test_bulk_interval_validation(
    api: Api, run_id: str, params: dict[str, str], message: str
) -> None:
    query = {"run_ids": run_id, "metric_key": "m", **params}
    api.error(api.get("/metrics/get-history-bulk-interval", query), INVALID, message)


def test_bulk_interval_run_id_limit(api: Api) -> None:
    query = [("run_ids", f"r{i}") for i in range(101)] + [("metric_key", "m")]
    r = api.request("GET", "/metrics/get-history-bulk-interval", params=query)
    api.error(
        r,
        INVALID,
        "GetMetricHistoryBulkInterval request must specify at most 100 run_ids. "
        f"Received 101 run_ids.{DOCS}",
    )


def test_bulk_interval_returns_points_with_run_ids(api: Api) -> None:
    exp = api.experiment()
    runs = [api.run(exp), api.run(exp)]
    for n, run_id in enumerate(runs):
        metrics = [
            {"key": "m", "value": float(step * (n + 1)), "timestamp": 1000 + step, "step": step}
            for step in range(5)
        ]
        api.ok(api.post("/runs/log-batch", {"run_id": run_id, "metrics": metrics}))
    query = [("run_ids", r) for r in runs] + [("metric_key", "m")]
    body = api.ok(api.request("GET", "/metrics/get-history-bulk-interval", params=query))
    got = sorted((m["run_id"], m["step"], m["value"], m["timestamp"]) for m in body["metrics"])
    expected = sorted(
        (run_id, step, float(step * (n + 1)), 1000 + step)
        for n, run_id in enumerate(runs)
        for step in range(5)
    )
    assert got == expected
    query += [("start_step", "1"), ("end_step", "3")]
    body = api.ok(api.request("GET", "/metrics/get-history-bulk-interval", params=query))
    assert sorted({m["step"] for m in body["metrics"]}) == [1, 2, 3]


# --- enum fields ---------------------------------------------------------------------------------

# Characters for which str.isdigit() is true but int() fails ("²", "⑦") or succeeds ("١").
ODD_DIGITS = ["²", "⑦", "١", "BOGUS", "-1", "0", "99"]


@pytest.mark.parametrize("value", ODD_DIGITS)
def test_odd_enum_values_never_crash(api: Api, run_id: str, value: str) -> None:
    """MLflow ignores an enum value it cannot parse; runyard may refuse it, but not crash."""
    responses = [
        api.get("/experiments/search", {"max_results": "5", "view_type": value}),
        api.post("/experiments/search", {"max_results": 5, "view_type": value}),
        api.post("/runs/search", {"experiment_ids": ["0"], "run_view_type": value}),
        api.post("/runs/update", {"run_id": run_id, "status": value}),
    ]
    for r in responses:
        assert r.status_code in (200, 400), (r.request.url, r.status_code, r.text)
        body = r.json()
        if r.status_code == 400:
            api.error(r, INVALID)
        else:
            assert isinstance(body, dict)
    assert api.get_run(run_id)["info"]["status"] == "RUNNING"


# --- runyard's own answers where MLflow crashes --------------------------------------------------


@pytest.mark.skipif(REFERENCE, reason="MLflow answers this with 500 INTERNAL_ERROR")
def test_duplicate_order_by_fields(api: Api) -> None:
    exp = api.experiment()
    r = api.post(
        "/runs/search", {"experiment_ids": [exp], "order_by": ["metrics.a", "metrics.a DESC"]}
    )
    api.error(r, INVALID, "`order_by` contains duplicate fields: ['metrics.a', 'metrics.a DESC']")


OUT_OF_RANGE = ["2147483648", "9223372036854775808", "99999999999999999999999"]


@pytest.mark.skipif(
    REFERENCE, reason="MLflow fails at the database here (500 on SQLite, DB text on PostgreSQL)"
)
@pytest.mark.parametrize("exp_id", OUT_OF_RANGE, ids=["int32+1", "int64+1", "huge"])
@pytest.mark.parametrize(
    ("method", "path", "extra"),
    [
        ("GET", "/experiments/get", {}),
        ("POST", "/experiments/delete", {}),
        ("POST", "/experiments/restore", {}),
        ("POST", "/experiments/update", {"new_name": "never-used-name"}),
        ("POST", "/experiments/set-experiment-tag", {"key": "a", "value": "b"}),
        ("POST", "/experiments/delete-experiment-tag", {"key": "a"}),
        ("POST", "/runs/create", {}),
    ],
    ids=["get", "delete", "restore", "update", "set-tag", "delete-tag", "create-run"],
)
def test_out_of_range_experiment_ids_do_not_exist(
    api: Api, exp_id: str, method: str, path: str, extra: dict[str, str]
) -> None:
    """An id beyond what the column holds is an id that does not exist, on every backend."""
    body = {"experiment_id": exp_id, **extra}
    r = api.get(path, body) if method == "GET" else api.post(path, body)
    api.error(r, "RESOURCE_DOES_NOT_EXIST", f"No Experiment with id={exp_id} exists")


@pytest.mark.skipif(
    REFERENCE, reason="MLflow fails at the database here (500 on SQLite, DB text on PostgreSQL)"
)
@pytest.mark.parametrize("exp_id", OUT_OF_RANGE, ids=["int32+1", "int64+1", "huge"])
def test_searching_out_of_range_experiment_ids_finds_nothing(api: Api, exp_id: str) -> None:
    assert api.ok(api.post("/runs/search", {"experiment_ids": [exp_id]})) == {}
    for flt in (f"experiment_id = '{exp_id}'", f"experiment_id IN ('{exp_id}', '0')"):
        body = api.ok(api.post("/experiments/search", {"max_results": 5, "filter": flt}))
        assert [e["experiment_id"] for e in body.get("experiments", [])] == (
            ["0"] if "IN" in flt else []
        )


@pytest.mark.skipif(REFERENCE, reason="MLflow answers these with a 500 (embedded null byte)")
@pytest.mark.parametrize("location", ["a\x00b", "/tmp/a\x00b", "s3://bucket/\x01x"])
def test_artifact_location_with_a_control_character(api: Api, location: str) -> None:
    """Found by tests/fuzz: resolving such a location as a path raised ValueError (500)."""
    name = f"ctl-{uuid.uuid4().hex[:12]}"
    r = api.post("/experiments/create", {"name": name, "artifact_location": location})
    api.error(r, INVALID, prefix="Invalid artifact location")
