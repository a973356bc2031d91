"""The fluent API (``mlflow.set_experiment``, ``mlflow.start_run``, ``mlflow.log_*``) end to end."""

from __future__ import annotations

import math
import time

import mlflow
import pytest
from mlflow import MlflowClient

pytestmark = pytest.mark.integration

DOUBLE_MAX = 1.7976931348623157e308


def test_set_experiment_creates_a_new_one_then_reuses_it(client: MlflowClient, unique: str) -> None:
    name = f"fluent-exp-{unique}"
    assert client.get_experiment_by_name(name) is None

    created = mlflow.set_experiment(name)
    assert created.name == name
    assert created.lifecycle_stage == "active"
    assert created.experiment_id not in ("", "0")

    again = mlflow.set_experiment(name)
    assert again.experiment_id == created.experiment_id
    by_id = mlflow.set_experiment(experiment_id=created.experiment_id)
    assert by_id.name == name

    with mlflow.start_run() as run:
        assert run.info.experiment_id == created.experiment_id
    assert client.get_experiment_by_name(name).experiment_id == created.experiment_id


def test_start_run_with_name_and_tags_then_end_run(client: MlflowClient, unique: str) -> None:
    exp = mlflow.set_experiment(f"fluent-run-{unique}")
    before = int(time.time() * 1000)
    run = mlflow.start_run(run_name=f"first-{unique}", tags={"team": "ml", "priority": "1"})
    run_id = run.info.run_id
    assert run.info.run_name == f"first-{unique}"
    assert run.info.status == "RUNNING"
    assert mlflow.active_run().info.run_id == run_id
    mlflow.end_run()
    assert mlflow.active_run() is None

    got = client.get_run(run_id)
    assert got.info.experiment_id == exp.experiment_id
    assert got.info.run_name == f"first-{unique}"
    assert got.info.status == "FINISHED"
    assert got.info.lifecycle_stage == "active"
    assert got.info.start_time >= before - 5_000
    assert got.info.end_time is not None
    assert got.info.end_time >= got.info.start_time
    tags = got.data.tags
    assert tags["team"] == "ml"
    assert tags["priority"] == "1"
    assert tags["mlflow.runName"] == f"first-{unique}"
    assert "mlflow.user" in tags
    assert "mlflow.source.name" in tags


def test_start_run_accepts_tag_keys_that_set_tag_would_refuse(
    client: MlflowClient, unique: str
) -> None:
    # MLflow checks tag keys in set-tag and log-batch, but not when a run is created.
    mlflow.set_experiment(f"fluent-odd-tags-{unique}")
    with mlflow.start_run(tags={"what?": "1", "a=b": "2"}) as run:
        pass
    tags = client.get_run(run.info.run_id).data.tags
    assert (tags["what?"], tags["a=b"]) == ("1", "2")


def test_log_param_and_log_params_over_several_batches(client: MlflowClient, unique: str) -> None:
    mlflow.set_experiment(f"fluent-params-{unique}")
    params = {f"p{i:03d}": f"value-{i}" for i in range(150)}  # the client sends 100 + 50
    with mlflow.start_run() as run:
        mlflow.log_param("single", 42)
        mlflow.log_param("empty", "")
        mlflow.log_params(params)
        mlflow.log_params({"p000": "value-0"})  # the same value again is accepted
    got = client.get_run(run.info.run_id).data.params
    assert got == {**params, "single": "42", "empty": ""}


def test_log_metric_with_steps_and_timestamps(client: MlflowClient, unique: str) -> None:
    mlflow.set_experiment(f"fluent-metric-{unique}")
    base = 1_700_000_000_000
    points = [(0.9, 0, base), (0.5, 1, base + 10), (0.25, 2, base + 20), (0.125, 3, base + 30)]
    with mlflow.start_run() as run:
        for value, step, ts in points:
            mlflow.log_metric("loss", value, step=step, timestamp=ts)
        mlflow.log_metric("plain", 7)
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [(m.key, m.value, m.step, m.timestamp) for m in history] == [
        ("loss", v, s, t) for v, s, t in points
    ]
    data = client.get_run(run.info.run_id).data
    assert data.metrics == {"loss": 0.125, "plain": 7.0}
    plain = client.get_metric_history(run.info.run_id, "plain")
    assert len(plain) == 1
    assert plain[0].step == 0
    assert abs(plain[0].timestamp - time.time() * 1000) < 120_000


