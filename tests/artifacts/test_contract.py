"""The artifact store contract (runyard.artifacts.base), run against every backend."""

from __future__ import annotations

import gc
import hashlib
import os
import random
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from runyard.artifacts.base import (
    CHUNK_SIZE,
    ArtifactNotFound,
    ArtifactStore,
    FileInfo,
    NotAFile,
    Part,
)
from tests.artifacts.conftest import Backend

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024
PART = 5 * MIB  # S3's smallest part but the last


async def body(data: bytes, piece: int = 100_000) -> AsyncIterator[bytes]:
    """``data`` as an upload body arrives: in pieces that do not line up with CHUNK_SIZE."""
    for offset in range(0, len(data), piece):
        yield data[offset : offset + piece]


async def read_all(
    store: ArtifactStore, path: str, start: int = 0, end: int | None = None
) -> bytes:
    return b"".join([chunk async for chunk in store.read(path, start, end)])


class Boom(Exception):
    pass


async def failing_body(before_failure: int) -> AsyncIterator[bytes]:
    """A client that disconnects after sending ``before_failure`` bytes."""
    sent = 0
    while sent < before_failure:
        piece = os.urandom(min(MIB, before_failure - sent))
        sent += len(piece)
        yield piece
    raise Boom("client went away")


def leftovers(backend: Backend) -> list[str]:
    """Temporary or staging files left on disk (local and SFTP can be looked at directly)."""
    if backend.disk is None or not backend.disk.exists():
        return []
    found = []
    for dirpath, dirnames, filenames in os.walk(backend.disk):
        for name in dirnames + filenames:
            if ".runyard-tmp-" in name or ".runyard-uploads" in Path(dirpath).parts:
                found.append(os.path.join(dirpath, name))
    return found


# -- put and read ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE, 3 * CHUNK_SIZE + 17])
async def test_round_trip_is_byte_exact(store: ArtifactStore, size: int) -> None:
    data = os.urandom(size)
    assert await store.put("dir/file.bin", body(data)) == size
    assert await read_all(store, "dir/file.bin") == data
    assert await store.stat("dir/file.bin") == FileInfo("dir/file.bin", False, size)


async def test_large_body_in_one_piece(store: ArtifactStore) -> None:
    data = os.urandom(9 * MIB + 3)  # past S3's 8 MiB part: exercises the multipart path
    assert await store.put("big.bin", body(data, piece=len(data))) == len(data)
    assert (
        hashlib.sha256(await read_all(store, "big.bin")).digest() == hashlib.sha256(data).digest()
    )


async def test_range_reads(store: ArtifactStore) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 5)
    await store.put("r.bin", body(data))
    n = len(data)
    for start, end in [
        (0, 10),
        (5, None),
        (CHUNK_SIZE - 1, CHUNK_SIZE + 1),
        (n - 3, n + 100),
        (7, 7),
        (n, None),
        (n + 10, None),
        (2 * CHUNK_SIZE, 3 * CHUNK_SIZE),
    ]:
        assert await read_all(store, "r.bin", start, end) == data[start:end], (start, end)


async def test_read_pieces_are_bounded(store: ArtifactStore) -> None:
    await store.put("p.bin", body(os.urandom(3 * CHUNK_SIZE)))
    sizes = [len(chunk) async for chunk in store.read("p.bin")]
    assert sum(sizes) == 3 * CHUNK_SIZE
    assert max(sizes) <= CHUNK_SIZE


async def test_overwrite_replaces_content(store: ArtifactStore) -> None:
    await store.put("o.txt", body(b"first version, longer"))
    await store.put("o.txt", body(b"second"))
    assert await read_all(store, "o.txt") == b"second"
    assert await store.list("") == [FileInfo("o.txt", False, 6)]


async def test_concurrent_puts_of_different_files(store: ArtifactStore) -> None:
    contents = {f"c/{i}.bin": os.urandom(random.randint(0, 2 * CHUNK_SIZE)) for i in range(8)}
    async with anyio.create_task_group() as tg:
        for path, data in contents.items():
            tg.start_soon(store.put, path, body(data))
    for path, data in contents.items():
        assert await read_all(store, path) == data
    assert [info.path for info in await store.list("c")] == sorted(contents)


# -- listing, stat, delete ------------------------------------------------------------------


async def put_tree(store: ArtifactStore) -> None:
    for path, data in {
        "top.txt": b"top",
        "a/d.txt": b"dd",
        "a/b/c.txt": b"ccc",
        "a/e/f.txt": b"ffff",
        "a/e/g/h.txt": b"h",
    }.items():
        await store.put(path, body(data))


async def test_list_gives_sorted_immediate_children(store: ArtifactStore) -> None:
    await put_tree(store)
    assert await store.list("") == [FileInfo("a", True), FileInfo("top.txt", False, 3)]
    assert await store.list("a") == [
        FileInfo("a/b", True),
        FileInfo("a/d.txt", False, 2),
        FileInfo("a/e", True),
    ]
    assert await store.list("a/e/g") == [FileInfo("a/e/g/h.txt", False, 1)]
    assert await store.list("missing") == []
    assert await store.list("a/missing/deeper") == []
    assert await store.list("top.txt") == []


async def test_stat(store: ArtifactStore) -> None:
    await put_tree(store)
    assert await store.stat("top.txt") == FileInfo("top.txt", False, 3)
    assert await store.stat("a/e") == FileInfo("a/e", True)
    assert await store.stat("a/nope") is None
    assert await store.stat("top.txt/below") is None
    assert (await store.stat("")) == FileInfo("", True)


