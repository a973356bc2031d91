"""open_store picks the backend by the URI's scheme."""

from __future__ import annotations

from pathlib import Path

import pytest

from runyard.artifacts.local import LocalArtifactStore
from runyard.artifacts.registry import open_store
from runyard.artifacts.s3 import S3ArtifactStore
from runyard.artifacts.sftp import SftpArtifactStore
from runyard.errors import InvalidParameterValue


def test_local_paths_and_file_uris(tmp_path: Path) -> None:
    for uri in (str(tmp_path), tmp_path.as_uri(), f"file://localhost{tmp_path}"):
        store = open_store(uri)
        assert isinstance(store, LocalArtifactStore)
        assert store.root == tmp_path


def test_sftp(tmp_path: Path) -> None:
    store = open_store(
        "sftp://alice@files.example:2222/srv/artifacts/",
        key_file=tmp_path / "id",
        known_hosts=tmp_path / "kh",
    )
    assert isinstance(store, SftpArtifactStore)
    assert (store.host, store.port, store.username, store.root) == (
        "files.example", 2222, "alice", "/srv/artifacts",
    )  # fmt: skip
    assert store.uri == "sftp://alice@files.example:2222/srv/artifacts"


def test_sftp_refuses_a_password(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValue, match="password"):
        open_store("sftp://a:pw@h/x", key_file=tmp_path / "id", known_hosts=tmp_path / "kh")


def test_s3() -> None:
    store = open_store("s3://bucket/some/prefix/", endpoint_url="http://127.0.0.1:9000")
    assert isinstance(store, S3ArtifactStore)
    assert (store.bucket, store.prefix, store.uri) == (
        "bucket", "some/prefix", "s3://bucket/some/prefix",
    )  # fmt: skip


@pytest.mark.parametrize(
    "uri", ["", "gs://bucket/x", "hdfs://nn/x", "http://host/x", "file://otherhost/x"]
)
def test_unsupported(uri: str) -> None:
    with pytest.raises(InvalidParameterValue):
        open_store(uri)


def test_local_takes_no_options(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValue, match="no options"):
        open_store(str(tmp_path), endpoint_url="x")
