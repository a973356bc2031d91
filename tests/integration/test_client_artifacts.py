"""Artifacts through the proxy with the official client, for every destination (local disk,
SFTP to a real OpenSSH sshd, S3 to a local S3-compatible server) on SQLite and PostgreSQL:
every file is read back byte for byte."""

from __future__ import annotations

import filecmp
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pytest
from mlflow.store.artifact import http_artifact_repo

from tests.artifacts.services import destination_args
from tests.integration.livesrv import REFERENCE, client_environment, environment, live_server
from tests.servers import ServerProcess

DESTINATIONS = ["local", "sftp", "s3"]
SERVERS = [
    pytest.param(
        (db, dest), id=f"{db}-{dest}", marks=[pytest.mark.postgres] if db == "postgres" else []
    )
    for db in ("sqlite", "postgres")
    for dest in DESTINATIONS
]


@pytest.fixture(scope="module", params=SERVERS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A runyard server per database and artifact destination (overrides conftest's)."""
    db, dest = request.param
    if dest != "local" and REFERENCE:
        pytest.skip("the reference server is only run with a local destination")
    extra, env = destination_args(
        dest, request.getfixturevalue("sshd"), request.getfixturevalue("s3_server"), f"it-{db}"
    )
    workdir = tmp_path_factory.mktemp(f"srv-{db}-{dest}")
    with client_environment(), live_server(db, workdir, *extra, env=env or None) as srv:
        yield srv


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_log_artifact_and_download_byte_for_byte(
    client: mlflow.MlflowClient, tmp_path: Path, unique: str
) -> None:
    eid = client.create_experiment(f"art-{unique}")
    run = client.create_run(eid)
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
    data = os.urandom(3 * 1024 * 1024 + 17)
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    client.log_artifact(run.info.run_id, str(src))
    client.log_artifact(run.info.run_id, str(src), artifact_path="copies/deeper")

    listed = client.list_artifacts(run.info.run_id)
    assert [(f.path, f.is_dir, f.file_size) for f in listed] == [
        ("blob.bin", False, len(data)),
        ("copies", True, None),
    ]
    deeper = client.list_artifacts(run.info.run_id, "copies/deeper")
    assert [(f.path, f.file_size) for f in deeper] == [("copies/deeper/blob.bin", len(data))]

    out = Path(client.download_artifacts(run.info.run_id, "copies", str(tmp_path / "dl")))
    assert (out / "deeper" / "blob.bin").read_bytes() == data


def test_log_artifacts_with_nested_folders(
    client: mlflow.MlflowClient, tmp_path: Path, unique: str
) -> None:
    src = tmp_path / "src"
    for rel, size in [("a.txt", 10), ("sub/b.json", 0), ("sub/deep/c.bin", 70_000)]:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(os.urandom(size))
    run = client.create_run(client.create_experiment(f"tree-{unique}"))
    client.log_artifacts(run.info.run_id, str(src), artifact_path="tree")

    dest = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, dst_path=str(tmp_path)))
    assert _tree(dest / "tree") == _tree(src)
    assert not filecmp.dircmp(src, dest / "tree").diff_files
    assert [f.path for f in client.list_artifacts(run.info.run_id, "tree/sub")] == [
        "tree/sub/b.json",
        "tree/sub/deep",
    ]


def test_text_dict_and_image_round_trip(unique: str, tmp_path: Path) -> None:
    mlflow.set_experiment(f"fluent-art-{unique}")
    image = (np.arange(16 * 16 * 3) % 256).astype(np.uint8).reshape(16, 16, 3)
    with mlflow.start_run() as run:
        mlflow.log_text("héllo\nworld", "notes/hello.txt")
        mlflow.log_dict({"alpha": 0.5, "layers": [1, 2]}, "config.json")
        mlflow.log_dict({"k": "v"}, "config.yaml")
        mlflow.log_image(image, "images/grid.png")
    base = f"runs:/{run.info.run_id}"
    assert mlflow.artifacts.load_text(f"{base}/notes/hello.txt") == "héllo\nworld"
    assert mlflow.artifacts.load_dict(f"{base}/config.json") == {"alpha": 0.5, "layers": [1, 2]}
    assert mlflow.artifacts.load_text(f"{base}/config.yaml").strip() == "k: v"
    loaded = mlflow.artifacts.load_image(f"{base}/images/grid.png")
    assert np.array_equal(np.asarray(loaded), image)


@pytest.fixture
def multipart_env() -> Iterator[None]:
    """Make the client take the multipart path for an 11 MB file, in 5 MiB parts (S3's
    smallest part size; the client's default is 10 MB)."""
    env = {
        "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE": str(5 * 1024 * 1024),
        "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE": str(5 * 1024 * 1024),
    }
    with environment(env):
        yield


def test_large_file_over_the_multipart_path(
    client: mlflow.MlflowClient,
    multipart_env: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    unique: str,
) -> None:
    repo_class = http_artifact_repo.HttpArtifactRepository
    completed: list[str] = []
    original = repo_class.complete_multipart_upload

    def recording(self: Any, local_file: str, upload_id: str, *args: Any, **kw: Any) -> Any:
        completed.append(upload_id)
        return original(self, local_file, upload_id, *args, **kw)

    monkeypatch.setattr(repo_class, "complete_multipart_upload", recording)
    data = os.urandom(11 * 1024 * 1024 + 123)  # three parts, the last one short
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    run = client.create_run(client.create_experiment(f"mpu-{unique}"))
    client.log_artifact(run.info.run_id, str(src), artifact_path="large")
    assert len(completed) == 1, "the client did not take the multipart path"
    out = Path(client.download_artifacts(run.info.run_id, "large/big.bin", str(tmp_path / "o")))
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(data).digest()


def test_logged_model_artifacts_and_loading(
    client: mlflow.MlflowClient, server: ServerProcess, tmp_path: Path, unique: str
) -> None:
    from sklearn.linear_model import LinearRegression

    mlflow.set_experiment(f"models-{unique}")
    features = np.arange(20, dtype=float).reshape(10, 2)
    target = features @ np.array([2.0, -1.0]) + 3.0
    with mlflow.start_run() as run:
        model = LinearRegression().fit(features, target)
        # explicit requirements: inferring them imports and times every module (seconds)
        info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
    assert info.model_id.startswith("m-")
    for uri in (f"runs:/{run.info.run_id}/model", info.model_uri):
        loaded = mlflow.pyfunc.load_model(uri)
        assert np.allclose(loaded.predict(features[:3]), target[:3])

    listed = httpx.get(
        f"{server.url}/api/2.0/mlflow/logged-models/{info.model_id}/artifacts/directories"
    ).json()
    names = {f["path"] for f in listed["files"]}
    assert {"MLmodel", "requirements.txt"} <= names
    assert len(names) >= 4  # the model file, conda.yaml, python_env.yaml as well
    assert listed["root_uri"].endswith(f"/models/{info.model_id}/artifacts")
    mlmodel = httpx.get(
        f"{server.url}/ajax-api/2.0/mlflow/logged-models/{info.model_id}/artifacts/files",
        params={"artifact_file_path": "MLmodel"},
    )
    assert mlmodel.status_code == 200
    assert b"sklearn" in mlmodel.content

    out = Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(tmp_path)))
    assert (out / "MLmodel").read_bytes() == mlmodel.content