async def test_read_errors(store: ArtifactStore) -> None:
    await put_tree(store)
    with pytest.raises(NotAFile):
        await read_all(store, "a")
    with pytest.raises(NotAFile):
        await read_all(store, "a/e", 0, 0)
    with pytest.raises(ArtifactNotFound):
        await read_all(store, "a/missing.txt")
    with pytest.raises(ArtifactNotFound):
        await read_all(store, "nothing/at/all", 0, 0)


async def test_delete_file_and_tree(store: ArtifactStore) -> None:
    await put_tree(store)
    await store.delete("a/d.txt")
    assert await store.stat("a/d.txt") is None
    await store.delete("a/e")
    assert await store.list("a") == [FileInfo("a/b", True)]
    await store.delete("a/never-was")  # not an error
    await store.delete("a")
    assert await store.list("") == [FileInfo("top.txt", False, 3)]
    assert await store.stat("a/b/c.txt") is None
    await store.delete("")
    assert await store.list("") == []


# -- failures leave nothing behind ----------------------------------------------------------


async def test_failed_upload_keeps_earlier_version(backend: Backend) -> None:
    store = backend.store
    await store.put("keep.bin", body(b"version one"))
    with pytest.raises(Boom):
        await store.put("keep.bin", failing_body(10 * MIB))  # > one S3 part
    with pytest.raises(Boom):
        await store.put("new/fresh.bin", failing_body(3 * MIB))
    assert await read_all(store, "keep.bin") == b"version one"
    assert await store.stat("new/fresh.bin") is None
    assert [info.path for info in await store.list("")] in (["keep.bin"], ["keep.bin", "new"])
    assert await store.list("new") == []
    assert leftovers(backend) == []


# -- multipart ------------------------------------------------------------------------------


async def test_multipart_out_of_order_and_concurrent(backend: Backend) -> None:
    store = backend.store
    chunks = [os.urandom(PART), os.urandom(PART), os.urandom(1234)]
    upload_id = await store.create_multipart("mp/model.bin")
    parts: dict[int, Part] = {}

    async def send(number: int) -> None:
        parts[number] = await store.put_part(
            "mp/model.bin", upload_id, number, body(chunks[number - 1], piece=300_000)
        )

    async with anyio.create_task_group() as tg:
        for number in (3, 1, 2):
            tg.start_soon(send, number)
    assert await store.stat("mp/model.bin") is None  # nothing visible before completion
    assert await store.list("mp") == []

    await store.complete_multipart("mp/model.bin", upload_id, [parts[2], parts[3], parts[1]])
    assert await read_all(store, "mp/model.bin") == b"".join(chunks)
    assert await store.list("") == [FileInfo("mp", True)]
    assert leftovers(backend) == []


async def test_multipart_part_uploaded_again_replaces_it(store: ArtifactStore) -> None:
    upload_id = await store.create_multipart("again.bin")
    await store.put_part("again.bin", upload_id, 1, body(os.urandom(PART)))
    final = os.urandom(PART)
    first = await store.put_part("again.bin", upload_id, 1, body(final))
    last = await store.put_part("again.bin", upload_id, 2, body(b"tail"))
    await store.complete_multipart("again.bin", upload_id, [first, last])
    assert await read_all(store, "again.bin") == final + b"tail"


async def test_multipart_abort_leaves_nothing(backend: Backend) -> None:
    store = backend.store
    upload_id = await store.create_multipart("ab/gone.bin")
    await store.put_part("ab/gone.bin", upload_id, 1, body(os.urandom(PART)))
    await store.abort_multipart("ab/gone.bin", upload_id)
    assert await store.stat("ab/gone.bin") is None
    assert await store.list("") == []
    with pytest.raises(ArtifactNotFound):
        await store.complete_multipart("ab/gone.bin", upload_id, [Part(1, "x")])
    assert leftovers(backend) == []


async def test_unknown_upload_id(store: ArtifactStore) -> None:
    with pytest.raises(ArtifactNotFound):
        await store.put_part("u.bin", "0" * 32, 1, body(b"x"))
    with pytest.raises(ArtifactNotFound):
        await store.abort_multipart("u.bin", "0" * 32)


# -- connections ----------------------------------------------------------------------------


async def test_reconnects_after_connection_drops(backend: Backend) -> None:
    if backend.sshd is None:
        pytest.skip("only SFTP keeps connections that a server restart drops")
    store = backend.store
    await store.put("before.txt", body(b"written before the restart"))
    backend.sshd.restart()  # kills every session: the pooled connections are dead
    assert await read_all(store, "before.txt") == b"written before the restart"
    backend.sshd.restart()
    await store.put("after.txt", body(b"and after"))
    backend.sshd.restart()
    assert [info.path for info in await store.list("")] == ["after.txt", "before.txt"]


# -- memory ---------------------------------------------------------------------------------

BIG = 200 * MIB


async def numbered_chunks(total: int) -> AsyncIterator[bytes]:
    """``total`` bytes made on the fly, each chunk distinct, none kept."""
    base = random.Random(total).randbytes(CHUNK_SIZE)
    for i in range(total // CHUNK_SIZE):
        yield i.to_bytes(8, "big") + base[8:]


async def test_memory_stays_flat_for_200_mb(store: ArtifactStore, backend: Backend) -> None:
    expected = hashlib.sha256()
    async for chunk in numbered_chunks(BIG):
        expected.update(chunk)

    gc.collect()
    tracemalloc.start()
    try:
        assert await store.put("huge.bin", numbered_chunks(BIG)) == BIG
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        actual = hashlib.sha256()
        async for chunk in store.read("huge.bin"):
            actual.update(chunk)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert actual.digest() == expected.digest()
    peaks = f"put peak {put_peak / MIB:.1f} MiB, read peak {read_peak / MIB:.1f} MiB"
    print(f"\n{backend.name}: 200 MiB {peaks}")
    assert put_peak < 64 * MIB
    assert read_peak < 64 * MIB
