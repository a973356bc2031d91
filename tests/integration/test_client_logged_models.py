"""MLflow 3 LoggedModels through ``MlflowClient`` and the fluent API."""

from __future__ import annotations

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus
from mlflow.entities.dataset import Dataset
from mlflow.exceptions import MlflowException

pytestmark = pytest.mark.integration

T0 = 1_650_000_000_000


@pytest.fixture
def exp_id(client: MlflowClient, unique: str, request: pytest.FixtureRequest) -> str:
    return client.create_experiment(f"lm-{request.node.originalname}-{unique}")


def test_create_get_finalize(client: MlflowClient, exp_id: str) -> None:
    run = client.create_run(exp_id)
    model = client.create_logged_model(
        exp_id,
        name="clf",
        source_run_id=run.info.run_id,
        tags={"team": "a", "stage": "dev"},
        params={"alpha": "0.1", "depth": "3"},
        model_type="sklearn",
    )
    assert model.model_id.startswith("m-")
    assert len(model.model_id) == 34
    assert model.experiment_id == exp_id
    assert model.name == "clf"
    assert model.source_run_id == run.info.run_id
    assert model.model_type == "sklearn"
    assert model.status == LoggedModelStatus.PENDING
    assert model.tags == {"team": "a", "stage": "dev"}
    assert model.params == {"alpha": "0.1", "depth": "3"}
    assert model.metrics is None or model.metrics == []
    assert (
        model.artifact_location == f"mlflow-artifacts:/{exp_id}/models/{model.model_id}/artifacts"
    )
    assert model.creation_timestamp == model.last_updated_timestamp

    got = client.get_logged_model(model.model_id)
    assert got.to_dictionary() == model.to_dictionary()

    done = client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    assert done.status == LoggedModelStatus.READY
    assert done.last_updated_timestamp >= model.last_updated_timestamp
    assert client.get_logged_model(model.model_id).status == LoggedModelStatus.READY
    failed = client.finalize_logged_model(model.model_id, "FAILED")
    assert failed.status == LoggedModelStatus.FAILED


def test_create_without_name(client: MlflowClient, exp_id: str) -> None:
    model = client.create_logged_model(exp_id)
    assert model.name
    assert model.tags == {}
    assert model.params == {}


def test_many_params_go_in_batches(client: MlflowClient, exp_id: str) -> None:
    # The client sends the first 100 params with create and the rest through log-params.
    params = {f"p{i:03d}": str(i) for i in range(250)}
    model = client.create_logged_model(exp_id, params=params)
    assert model.params == params
    assert client.get_logged_model(model.model_id).params == params


def test_tags_and_params(client: MlflowClient, exp_id: str) -> None:
    model = client.create_logged_model(exp_id, tags={"a": "1"})
    client.set_logged_model_tags(model.model_id, {"b": "2", "a": "3"})
    assert client.get_logged_model(model.model_id).tags == {"a": "3", "b": "2"}
    client.delete_logged_model_tag(model.model_id, "a")
    assert client.get_logged_model(model.model_id).tags == {"b": "2"}
    with pytest.raises(MlflowException) as err:
        client.delete_logged_model_tag(model.model_id, "a")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert f"No tag with key 'a' found for model with ID '{model.model_id}'." in str(err.value)

    client.log_model_params(model.model_id, {"lr": "0.01", "epochs": "5"})
    assert client.get_logged_model(model.model_id).params == {"lr": "0.01", "epochs": "5"}


def test_unknown_model(client: MlflowClient) -> None:
    for call in (
        lambda: client.get_logged_model("m-0123"),
        lambda: client.finalize_logged_model("m-0123", "READY"),
        lambda: client.delete_logged_model("m-0123"),
    ):
        with pytest.raises(MlflowException) as err:
            call()
        assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
        assert "Logged model with ID 'm-0123' not found." in str(err.value)
    # The client looks the model up first and words the failure itself.
    for call in (
        lambda: client.set_logged_model_tags("m-0123", {"a": "1"}),
        lambda: client.log_model_params("m-0123", {"a": "1"}),
    ):
        with pytest.raises(MlflowException) as err:
            call()
        assert "Failed to get logged model with ID m-0123." in str(err.value)


def test_invalid_name(client: MlflowClient, exp_id: str) -> None:
    with pytest.raises(MlflowException) as err:
        client.create_logged_model(exp_id, name="a/b")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Invalid model name ('a/b') provided." in str(err.value)


def test_delete(client: MlflowClient, exp_id: str) -> None:
    model = client.create_logged_model(exp_id, name="gone")
    kept = client.create_logged_model(exp_id, name="kept")
    client.delete_logged_model(model.model_id)
    with pytest.raises(MlflowException) as err:
        client.get_logged_model(model.model_id)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    found = client.search_logged_models([exp_id])
    assert [m.model_id for m in found] == [kept.model_id]


