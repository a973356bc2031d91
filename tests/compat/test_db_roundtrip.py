"""A database written by one server is read back, unchanged, through the other.

mlflow 3.17.2 writes through `mlflow server`; runyard serves that file/database in place (and the
reverse), and the official client reads every value back.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from tests.servers import mlflow_server, runyard_server

pytestmark = pytest.mark.integration


def _write(url: str) -> dict[str, object]:
    """Log a representative experiment through the official client; return what to expect."""
    client = MlflowClient(url)
    eid = client.create_experiment("roundtrip", tags={"team": "vision"})
    run = client.create_run(eid, run_name="first", tags={"stage": "dev"}, start_time=1000)
    rid = run.info.run_id
    client.log_batch(
        rid,
        metrics=[
            Metric("loss", 0.5, 10, 0),
            Metric("loss", 0.25, 20, 1),
            Metric("nan", math.nan, 5, 0),
        ],
        params=[Param("alpha", "0.5"), Param("layers", "3")],
        tags=[RunTag("note", "hello")],
    )
    client.log_metric(rid, "acc", 0.9, timestamp=30, step=7)
    client.set_terminated(rid, "FINISHED", end_time=2000)
    deleted = client.create_run(eid, run_name="second").info.run_id
    client.delete_run(deleted)
    return {"eid": eid, "rid": rid, "deleted": deleted}


def _read_back(url: str, expected: dict[str, object]) -> None:
    client = MlflowClient(url)
    exp = client.get_experiment_by_name("roundtrip")
    assert exp is not None and exp.experiment_id == expected["eid"]
    assert exp.tags["team"] == "vision"
    run = client.get_run(str(expected["rid"]))
    assert run.info.run_name == "first"
    assert run.info.status == "FINISHED"
    assert (run.info.start_time, run.info.end_time) == (1000, 2000)
    assert run.data.params == {"alpha": "0.5", "layers": "3"}
    assert run.data.tags["stage"] == "dev" and run.data.tags["note"] == "hello"
    assert run.data.metrics["loss"] == 0.25  # latest = highest step
    assert run.data.metrics["acc"] == 0.9
    assert math.isnan(run.data.metrics["nan"])
    history = client.get_metric_history(str(expected["rid"]), "loss")
    assert [(m.step, m.timestamp, m.value) for m in history] == [(0, 10, 0.5), (1, 20, 0.25)]
    assert client.get_run(str(expected["deleted"])).info.lifecycle_stage == "deleted"
    found = client.search_runs([str(expected["eid"])], "params.alpha = '0.5'")
    assert [r.info.run_id for r in found] == [expected["rid"]]
    # and the reader can keep writing to it
    new = client.create_run(str(expected["eid"]), run_name="third")
    client.log_param(new.info.run_id, "p", "1")
    assert client.get_run(new.info.run_id).data.params == {"p": "1"}
    assert int(client.create_experiment("after-roundtrip")) > int(str(expected["eid"]))


@pytest.mark.parametrize("writer", ["mlflow", "runyard"])
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_database_written_by_one_server_is_served_by_the_other(
    writer: str, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    uri = (
        f"sqlite:///{tmp_path / 'shared.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("make_pg_db")()
    )
    start = {"mlflow": mlflow_server, "runyard": runyard_server}
    reader = "runyard" if writer == "mlflow" else "mlflow"
    first = start[writer](uri, tmp_path)
    try:
        expected = _write(first.url)
    finally:
        first.stop()
    second = start[reader](uri, tmp_path)
    try:
        _read_back(second.url, expected)
    finally:
        second.stop()
