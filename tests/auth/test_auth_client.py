"""The official mlflow client against ``runyard server --auth``: Basic credentials and a token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow.exceptions import MlflowException

from tests.auth.conftest import PASSWORDS, AuthServer, cli, ok
from tests.integration.livesrv import CLIENT_ENV, environment


@pytest.fixture
def as_alice(srv: AuthServer) -> Iterator[mlflow.MlflowClient]:
    env = {**CLIENT_ENV, "MLFLOW_TRACKING_USERNAME": "alice"}
    with environment({**env, "MLFLOW_TRACKING_PASSWORD": PASSWORDS["alice"]}):
        yield mlflow.MlflowClient(srv.url)


@pytest.fixture
def as_token(srv: AuthServer) -> Iterator[mlflow.MlflowClient]:
    token = cli(srv.uri, "tokens", "create", "alice", "--name", "client").stdout.strip()
    with environment({**CLIENT_ENV, "MLFLOW_TRACKING_TOKEN": token}):
        yield mlflow.MlflowClient(srv.url)


def _log_and_read_back(client: mlflow.MlflowClient, name: str, tmp_path: Path) -> None:
    experiment_id = client.create_experiment(name)
    run = client.create_run(experiment_id)
    run_id = run.info.run_id
    client.log_param(run_id, "alpha", "0.5")
    client.log_metric(run_id, "loss", 0.25, step=3)
    client.log_batch(run_id, metrics=[mlflow.entities.Metric("acc", 0.9, 1000, 1)])
    (tmp_path / "notes.txt").write_text(f"written by {name}")
    client.log_artifact(run_id, str(tmp_path / "notes.txt"), artifact_path="docs")
    client.set_terminated(run_id)

    got = client.get_run(run_id)
    assert got.info.experiment_id == experiment_id
    assert got.info.status == "FINISHED"
    assert got.data.params == {"alpha": "0.5"}
    assert got.data.metrics == {"loss": 0.25, "acc": 0.9}
    history = client.get_metric_history(run_id, "loss")
    assert [(m.value, m.step) for m in history] == [(0.25, 3)]
    assert [f.path for f in client.list_artifacts(run_id, "docs")] == ["docs/notes.txt"]
    local = client.download_artifacts(run_id, "docs/notes.txt", str(tmp_path / "down"))
    assert Path(local).read_text() == f"written by {name}"
    found = client.search_runs([experiment_id])
    assert [r.info.run_id for r in found] == [run_id]


def test_basic_credentials(as_alice: mlflow.MlflowClient, tmp_path: Path) -> None:
    _log_and_read_back(as_alice, "client-basic", tmp_path)


def test_bearer_token(as_token: mlflow.MlflowClient, tmp_path: Path) -> None:
    _log_and_read_back(as_token, "client-token", tmp_path)


def test_client_sees_mlflows_error_codes(srv: AuthServer) -> None:
    alice = {**CLIENT_ENV, "MLFLOW_TRACKING_USERNAME": "alice"}
    wrong = {**alice, "MLFLOW_TRACKING_PASSWORD": "wrong-password"}
    with environment(wrong), pytest.raises(MlflowException) as unauthenticated:
        mlflow.MlflowClient(srv.url).get_experiment("0")
    assert unauthenticated.value.error_code == "UNAUTHENTICATED"
    right = {**alice, "MLFLOW_TRACKING_PASSWORD": PASSWORDS["alice"]}
    with environment(right), pytest.raises(MlflowException) as denied:
        mlflow.MlflowClient(srv.url).get_experiment("0")  # Default: no grant for alice
    assert denied.value.error_code == "PERMISSION_DENIED"
    assert "needs READ on experiment 0" in denied.value.message


def test_admin_reads_what_users_logged(srv: AuthServer, as_alice: mlflow.MlflowClient) -> None:
    experiment_id = as_alice.create_experiment("client-admin-view")
    run_id = as_alice.create_run(experiment_id).info.run_id
    as_alice.log_param(run_id, "p", "1")
    with environment(
        {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": PASSWORDS["admin"]}
    ):
        admin = mlflow.MlflowClient(srv.url)
        assert admin.get_run(run_id).data.params == {"p": "1"}
        names = [e.name for e in admin.search_experiments()]
    assert "client-admin-view" in names
    grants = ok(cli(srv.uri, "permissions", "list", "--experiment-id", experiment_id))
    assert grants.splitlines() == [f"{experiment_id}\talice\tMANAGE"]  # the creator's
