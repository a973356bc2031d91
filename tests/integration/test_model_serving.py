"""The seed series' serving step: ``mlflow models serve -m models:/<name>@champion``.

The example project's model (an ElasticNet on scikit-learn's diabetes data) is logged and
registered through the server, ``champion`` is set on it, and the official scoring server, which
resolves the alias and downloads the model through the tracking server, must answer
``/invocations`` with the model's own predictions. A later version that the alias does not name
makes sure the served model is the one the alias points to, not the latest.

One scoring server per backend (it takes seconds to start), shared by the module's tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet
from sklearn.model_selection import train_test_split

from tests.servers import ServerProcess, free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    # pandas 3 on MLflow's own input-example code, not on anything here.
    pytest.mark.filterwarnings("ignore:Operation with range is deprecated"),
]

VENV_BIN = Path(sys.executable).parent
START_TIMEOUT = 90.0  # seconds for the scoring server to download the model and answer /ping
# Fixed requirements keep log_model from inferring them in a subprocess.
REQUIREMENTS = ["scikit-learn", "numpy", "pandas"]


@dataclass(frozen=True)
class Served:
    url: str
    features: pd.DataFrame  # rows the model never saw in training
    champion: np.ndarray  # the aliased version's predictions for ``features``, in process
    latest: np.ndarray  # the newer, unaliased version's predictions


def scoring_environment(tracking_uri: str) -> dict[str, str]:
    """The test's environment without its MLFLOW_* settings, pointed at ``tracking_uri``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    # The CLI starts `uvicorn` by name; it must be this virtualenv's.
    env["PATH"] = str(VENV_BIN) + os.pathsep + env.get("PATH", "")
    return env


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the scoring server and every process it forked (it leads its own process group)."""

    def signal_group(sig: signal.Signals) -> None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)

    signal_group(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        signal_group(signal.SIGKILL)
        proc.wait()
    signal_group(signal.SIGKILL)  # a worker that outlived its parent


@contextmanager
def scoring_server(model_uri: str, tracking_uri: str, workdir: Path) -> Iterator[str]:
    """``mlflow models serve`` of ``model_uri`` on a free loopback port, until the block ends."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = workdir / f"serve-{port}.log"
    command = [
        str(VENV_BIN / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local",
        "-h", "127.0.0.1", "-p", str(port), "-w", "1",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=workdir,
            env=scoring_environment(tracking_uri),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow models serve exited ({proc.returncode}):\n{log.read_text()}")
            try:
                if httpx.get(url + "/ping", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no /ping answer in {START_TIMEOUT:.0f} s:\n{log.read_text()}")
            time.sleep(0.25)
        yield url
    finally:
        stop_group(proc)


def train(alpha: float, l1_ratio: float) -> tuple[ElasticNet, pd.DataFrame, pd.DataFrame]:
    """The example project's model; the fitted model, its held-out rows and an input example."""
    features, target = load_diabetes(return_X_y=True, as_frame=True)
    train_x, test_x, train_y, _ = train_test_split(
        features, target, test_size=0.25, random_state=42
    )
    model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, random_state=42).fit(train_x, train_y)
    return model, test_x.iloc[:12], test_x.iloc[:5]


@pytest.fixture(scope="module")
def served(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    name = f"serving-{uuid.uuid4().hex[:10]}"
    client = mlflow.MlflowClient(server.url)
    experiment_id = client.create_experiment(name)

    champion, features, example = train(alpha=0.5, l1_ratio=0.1)
    latest, _, _ = train(alpha=0.01, l1_ratio=0.9)
    previous_uri = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(server.url)
    try:
        for model in (champion, latest):
            with mlflow.start_run(experiment_id=experiment_id):
                mlflow.sklearn.log_model(
                    model,
                    name="model",
                    input_example=example,
                    pip_requirements=REQUIREMENTS,
                    registered_model_name=name,
                )
    finally:
        mlflow.set_tracking_uri(previous_uri)  # type: ignore[arg-type]
    assert [mv.version for mv in client.search_model_versions(f"name = '{name}'")] == ["2", "1"]
    client.set_registered_model_alias(name, "champion", "1")
    assert client.get_model_version_by_alias(name, "champion").version == "1"

    expected = champion.predict(features)
    newer = latest.predict(features)
    assert not np.allclose(expected, newer)  # else serving the wrong version would pass

    workdir = tmp_path_factory.mktemp("serve")
    with scoring_server(f"models:/{name}@champion", server.url, workdir) as url:
        yield Served(url, features, expected, newer)


def invoke(served: Served, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(served.url + "/invocations", json=body, timeout=30)


def predictions(response: httpx.Response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return np.asarray(response.json()["predictions"], dtype=float)


def test_ping_and_version(served: Served) -> None:
    ping = httpx.get(served.url + "/ping", timeout=5)
    assert ping.status_code == 200
    version = httpx.get(served.url + "/version", timeout=5)
    assert version.status_code == 200
    assert version.text == mlflow.__version__


def test_dataframe_split_gets_the_champions_predictions(served: Served) -> None:
    frame = served.features
    body = {
        "dataframe_split": {
            "columns": list(frame.columns),
            "index": [int(i) for i in frame.index],
            "data": frame.to_numpy().tolist(),
        }
    }
    got = predictions(invoke(served, body))
    assert got.shape == (len(frame),)
    assert np.allclose(got, served.champion)
    assert not np.allclose(got, served.latest)
    # Diabetes progression scores: sane, distinct values, not a constant.
    assert np.all((got > 0) & (got < 400))
    assert np.ptp(got) > 1


def test_dataframe_records_in_another_column_order(served: Served) -> None:
    frame = served.features[list(reversed(served.features.columns))]
    records = [{k: float(v) for k, v in row.items()} for row in frame.to_dict("records")]
    got = predictions(invoke(served, {"dataframe_records": records}))
    assert np.allclose(got, served.champion)


def test_a_missing_column_is_refused_by_the_logged_signature(served: Served) -> None:
    # The signature made the round trip through the server with the model: without it the
    # estimator itself would fail on the short frame, with a different message.
    frame = served.features.drop(columns=["bmi"])
    body = {"dataframe_split": {"columns": list(frame.columns), "data": frame.to_numpy().tolist()}}
    response = invoke(served, body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Model is missing inputs ['bmi']" in error["message"]