def test_metrics_logged_for_a_model(client: MlflowClient, exp_id: str) -> None:
    model = client.create_logged_model(exp_id, name="scored")
    dataset = Dataset(name="eval", digest="d1", source_type="code", source="{}")
    with mlflow.start_run(experiment_id=exp_id) as run:
        mlflow.log_metric("acc", 0.5, step=1, timestamp=T0, model_id=model.model_id)
        mlflow.log_metric(
            "acc", 0.75, step=2, timestamp=T0 + 1, model_id=model.model_id, dataset=dataset
        )
        mlflow.log_metrics({"loss": 0.25}, step=3, timestamp=T0 + 2, model_id=model.model_id)
        mlflow.log_metric("plain", 1.0, timestamp=T0)
    got = client.get_logged_model(model.model_id)
    seen = sorted(
        (
            m.key,
            m.value,
            m.step,
            m.timestamp,
            m.run_id,
            m.model_id,
            m.dataset_name,
            m.dataset_digest,
        )
        for m in got.metrics or []
    )
    run_id = run.info.run_id
    assert seen == [
        ("acc", 0.5, 1, T0, run_id, model.model_id, None, None),
        ("acc", 0.75, 2, T0 + 1, run_id, model.model_id, "eval", "d1"),
        ("loss", 0.25, 3, T0 + 2, run_id, model.model_id, None, None),
    ]
    assert client.get_run(run_id).data.metrics == {"acc": 0.75, "loss": 0.25, "plain": 1.0}

    by_dataset = client.search_logged_models(
        [exp_id], datasets=[{"dataset_name": "eval", "dataset_digest": "d1"}]
    )
    assert [m.model_id for m in by_dataset] == [model.model_id]


def test_fluent_initialize_and_search(exp_id: str) -> None:
    mlflow.set_experiment(experiment_id=exp_id)
    first = mlflow.initialize_logged_model(name="first", params={"k": "1"}, model_type="t1")
    second = mlflow.initialize_logged_model(name="second", tags={"x": "y"})
    assert first.experiment_id == exp_id
    assert first.status == LoggedModelStatus.PENDING
    mlflow.finalize_logged_model(first.model_id, "READY")
    mlflow.set_logged_model_tags(first.model_id, {"best": "yes"})
    tags = mlflow.get_logged_model(first.model_id).tags
    assert tags["best"] == "yes"
    assert tags["mlflow.source.type"] == "LOCAL"  # the fluent API adds context tags

    found = mlflow.search_logged_models(experiment_ids=[exp_id], output_format="list")
    assert [m.name for m in found] == ["second", "first"]
    frame = mlflow.search_logged_models(
        experiment_ids=[exp_id], filter_string="name = 'first'", output_format="pandas"
    )
    assert list(frame["model_id"]) == [first.model_id]
    assert second.tags["x"] == "y"


def test_search_filters_order_and_pages(client: MlflowClient, exp_id: str) -> None:
    made = []
    with mlflow.start_run(experiment_id=exp_id):
        for i in range(5):
            model = client.create_logged_model(
                exp_id, name=f"m{i}", params={"i": str(i)}, tags={"odd": str(i % 2)}
            )
            mlflow.log_metric("score", float(i % 3), timestamp=T0, model_id=model.model_id)
            made.append(model)
    ids = [m.model_id for m in made]

    newest_first = client.search_logged_models([exp_id])
    assert [m.model_id for m in newest_first] == ids[::-1]
    assert newest_first.token is None

    odd = client.search_logged_models([exp_id], filter_string="tags.odd = '1'")
    assert [m.name for m in odd] == ["m3", "m1"]
    scored = client.search_logged_models(
        [exp_id], filter_string="metrics.score >= 1 AND params.i != '4'"
    )
    assert [m.name for m in scored] == ["m2", "m1"]
    ordered = client.search_logged_models(
        [exp_id], order_by=[{"field_name": "metrics.score", "ascending": False}]
    )
    assert [m.name for m in ordered] == ["m2", "m4", "m1", "m3", "m0"]
    by_name = client.search_logged_models([exp_id], order_by=[{"field_name": "name"}])
    assert [m.name for m in by_name] == ["m0", "m1", "m2", "m3", "m4"]

    pages = []
    token = None
    while True:
        page = client.search_logged_models(
            [exp_id], max_results=2, order_by=[{"field_name": "name"}], page_token=token
        )
        pages.append([m.name for m in page])
        token = page.token
        if not token:
            break
    assert pages == [["m0", "m1"], ["m2", "m3"], ["m4"]]

    with pytest.raises(MlflowException) as err:
        client.search_logged_models([exp_id], filter_string="name > 'a'")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as err:
        client.search_logged_models([exp_id], order_by=[{"field_name": "params.i"}])
    assert "Only metrics are supported." in str(err.value)
