"""What only the local store can get wrong: symlinks, and names it keeps for itself."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runyard.artifacts.base import ArtifactNotFound, FileInfo
from runyard.artifacts.local import LocalArtifactStore
from runyard.errors import InvalidParameterValue

pytestmark = pytest.mark.anyio


async def body(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret")
    return tmp_path / "root"


async def test_symlink_out_of_the_root_is_refused(root: Path) -> None:
    os.symlink(root.parent / "outside", root / "escape")
    os.symlink(root.parent / "outside" / "secret.txt", root / "secret-link")
    store = LocalArtifactStore(root)
    for path in ("escape/secret.txt", "secret-link"):
        with pytest.raises(InvalidParameterValue, match="outside the artifact root"):
            [chunk async for chunk in store.read(path)]
        with pytest.raises(InvalidParameterValue):
            await store.stat(path)
    with pytest.raises(InvalidParameterValue):
        await store.put("escape/new.txt", body(b"x"))
    with pytest.raises(InvalidParameterValue):
        await store.delete("escape")
    with pytest.raises(InvalidParameterValue):
        await store.list("escape")
    assert await store.list("") == []  # links leading out are not shown either
    assert not (root.parent / "outside" / "new.txt").exists()
    assert (root.parent / "outside" / "secret.txt").read_text() == "secret"


async def test_symlink_inside_the_root_is_followed(root: Path) -> None:
    store = LocalArtifactStore(root)
    await store.put("real/file.txt", body(b"data"))
    os.symlink(root / "real", root / "alias")
    assert b"".join([c async for c in store.read("alias/file.txt")]) == b"data"
    assert await store.stat("alias") == FileInfo("alias", True)
    await store.delete("alias")  # removes the link, not what it points to
    assert (root / "real" / "file.txt").exists()


@pytest.mark.parametrize("path", [".runyard-uploads", ".runyard-uploads/x", "a/.f.runyard-tmp-1"])
async def test_reserved_names_are_refused(root: Path, path: str) -> None:
    store = LocalArtifactStore(root)
    with pytest.raises(InvalidParameterValue, match="reserved"):
        await store.put(path, body(b"x"))
    with pytest.raises(InvalidParameterValue, match="reserved"):
        await store.delete(path)


@pytest.mark.parametrize("upload_id", ["../../etc", "", "ABC", "0" * 31 + "/"])
async def test_malformed_upload_ids_are_unknown(root: Path, upload_id: str) -> None:
    store = LocalArtifactStore(root)
    with pytest.raises(ArtifactNotFound):
        await store.put_part("f.bin", upload_id, 1, body(b"x"))


async def test_upload_id_belongs_to_its_path(root: Path) -> None:
    store = LocalArtifactStore(root)
    upload_id = await store.create_multipart("one.bin")
    with pytest.raises(ArtifactNotFound):
        await store.put_part("other.bin", upload_id, 1, body(b"x"))
    assert len(upload_id) == 32


async def test_part_numbers_are_bounded(root: Path) -> None:
    store = LocalArtifactStore(root)
    upload_id = await store.create_multipart("f.bin")
    for number in (0, 10_001):
        with pytest.raises(InvalidParameterValue):
            await store.put_part("f.bin", upload_id, number, body(b"x"))