def test_log_metrics_at_a_step(client: MlflowClient, unique: str) -> None:
    mlflow.set_experiment(f"fluent-metrics-{unique}")
    with mlflow.start_run() as run:
        mlflow.log_metrics({"acc": 0.5, "f1": 0.25}, step=3)
        mlflow.log_metrics({"acc": 0.75, "f1": 0.5}, step=4)
    run_id = run.info.run_id
    assert client.get_run(run_id).data.metrics == {"acc": 0.75, "f1": 0.5}
    acc = client.get_metric_history(run_id, "acc")
    assert sorted((m.step, m.value) for m in acc) == [(3, 0.5), (4, 0.75)]
    f1 = client.get_metric_history(run_id, "f1")
    assert sorted((m.step, m.value) for m in f1) == [(3, 0.25), (4, 0.5)]


def test_nan_and_infinite_metric_values(client: MlflowClient, unique: str) -> None:
    mlflow.set_experiment(f"fluent-nan-{unique}")
    with mlflow.start_run() as run:
        mlflow.log_metric("nan", float("nan"))
        mlflow.log_metrics({"pinf": math.inf, "ninf": -math.inf, "finite": 1.5})
    run_id = run.info.run_id
    metrics = client.get_run(run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["pinf"] == DOUBLE_MAX
    assert metrics["ninf"] == -DOUBLE_MAX
    assert metrics["finite"] == 1.5
    (nan_point,) = client.get_metric_history(run_id, "nan")
    assert math.isnan(nan_point.value)
    (inf_point,) = client.get_metric_history(run_id, "pinf")
    assert inf_point.value == DOUBLE_MAX


def test_set_tag_and_set_tags(client: MlflowClient, unique: str) -> None:
    mlflow.set_experiment(f"fluent-tags-{unique}")
    with mlflow.start_run() as run:
        mlflow.set_tag("stage", "dev")
        mlflow.set_tags({"a": "1", "b": 2, "unicode": "héllo ✓"})
        mlflow.set_tag("stage", "prod")  # tags are overwritten, unlike params
    tags = client.get_run(run.info.run_id).data.tags
    assert tags["stage"] == "prod"
    assert tags["a"] == "1"
    assert tags["b"] == "2"
    assert tags["unicode"] == "héllo ✓"


def test_end_run_with_explicit_status(client: MlflowClient, unique: str) -> None:
    mlflow.set_experiment(f"fluent-status-{unique}")
    run = mlflow.start_run()
    mlflow.end_run(status="KILLED")
    info = client.get_run(run.info.run_id).info
    assert info.status == "KILLED"
    assert info.end_time is not None
    assert info.end_time >= info.start_time


def test_exception_inside_with_block_marks_the_run_failed(
    client: MlflowClient, unique: str
) -> None:
    mlflow.set_experiment(f"fluent-failed-{unique}")
    with pytest.raises(RuntimeError, match="boom"), mlflow.start_run() as run:
        mlflow.log_param("before", "crash")
        raise RuntimeError("boom")
    assert mlflow.active_run() is None
    got = client.get_run(run.info.run_id)
    assert got.info.status == "FAILED"
    assert got.info.end_time is not None
    assert got.data.params == {"before": "crash"}


def test_nested_runs_record_their_parent(client: MlflowClient, unique: str) -> None:
    mlflow.set_experiment(f"fluent-nested-{unique}")
    with mlflow.start_run() as parent, mlflow.start_run(nested=True) as child:
        child_id = child.info.run_id
    got = client.get_run(child_id)
    assert got.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert got.info.status == "FINISHED"
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"
