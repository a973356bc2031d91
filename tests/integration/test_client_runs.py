"""Runs, metrics, params, tags and dataset inputs through ``MlflowClient``."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException

pytestmark = pytest.mark.integration

T0 = 1_650_000_000_000


@pytest.fixture
def exp_id(client: MlflowClient, unique: str, request: pytest.FixtureRequest) -> str:
    return client.create_experiment(f"runs-{request.node.originalname}-{unique}")


def test_create_run_and_get_run(client: MlflowClient, exp_id: str, unique: str) -> None:
    run = client.create_run(
        exp_id, start_time=T0, run_name=f"made-{unique}", tags={"k": "v", "mlflow.user": "carol"}
    )
    info = run.info
    assert info.experiment_id == exp_id
    assert info.run_name == f"made-{unique}"
    assert info.status == "RUNNING"
    assert info.lifecycle_stage == "active"
    assert info.start_time == T0
    assert info.end_time is None
    assert info.user_id == "carol"
    assert len(info.run_id) == 32
    assert info.artifact_uri == f"mlflow-artifacts:/{exp_id}/{info.run_id}/artifacts"

    got = client.get_run(info.run_id)
    assert got.info.run_id == info.run_id
    assert got.info.run_name == f"made-{unique}"
    assert got.info.start_time == T0
    assert got.info.user_id == "carol"
    assert got.data.tags == {"k": "v", "mlflow.user": "carol", "mlflow.runName": f"made-{unique}"}
    assert got.data.params == {}
    assert got.data.metrics == {}
    assert got.inputs.dataset_inputs == []


def test_create_run_without_name_gets_a_generated_one(client: MlflowClient, exp_id: str) -> None:
    run = client.create_run(exp_id)
    name = run.info.run_name
    assert name
    assert client.get_run(run.info.run_id).data.tags["mlflow.runName"] == name
    parts = name.split("-")
    assert len(parts) == 3
    assert parts[2].isdigit()


def test_get_unknown_run(client: MlflowClient) -> None:
    with pytest.raises(MlflowException) as info:
        client.get_run("f" * 32)
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert f"Run with id={'f' * 32} not found" in info.value.message


def test_latest_metric_is_highest_step_then_timestamp(client: MlflowClient, exp_id: str) -> None:
    run_id = client.create_run(exp_id).info.run_id
    client.log_metric(run_id, "m", 1.0, timestamp=T0, step=5)
    client.log_metric(run_id, "m", 9.0, timestamp=T0 + 100, step=2)  # later, but lower step
    assert client.get_run(run_id).data.metrics["m"] == 1.0

    client.log_metric(run_id, "m", 3.0, timestamp=T0 + 50, step=5)  # same step, later time
    assert client.get_run(run_id).data.metrics["m"] == 3.0

    client.log_metric(run_id, "m", 2.0, timestamp=T0 + 10, step=5)  # same step, earlier time
    assert client.get_run(run_id).data.metrics["m"] == 3.0

    client.log_metric(run_id, "m", -4.0, timestamp=T0, step=6)  # higher step wins
    assert client.get_run(run_id).data.metrics["m"] == -4.0

    history = client.get_metric_history(run_id, "m")
    assert sorted((m.step, m.timestamp, m.value) for m in history) == [
        (2, T0 + 100, 9.0),
        (5, T0, 1.0),
        (5, T0 + 10, 2.0),
        (5, T0 + 50, 3.0),
        (6, T0, -4.0),
    ]
    # Search orders and filters on the same "latest" value.
    found = client.search_runs([exp_id], filter_string="metrics.m < 0")
    assert [r.info.run_id for r in found] == [run_id]


def test_get_metric_history_pages_past_25000_points(client: MlflowClient, exp_id: str) -> None:
    run_id = client.create_run(exp_id).info.run_id
    n = 25_250  # the client asks for 25000 per page, so this takes two pages
    metrics = [Metric("long", float(i) / 4, T0 + i, i) for i in range(n)]
    client.log_batch(run_id, metrics=metrics)  # split by the client into batches of 1000
    history = client.get_metric_history(run_id, "long")
    assert len(history) == n
    triples = sorted((m.step, m.timestamp, m.value) for m in history)
    assert triples == [(i, T0 + i, float(i) / 4) for i in range(n)]
    assert client.get_run(run_id).data.metrics == {"long": float(n - 1) / 4}
    assert client.get_metric_history(run_id, "absent") == []


def test_delete_and_restore_run(client: MlflowClient, exp_id: str) -> None:
    keep = client.create_run(exp_id, start_time=T0).info.run_id
    gone = client.create_run(exp_id, start_time=T0 + 1).info.run_id
    client.delete_run(gone)
    assert client.get_run(gone).info.lifecycle_stage == "deleted"

    def ids(view: int) -> list[str]:
        return [r.info.run_id for r in client.search_runs([exp_id], run_view_type=view)]

    assert ids(ViewType.ACTIVE_ONLY) == [keep]
    assert ids(ViewType.DELETED_ONLY) == [gone]
    assert ids(ViewType.ALL) == [gone, keep]

    client.restore_run(gone)
    assert client.get_run(gone).info.lifecycle_stage == "active"
    assert ids(ViewType.ACTIVE_ONLY) == [gone, keep]
    assert ids(ViewType.DELETED_ONLY) == []


def test_set_terminated(client: MlflowClient, exp_id: str) -> None:
    run_id = client.create_run(exp_id, start_time=T0).info.run_id
    client.set_terminated(run_id, "KILLED", end_time=T0 + 1234)
    info = client.get_run(run_id).info
    assert (info.status, info.end_time) == ("KILLED", T0 + 1234)

    other = client.create_run(exp_id, start_time=T0).info.run_id
    client.set_terminated(other)
    info = client.get_run(other).info
    assert info.status == "FINISHED"
    assert info.end_time > T0


def test_update_run_renames_and_the_run_name_tag_follows(
    client: MlflowClient, exp_id: str, unique: str
) -> None:
    run_id = client.create_run(exp_id, run_name=f"before-{unique}").info.run_id
    client.update_run(run_id, name=f"after-{unique}")
    got = client.get_run(run_id)
    assert got.info.run_name == f"after-{unique}"
    assert got.data.tags["mlflow.runName"] == f"after-{unique}"
    assert got.info.status == "RUNNING"

    client.update_run(run_id, status="FAILED")
    got = client.get_run(run_id)
    assert got.info.status == "FAILED"
    assert got.info.run_name == f"after-{unique}"

    # Setting the tag renames the run, too.
    client.set_tag(run_id, "mlflow.runName", f"tagged-{unique}")
    assert client.get_run(run_id).info.run_name == f"tagged-{unique}"
    found = client.search_runs([exp_id], filter_string=f"attributes.run_name = 'tagged-{unique}'")
    assert [r.info.run_id for r in found] == [run_id]


def test_set_and_delete_tag(client: MlflowClient, exp_id: str) -> None:
    run_id = client.create_run(exp_id).info.run_id
    client.set_tag(run_id, "a", "1")
    client.set_tag(run_id, "b", "2")
    client.delete_tag(run_id, "a")
    tags = client.get_run(run_id).data.tags
    assert "a" not in tags
    assert tags["b"] == "2"
    with pytest.raises(MlflowException) as info:
        client.delete_tag(run_id, "a")
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert f"No tag with name: a in run with id {run_id}" in info.value.message


def test_log_batch_with_metrics_params_and_tags(client: MlflowClient, exp_id: str) -> None:
    run_id = client.create_run(exp_id).info.run_id
    client.log_batch(
        run_id,
        metrics=[
            Metric("acc", 0.5, T0, 0),
            Metric("acc", 0.75, T0 + 1, 1),
            Metric("loss", 2.5, T0, 0),
        ],
        params=[Param("lr", "0.01"), Param("layers", "3")],
        tags=[RunTag("team", "ml"), RunTag("stage", "dev")],
    )
    data = client.get_run(run_id).data
    assert data.metrics == {"acc": 0.75, "loss": 2.5}
    assert data.params == {"lr": "0.01", "layers": "3"}
    assert data.tags["team"] == "ml"
    assert data.tags["stage"] == "dev"
    acc = client.get_metric_history(run_id, "acc")
    assert sorted((m.step, m.timestamp, m.value) for m in acc) == [(0, T0, 0.5), (1, T0 + 1, 0.75)]


def test_log_inputs_and_search_by_dataset(client: MlflowClient, exp_id: str, unique: str) -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    train = mlflow.data.from_pandas(df, name=f"train-{unique}", targets="y")
    with mlflow.start_run(experiment_id=exp_id) as run:
        mlflow.log_input(train, context="training")
    run_id = run.info.run_id

    other_id = client.create_run(exp_id).info.run_id
    entity = Dataset(
        name=f"eval-{unique}",
        digest="abc123",
        source_type="http",
        source=json.dumps({"url": "https://example.com/eval.csv"}),
        schema=json.dumps({"mlflow_colspec": [{"type": "double", "name": "x"}]}),
        profile=json.dumps({"num_rows": 3}),
    )
    client.log_inputs(
        other_id, [DatasetInput(entity, tags=[InputTag("mlflow.data.context", "eval")])]
    )

    (first,) = client.get_run(run_id).inputs.dataset_inputs
    assert first.dataset.name == f"train-{unique}"
    assert first.dataset.digest == train.digest
    assert first.dataset.source_type == train.source._get_source_type()
    assert json.loads(first.dataset.schema) == json.loads(train.to_dict()["schema"])
    assert {t.key: t.value for t in first.tags} == {"mlflow.data.context": "training"}

    (second,) = client.get_run(other_id).inputs.dataset_inputs
    assert second.dataset.name == f"eval-{unique}"
    assert second.dataset.digest == "abc123"
    assert second.dataset.source_type == "http"
    assert json.loads(second.dataset.source) == {"url": "https://example.com/eval.csv"}
    assert json.loads(second.dataset.profile) == {"num_rows": 3}
    assert {t.key: t.value for t in second.tags} == {"mlflow.data.context": "eval"}

    def found(filter_string: str) -> set[str]:
        return {r.info.run_id for r in client.search_runs([exp_id], filter_string=filter_string)}

    assert found(f"datasets.name = 'train-{unique}'") == {run_id}
    assert found("datasets.digest = 'abc123'") == {other_id}
    assert found("datasets.context = 'eval'") == {other_id}
    assert found(f"datasets.name LIKE '%-{unique}'") == {run_id, other_id}
    assert found(f"datasets.name IN ('eval-{unique}', 'nope')") == {other_id}
    assert found("datasets.name = 'nope'") == set()

    # Logging the same dataset again does not duplicate the input.
    client.log_inputs(
        other_id, [DatasetInput(entity, tags=[InputTag("mlflow.data.context", "eval")])]
    )
    assert len(client.get_run(other_id).inputs.dataset_inputs) == 1


def test_params_are_immutable(client: MlflowClient, exp_id: str) -> None:
    run_id = client.create_run(exp_id).info.run_id
    client.log_param(run_id, "p", "1")
    client.log_param(run_id, "p", "1")  # the same value again is fine
    with pytest.raises(MlflowException) as info:
        client.log_param(run_id, "p", "2")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert (
        "Changing param values is not allowed. Param with key='p' was already logged with "
        f"value='1' for run ID='{run_id}'. Attempted logging new value '2'."
    ) in info.value.message

    with pytest.raises(MlflowException) as info:
        client.log_batch(run_id, params=[Param("p", "3"), Param("q", "x")])
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert (
        "Changing param values is not allowed. Params were already logged="
        f"'[{{'key': 'p', 'old_value': '1', 'new_value': '3'}}]' for run ID='{run_id}'."
    ) in info.value.message
    assert client.get_run(run_id).data.params == {"p": "1"}


def test_writes_to_a_deleted_run_are_rejected(client: MlflowClient, exp_id: str) -> None:
    run_id = client.create_run(exp_id).info.run_id
    client.log_param(run_id, "kept", "yes")
    client.delete_run(run_id)
    message = f"The run {run_id} must be in the 'active' state. Current state is deleted."
    writes = [
        lambda: client.log_metric(run_id, "m", 1.0),
        lambda: client.log_param(run_id, "p", "1"),
        lambda: client.set_tag(run_id, "t", "1"),
        lambda: client.delete_tag(run_id, "mlflow.runName"),
        lambda: client.log_batch(run_id, params=[Param("p", "1")]),
        lambda: client.update_run(run_id, status="FINISHED"),
    ]
    for write in writes:
        with pytest.raises(MlflowException) as info:
            write()
        assert info.value.error_code == "INVALID_PARAMETER_VALUE"
        assert message in info.value.message
    got = client.get_run(run_id)
    assert got.data.params == {"kept": "yes"}
    assert got.data.metrics == {}
    assert got.info.status == "RUNNING"
