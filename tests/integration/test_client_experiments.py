"""Experiment lifecycle through ``MlflowClient``."""

from __future__ import annotations

import time

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tests.integration.livesrv import REFERENCE

pytestmark = pytest.mark.integration


def test_create_experiment_with_tags_and_artifact_location(
    client: MlflowClient, unique: str
) -> None:
    name = f"exp-create-{unique}"
    location = f"s3://bucket/runyard-tests/{unique}"
    before = int(time.time() * 1000)
    exp_id = client.create_experiment(
        name, artifact_location=location, tags={"owner": "alice", "note": "ünïcode ✓"}
    )
    assert isinstance(exp_id, str)
    assert int(exp_id) > 0

    exp = client.get_experiment(exp_id)
    assert exp.experiment_id == exp_id
    assert exp.name == name
    assert exp.artifact_location == location
    assert exp.lifecycle_stage == "active"
    assert exp.tags == {"owner": "alice", "note": "ünïcode ✓"}
    assert exp.creation_time >= before - 5_000
    assert exp.last_update_time >= exp.creation_time

    by_name = client.get_experiment_by_name(name)
    assert by_name is not None
    assert by_name.experiment_id == exp_id
    assert by_name.artifact_location == location
    assert by_name.tags == exp.tags

    run = client.create_run(exp_id)
    assert run.info.artifact_uri == f"{location}/{run.info.run_id}/artifacts"


def test_default_artifact_location_and_default_experiment(
    client: MlflowClient, unique: str
) -> None:
    exp_id = client.create_experiment(f"exp-default-loc-{unique}")
    exp = client.get_experiment(exp_id)
    assert exp.artifact_location == f"mlflow-artifacts:/{exp_id}"
    default = client.get_experiment("0")
    assert default.name == "Default"
    assert default.lifecycle_stage == "active"
    assert client.get_experiment_by_name("Default").experiment_id == "0"


def test_get_experiment_by_name_for_a_missing_one_is_none(
    client: MlflowClient, unique: str
) -> None:
    assert client.get_experiment_by_name(f"exp-missing-{unique}") is None
    assert mlflow.get_experiment_by_name(f"exp-missing-{unique}") is None


def test_get_unknown_experiment_id_raises_resource_does_not_exist(client: MlflowClient) -> None:
    with pytest.raises(MlflowException) as info:
        client.get_experiment("987654321")
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert "No Experiment with id=987654321 exists" in info.value.message


def test_rename_experiment(client: MlflowClient, unique: str) -> None:
    old, new = f"exp-old-{unique}", f"exp-new-{unique}"
    exp_id = client.create_experiment(old)
    client.rename_experiment(exp_id, new)
    assert client.get_experiment(exp_id).name == new
    assert client.get_experiment_by_name(new).experiment_id == exp_id
    assert client.get_experiment_by_name(old) is None
    # The freed name can be taken by a new experiment.
    assert client.create_experiment(old) != exp_id


def test_set_and_delete_experiment_tags(client: MlflowClient, unique: str) -> None:
    exp_id = client.create_experiment(f"exp-tags-{unique}", tags={"keep": "1"})
    client.set_experiment_tag(exp_id, "team", "vision")
    client.set_experiment_tag(exp_id, "team", "nlp")  # overwrite
    client.set_experiment_tag(exp_id, "empty", "")
    assert client.get_experiment(exp_id).tags == {"keep": "1", "team": "nlp", "empty": ""}
    client.delete_experiment_tag(exp_id, "team")
    assert client.get_experiment(exp_id).tags == {"keep": "1", "empty": ""}

    mlflow.set_experiment(experiment_id=exp_id)
    mlflow.set_experiment_tags({"fluent": "yes", "n": 3})
    tags = client.get_experiment(exp_id).tags
    assert tags == {"keep": "1", "empty": "", "fluent": "yes", "n": "3"}


def test_delete_and_restore_experiment_cascade_to_runs(client: MlflowClient, unique: str) -> None:
    name = f"exp-cascade-{unique}"
    exp_id = client.create_experiment(name)
    run_a = client.create_run(exp_id).info.run_id
    run_b = client.create_run(exp_id).info.run_id
    run_c = client.create_run(exp_id).info.run_id
    client.delete_run(run_c)  # deleted before the experiment

    client.delete_experiment(exp_id)
    exp = client.get_experiment(exp_id)
    assert exp.lifecycle_stage == "deleted"
    assert [client.get_run(r).info.lifecycle_stage for r in (run_a, run_b, run_c)] == [
        "deleted"
    ] * 3
    # A deleted experiment keeps its name and is still found by it.
    found = client.get_experiment_by_name(name)
    assert found is not None
    assert (found.experiment_id, found.lifecycle_stage) == (exp_id, "deleted")
    assert client.search_runs([exp_id]) == []

    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    # Restoring an experiment restores all of its runs, including ones deleted earlier.
    assert [client.get_run(r).info.lifecycle_stage for r in (run_a, run_b, run_c)] == ["active"] * 3
    assert sorted(r.info.run_id for r in client.search_runs([exp_id])) == sorted(
        [run_a, run_b, run_c]
    )


def test_deleted_experiment_still_reserves_its_name(client: MlflowClient, unique: str) -> None:
    name = f"exp-reserved-{unique}"
    exp_id = client.create_experiment(name)
    client.delete_experiment(exp_id)
    with pytest.raises(MlflowException) as info:
        client.create_experiment(name)
    assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert f"Experiment(name={name}) already exists" in info.value.message
    # The fluent API refuses to activate a deleted experiment.
    with pytest.raises(MlflowException, match="deleted experiment"):
        mlflow.set_experiment(name)


def test_duplicate_active_experiment_name(client: MlflowClient, unique: str) -> None:
    name = f"exp-dup-{unique}"
    client.create_experiment(name)
    with pytest.raises(MlflowException) as info:
        client.create_experiment(name)
    assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"


def test_operations_on_a_deleted_experiment(client: MlflowClient, unique: str) -> None:
    exp_id = client.create_experiment(f"exp-deleted-ops-{unique}")
    client.delete_experiment(exp_id)

    with pytest.raises(MlflowException) as info:
        client.create_run(exp_id)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert (
        f"The experiment {exp_id} must be in the 'active' state. Current state is deleted."
        in info.value.message
    )

    # MLflow answers 500 INVALID_STATE, which the client treats as a transient failure and
    # reports only that its retries ran out; runyard answers 400, raised at once with the cause.
    with pytest.raises(MlflowException) as info:
        client.rename_experiment(exp_id, f"exp-deleted-renamed-{unique}")
    if REFERENCE:
        assert "500" in str(info.value)
    else:
        assert info.value.error_code == "INVALID_STATE"
        assert "Cannot rename a non-active experiment." in info.value.message
    assert client.get_experiment(exp_id).name == f"exp-deleted-ops-{unique}"

    with pytest.raises(MlflowException) as info:
        client.delete_experiment(exp_id)
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
