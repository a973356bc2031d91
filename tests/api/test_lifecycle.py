"""Lifecycle rules (deleted runs and experiments) and lookups of things that do not exist."""

from __future__ import annotations

import uuid

import pytest

from tests.api.httpapi import REFERENCE, Api

pytestmark = pytest.mark.integration

TS = 1_700_000_000_000
INVALID = "INVALID_PARAMETER_VALUE"
MISSING = "RESOURCE_DOES_NOT_EXIST"
UNKNOWN_RUN = "0123456789abcdef0123456789abcdef"


def _deleted_run(api: Api) -> str:
    run_id = api.run()
    api.ok(api.post("/runs/log-parameter", {"run_id": run_id, "key": "kept", "value": "1"}))
    api.ok(api.post("/runs/set-tag", {"run_id": run_id, "key": "tag", "value": "1"}))
    api.ok(api.post("/runs/delete", {"run_id": run_id}))
    return run_id


WRITES = [
    ("/runs/log-metric", {"key": "m", "value": 1, "timestamp": TS}),
    ("/runs/log-parameter", {"key": "p", "value": "1"}),
    ("/runs/set-tag", {"key": "t", "value": "1"}),
    ("/runs/delete-tag", {"key": "tag"}),
    ("/runs/log-batch", {"params": [{"key": "p", "value": "1"}]}),
    ("/runs/log-batch", {"metrics": [{"key": "m", "value": 1, "timestamp": TS}]}),
    ("/runs/update", {"status": "FINISHED", "end_time": TS}),
]


@pytest.mark.parametrize(
    ("path", "body"),
    WRITES,
    ids=["metric", "param", "tag", "delete-tag", "batch-params", "batch-metrics", "update"],
)
def test_writes_to_a_deleted_run(api: Api, path: str, body: dict[str, object]) -> None:
    run_id = _deleted_run(api)
    r = api.post(path, {"run_id": run_id, **body})
    api.error(
        r, INVALID, f"The run {run_id} must be in the 'active' state. Current state is deleted."
    )
    run = api.get_run(run_id)
    assert run["info"]["lifecycle_stage"] == "deleted"
    assert run["info"]["status"] == "RUNNING"
    data = api.run_data(run_id)
    assert data["params"] == {"kept": "1"}
    assert data["metrics"] == {}
    assert data["tags"]["tag"] == "1"
    assert "t" not in data["tags"]


def test_delete_and_restore_run_have_no_state_check(api: Api) -> None:
    run_id = _deleted_run(api)
    api.ok(api.post("/runs/delete", {"run_id": run_id}))
    assert api.get_run(run_id)["info"]["lifecycle_stage"] == "deleted"
    api.ok(api.post("/runs/restore", {"run_id": run_id}))
    api.ok(api.post("/runs/restore", {"run_id": run_id}))
    assert api.get_run(run_id)["info"]["lifecycle_stage"] == "active"
    api.ok(api.post("/runs/log-parameter", {"run_id": run_id, "key": "after", "value": "1"}))
    assert api.run_data(run_id)["params"] == {"kept": "1", "after": "1"}


def test_create_run_in_a_deleted_experiment(api: Api) -> None:
    exp = api.experiment()
    api.ok(api.post("/experiments/delete", {"experiment_id": exp}))
    r = api.post("/runs/create", {"experiment_id": exp, "start_time": TS})
    api.error(
        r, INVALID, f"The experiment {exp} must be in the 'active' state. Current state is deleted."
    )


def test_rename_a_deleted_experiment(api: Api) -> None:
    exp = api.experiment()
    api.ok(api.post("/experiments/delete", {"experiment_id": exp}))
    r = api.post("/experiments/update", {"experiment_id": exp, "new_name": f"x-{exp}-renamed"})
    # MLflow answers 500, which its client retries; runyard says at once that the request
    # cannot succeed (errors.InvalidState)
    status = 500 if REFERENCE else 400
    api.error(r, "INVALID_STATE", "Cannot rename a non-active experiment.", status=status)
    got = api.ok(api.get("/experiments/get", {"experiment_id": exp}))["experiment"]
    assert got["lifecycle_stage"] == "deleted"
    assert not got["name"].endswith("-renamed")


def test_tags_on_a_deleted_experiment(api: Api) -> None:
    exp = api.experiment()
    api.ok(api.post("/experiments/delete", {"experiment_id": exp}))
    r = api.post(
        "/experiments/set-experiment-tag", {"experiment_id": exp, "key": "a", "value": "b"}
    )
    api.error(
        r, INVALID, f"The experiment {exp} must be in the 'active' state. Current state is deleted."
    )


def test_experiment_name_collision_with_a_deleted_experiment(api: Api) -> None:
    name = f"collide-{uuid.uuid4().hex[:12]}"
    exp = api.ok(api.post("/experiments/create", {"name": name}))["experiment_id"]
    api.ok(api.post("/experiments/delete", {"experiment_id": exp}))
    r = api.post("/experiments/create", {"name": name})
    assert r.status_code == 400
    # MLflow appends the database driver's text after "Error: "; only the start is portable.
    api.error(r, "RESOURCE_ALREADY_EXISTS", prefix=f"Experiment(name={name}) already exists.")
    got = api.ok(api.get("/experiments/get-by-name", {"experiment_name": name}))["experiment"]
    assert (got["experiment_id"], got["lifecycle_stage"]) == (exp, "deleted")


