"""The production guide's end-to-end check: ``mlflow run`` of an MLproject against the server.

The example project trains an ElasticNet on scikit-learn's diabetes data; the run must arrive
with its parameters, metrics and a model that loads back through the server and predicts.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import mlflow.pyfunc
from sklearn.datasets import load_diabetes

from tests.servers import ServerProcess

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sklearn_elasticnet_diabetes"


def test_mlflow_run_of_the_example_project(
    server: ServerProcess, client: mlflow.MlflowClient, tmp_path: Path, unique: str
) -> None:
    name = f"elasticnet-{unique}"
    venv_bin = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": server.url,
        # `--env-manager local` runs the entry point with whatever `python` is on PATH.
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
    }
    command = [
        sys.executable, "-m", "mlflow", "run", str(EXAMPLE),
        "-P", "alpha=0.5", "--env-manager", "local", "--experiment-name", name,
    ]  # fmt: skip
    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr

    experiment = client.get_experiment_by_name(name)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.params["alpha"] == "0.5"
    assert run.data.params["l1_ratio"] == "0.1"
    assert set(run.data.metrics) >= {"rmse", "mae", "r2"}
    assert 0 < run.data.metrics["mae"] <= run.data.metrics["rmse"]
    assert -1 < run.data.metrics["r2"] < 1

    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    features = load_diabetes(as_frame=True).data.iloc[:4]
    predicted = list(model.predict(features))
    assert len(predicted) == 4
    assert all(math.isfinite(p) and 0 < p < 400 for p in predicted)
