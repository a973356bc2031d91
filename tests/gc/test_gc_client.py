"""After ``runyard gc`` the official mlflow client, talking to a runyard server on the same
database, sees the surviving runs whole and the purged ones gone, and can reuse a purged name."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import Result
from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from tests.gc.world import World
from tests.integration.livesrv import client_environment
from tests.servers import ServerProcess

pytestmark = pytest.mark.integration


def test_client_sees_survivors_after_gc(
    world: World,
    run_gc: Callable[..., Result],
    db_url: str,
    start_server: Callable[..., ServerProcess],
) -> None:
    assert run_gc("--older-than", "30d").exit_code == 0
    server = start_server(db_url)
    r = world.runs
    with client_environment():
        client = MlflowClient(server.url)

        live = client.get_run(r["a_live"])
        assert [m.value for m in client.get_metric_history(r["a_live"], "loss")] == [1, 0.5, 1 / 3]
        assert live.data.params == {"lr": "0.1"}
        assert live.data.tags["note"] == "a_live"
        assert [d.dataset.name for d in live.inputs.dataset_inputs] == ["data-a"]
        assert live.inputs.model_inputs == []  # its input model m_b went with experiment B
        assert [o.model_id for o in live.outputs.model_outputs] == [world.models["m_a"]]
        assert [f.path for f in client.list_artifacts(r["a_live"])] == ["model"]

        survivors = client.search_runs([str(world.eids["A"])], run_view_type=ViewType.ALL)
        assert {run.info.run_id for run in survivors} == {r["a_live"], r["a_new"]}
        for label in ("a_old", "b1", "g1", "f_old"):
            with pytest.raises(MlflowException) as err:
                client.get_run(r[label])
            assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"

        model = client.get_logged_model(world.models["m_a"])
        assert model.source_run_id == r["a_old"]  # a model outlives the run that logged it
        assert {m.run_id for m in model.metrics or []} == {r["a_live"]}

        assert client.get_experiment_by_name("exp-B") is None
        eid = client.create_experiment("exp-B")
        assert client.get_experiment_by_name("exp-B").experiment_id == eid