def test_experiment_name_collision_with_an_active_experiment(api: Api) -> None:
    name = f"collide-active-{uuid.uuid4().hex[:12]}"
    api.ok(api.post("/experiments/create", {"name": name}))
    r = api.post("/experiments/create", {"name": name})
    api.error(r, "RESOURCE_ALREADY_EXISTS", prefix=f"Experiment(name={name}) already exists.")


def test_delete_or_restore_in_the_wrong_state(api: Api) -> None:
    exp = api.experiment()
    r = api.post("/experiments/restore", {"experiment_id": exp})
    api.error(r, MISSING, f"No Experiment with id={exp} exists")
    api.ok(api.post("/experiments/delete", {"experiment_id": exp}))
    r = api.post("/experiments/delete", {"experiment_id": exp})
    api.error(r, MISSING, f"No Experiment with id={exp} exists")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/runs/get", {}),
        ("POST", "/runs/delete", {}),
        ("POST", "/runs/restore", {}),
        ("POST", "/runs/update", {"status": "FINISHED"}),
        ("POST", "/runs/log-metric", {"key": "m", "value": 1, "timestamp": TS}),
        ("POST", "/runs/log-parameter", {"key": "p", "value": "1"}),
        ("POST", "/runs/set-tag", {"key": "t", "value": "1"}),
        ("POST", "/runs/delete-tag", {"key": "t"}),
        ("POST", "/runs/log-batch", {"params": [{"key": "p", "value": "1"}]}),
    ],
    ids=lambda v: v if isinstance(v, str) and v.startswith("/") else "",
)
def test_unknown_run(api: Api, method: str, path: str, body: dict[str, object]) -> None:
    if method == "GET":
        r = api.get(path, {"run_id": UNKNOWN_RUN})
    else:
        r = api.post(path, {"run_id": UNKNOWN_RUN, **body})
    assert r.status_code == 404
    api.error(r, MISSING, f"Run with id={UNKNOWN_RUN} not found")


def test_delete_a_tag_that_does_not_exist(api: Api, run_id: str) -> None:
    r = api.post("/runs/delete-tag", {"run_id": run_id, "key": "nope"})
    api.error(r, MISSING, f"No tag with name: nope in run with id {run_id}")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/experiments/get", {}),
        ("POST", "/experiments/delete", {}),
        ("POST", "/experiments/restore", {}),
        ("POST", "/experiments/update", {"new_name": "whatever-unknown"}),
        ("POST", "/runs/create", {"start_time": TS}),
    ],
    ids=["get", "delete", "restore", "update", "create-run"],
)
def test_unknown_experiment_id(api: Api, method: str, path: str, body: dict[str, object]) -> None:
    r = (
        api.get(path, {"experiment_id": "987654321"})
        if method == "GET"
        else api.post(path, {"experiment_id": "987654321", **body})
    )
    assert r.status_code == 404
    api.error(r, MISSING, "No Experiment with id=987654321 exists")


def test_unknown_experiment_name(api: Api) -> None:
    r = api.get("/experiments/get-by-name", {"experiment_name": "no-such-experiment-xyz"})
    api.error(r, MISSING, "Could not find experiment with name 'no-such-experiment-xyz'")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/experiments/get", {"experiment_id": "abc"}),
        ("POST", "/experiments/delete", {"experiment_id": "abc"}),
        ("POST", "/runs/create", {"experiment_id": "abc"}),
        ("POST", "/runs/search", {"experiment_ids": ["abc"]}),
    ],
    ids=["get", "delete", "create-run", "search-runs"],
)
def test_non_integer_experiment_id(
    api: Api, method: str, path: str, body: dict[str, object]
) -> None:
    r = api.get(path, body) if method == "GET" else api.post(path, body)
    api.error(r, INVALID, "Invalid experiment ID 'abc'. Experiment ID must be a valid integer.")


def test_get_history_of_an_unknown_run_is_empty(api: Api) -> None:
    r = api.get("/metrics/get-history", {"run_id": UNKNOWN_RUN, "metric_key": "m"})
    assert api.ok(r) == {}


def test_get_history_of_an_unknown_key_is_empty(api: Api, run_id: str) -> None:
    r = api.get("/metrics/get-history", {"run_id": run_id, "metric_key": "never-logged"})
    assert api.ok(r) == {}


def test_get_returns_deleted_runs_and_experiments(api: Api) -> None:
    exp = api.experiment()
    run_id = api.run(exp)
    api.ok(api.post("/experiments/delete", {"experiment_id": exp}))
    got = api.ok(api.get("/experiments/get", {"experiment_id": exp}))["experiment"]
    assert got["lifecycle_stage"] == "deleted"
    assert api.get_run(run_id)["info"]["lifecycle_stage"] == "deleted"
