"""The artifact proxy's streaming guarantees, measured on a live ``runyard server`` subprocess
over raw HTTP, for every destination (local disk, SFTP to OpenSSH's sshd, S3 to moto):

* a 256 MiB upload and download grow the server's memory by a bounded amount;
* a remote upload spools nothing to the server's temporary directory, a local one writes only
  under the artifact root;
* an upload cut off mid-body (Content-Length or chunked) leaves nothing visible and an earlier
  version intact;
* slow uploads do not hold up other requests;
* a download abandoned after its first chunk neither breaks nor bloats the server, and the
  server stops reading the file.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.artifacts.services import MotoS3, destination_args, need
from tests.integration.livesrv import REFERENCE, live_server
from tests.servers import ServerProcess

MiB = 1024 * 1024
MB = 1000 * 1000
BIG = 256 * MiB
RSS_BUDGET = 64 * MB
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
TEMP_MARKER = ".runyard-tmp-"  # runyard's hidden names for files being written


# -- servers -------------------------------------------------------------------------------


@dataclass
class Live:
    """A runyard server with its destination and the places on this machine to watch."""

    server: ServerProcess
    dest: str
    workdir: Path
    tmpdir: Path  # the server's TMPDIR: must stay empty
    storage: Path | None  # where the artifacts land on this machine's disk (not for S3)
    s3: MotoS3 | None = None
    s3_prefix: str = ""

    @property
    def pid(self) -> int:
        return self.server.proc.pid

    def url(self, path: str) -> str:
        return f"{self.server.url}{PROXY}/{urllib.parse.quote(path)}"


@pytest.fixture(scope="module", params=["local", "sftp", "s3"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """A runyard server on SQLite per destination, with TMPDIR pointing at an empty directory."""
    dest: str = request.param
    if REFERENCE:
        pytest.skip("these tests measure runyard's own process")
    workdir = tmp_path_factory.mktemp(f"stream-{dest}")
    tmpdir = workdir / "tmp"
    tmpdir.mkdir()
    env = {"TMPDIR": str(tmpdir)}
    sshd, s3 = request.getfixturevalue("sshd"), request.getfixturevalue("s3_server")
    extra, dest_env = destination_args(dest, sshd, s3, "streaming")
    env.update(dest_env)
    storage: Path | None = workdir / "artifacts"
    moto: MotoS3 | None = None
    prefix = ""
    if dest == "sftp":
        storage = need(sshd).root / "streaming"
    elif dest == "s3":
        moto, storage, prefix = need(s3), None, "streaming"
    with live_server("sqlite", workdir, *extra, env=env) as server:
        yield Live(server, dest, workdir, tmpdir, storage, moto, prefix)


@pytest.fixture(scope="module")
def server(live: Live) -> ServerProcess:
    """The conftest's autouse fixtures ask for ``server``: this module's one."""
    return live.server


@pytest.fixture
def folder() -> str:
    return f"stream-{uuid.uuid4().hex[:10]}"


# -- measuring the server process ------------------------------------------------------------


def _process_tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def rss(root: int) -> int:
    """Resident memory of ``root`` and its descendants, in bytes."""
    total = 0
    for pid in _process_tree(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        total += int(match.group(1)) * 1024 if match else 0
    return total


def bytes_read(root: int) -> int:
    """Bytes the process tree has read from files and sockets (``rchar``)."""
    total = 0
    for pid in _process_tree(root):
        try:
            io = Path(f"/proc/{pid}/io").read_text()
        except OSError:
            continue
        match = re.search(r"^rchar:\s+(\d+)", io, re.MULTILINE)
        total += int(match.group(1)) if match else 0
    return total


def _files(directory: Path, skip: Path | None = None) -> dict[str, int]:
    """Sizes of the files under ``directory`` (except under ``skip``), tolerant of churn."""
    found: dict[str, int] = {}
    for parent, dirs, names in os.walk(directory):
        if skip is not None and Path(parent) == skip.parent:
            dirs[:] = [d for d in dirs if Path(parent, d) != skip]
        for name in names:
            with_path = os.path.join(parent, name)
            try:
                found[with_path] = os.stat(with_path).st_size
            except FileNotFoundError:
                continue
    return found


@dataclass
class Watch:
    """Samples the server's memory and its disks every few milliseconds, in a thread."""

    live: Live
    baseline_rss: int = 0
    peak_rss: int = 0
    largest_temp_file: int = 0  # in the server's TMPDIR
    outside_growth: int = 0  # local: bytes added in the workdir outside the artifact root
    _outside_before: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _outside(self) -> int:
        return sum(_files(self.live.workdir, skip=self.live.workdir / "artifacts").values())

    def _sample(self) -> None:
        self.peak_rss = max(self.peak_rss, rss(self.live.pid))
        temp = _files(self.live.tmpdir)
        self.largest_temp_file = max([self.largest_temp_file, *temp.values()])
        if self.live.dest == "local":
            growth = self._outside() - self._outside_before
            self.outside_growth = max(self.outside_growth, growth)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self._sample()

    def __enter__(self) -> Watch:
        self.baseline_rss = self.peak_rss = rss(self.live.pid)
        self._outside_before = self._outside()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        self._sample()

    @property
    def growth(self) -> int:
        return self.peak_rss - self.baseline_rss


# -- bodies and raw HTTP -----------------------------------------------------------------------


class Body:
    """``size`` bytes generated 1 MiB at a time (every MiB different), with their sha256."""

    def __init__(self, size: int, seed: bytes = b"") -> None:
        self.size = size
        self._block = hashlib.shake_256(b"runyard" + seed).digest(MiB)
        expected = hashlib.sha256()
        for chunk in self.chunks():
            expected.update(chunk)
        self.sha256 = expected.hexdigest()

    def chunks(self) -> Iterator[bytes]:
        sent, index = 0, 0
        while sent < self.size:
            piece = (index.to_bytes(8, "big") + self._block[8:])[: self.size - sent]
            yield piece
            sent += len(piece)
            index += 1


def put_streaming(live: Live, path: str, body: Body, timeout: float = 300) -> int:
    """PUT ``body`` with a Content-Length, sent as it is generated; the answer's status."""
    conn = http.client.HTTPConnection("127.0.0.1", live.server.port, timeout=timeout)
    try:
        conn.putrequest("PUT", urllib.parse.urlsplit(live.url(path)).path)
        conn.putheader("Content-Length", str(body.size))
        conn.putheader("Content-Type", "application/octet-stream")
        conn.endheaders()
        for chunk in body.chunks():
            conn.send(chunk)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def get_sha256(live: Live, path: str, timeout: float = 300) -> tuple[int, int, str]:
    """Status, length and sha256 of a GET, read 1 MiB at a time."""
    digest = hashlib.sha256()
    size = 0
    with httpx.stream("GET", live.url(path), timeout=timeout) as response:
        for chunk in response.iter_raw(MiB):
            digest.update(chunk)
            size += len(chunk)
        return response.status_code, size, digest.hexdigest()


def put_small(live: Live, path: str, data: bytes) -> None:
    httpx.put(live.url(path), content=data, timeout=60).raise_for_status()


def listed(live: Live, directory: str) -> list[str]:
    answer = httpx.get(f"{live.server.url}{PROXY}", params={"path": directory}, timeout=60)
    answer.raise_for_status()
    return [f["path"] for f in answer.json().get("files", [])]


def _request_head(live: Live, method: str, path: str, headers: dict[str, str]) -> bytes:
    target = urllib.parse.urlsplit(live.url(path)).path
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{live.server.port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _connect(live: Live) -> socket.socket:
    return socket.create_connection(("127.0.0.1", live.server.port), timeout=60)


def leftovers(live: Live, key: str) -> list[str]:
    """What an unfinished upload of ``key`` left in storage: temporary files on disk, or
    multipart uploads S3 still keeps open."""
    if live.storage is not None:
        target = live.storage / key
        temp = f".{target.name}{TEMP_MARKER}"
        return [p for p in _files(target.parent) if Path(p).name.startswith(temp)]
    assert live.s3 is not None
    answer = httpx.get(f"{live.s3.endpoint_url}/{MotoS3.BUCKET}?uploads", timeout=30)
    answer.raise_for_status()
    full_key = f"{live.s3_prefix}/{key}"
    return [k for k in re.findall(r"<Key>([^<]*)</Key>", answer.text) if k == full_key]


def wait_until_clean(live: Live, key: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while (left := leftovers(live, key)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"an interrupted upload left {left}"


# -- 1 and 2: bounded memory, no spooling ------------------------------------------------------


def _warm_up(live: Live, folder: str) -> None:
    """One transfer first, so connection pools and buffers that live on exist already."""
    warm = Body(12 * MiB, b"warm")
    assert put_streaming(live, f"{folder}/warm.bin", warm) == 200
    assert get_sha256(live, f"{folder}/warm.bin")[2] == warm.sha256


def test_256_mib_through_the_proxy_keeps_memory_flat(live: Live, folder: str) -> None:
    _warm_up(live, folder)
    body = Body(BIG)
    path = f"{folder}/big.bin"
    started = time.monotonic()
    with Watch(live) as up:
        assert put_streaming(live, path, body) == 200
    uploaded = time.monotonic()
    with Watch(live) as down:
        status, size, sha = get_sha256(live, path)
    done = time.monotonic()
    print(
        f"\n[{live.dest}] 256 MiB: upload {uploaded - started:.1f} s, RSS +{up.growth / MB:.1f} MB;"
        f" download {done - uploaded:.1f} s, RSS +{down.growth / MB:.1f} MB;"
        f" largest file in TMPDIR {up.largest_temp_file} B"
    )
    assert (status, size, sha) == (200, BIG, body.sha256)
    assert up.growth <= RSS_BUDGET, f"upload grew the server by {up.growth / MB:.1f} MB"
    assert down.growth <= RSS_BUDGET, f"download grew the server by {down.growth / MB:.1f} MB"
    assert up.largest_temp_file <= 4096
    if live.dest == "local":
        assert up.outside_growth <= 64 * 1024
        assert (live.workdir / "artifacts" / path).stat().st_size == BIG


def test_upload_spools_nothing_to_temp_disk(live: Live, folder: str) -> None:
    """40 MiB: above S3's 8 MiB part size, so the S3 store takes its multipart path too."""
    body = Body(40 * MiB, b"spool")
    path = f"{folder}/spool.bin"
    with Watch(live) as watch:
        assert put_streaming(live, path, body) == 200
    print(f"\n[{live.dest}] 40 MiB upload: RSS +{watch.growth / MB:.1f} MB")
    assert get_sha256(live, path) == (200, body.size, body.sha256)
    assert watch.largest_temp_file <= 4096, "the upload was spooled to the server's TMPDIR"
    assert sum(_files(live.tmpdir).values()) <= 4096
    if live.dest == "local":
        assert watch.outside_growth <= 64 * 1024, "bytes went outside the artifact root"
        written = _files(live.workdir / "artifacts" / folder)
        assert written == {str(live.workdir / "artifacts" / path): body.size}


# -- 3: an interrupted upload leaves nothing visible -------------------------------------------


def _cut_off(live: Live, path: str, sent: int, chunked: bool) -> None:
    """Start a PUT, send ``sent`` bytes of a longer body and hang up."""
    body = Body(sent, b"cut")
    if chunked:
        head = _request_head(live, "PUT", path, {"Transfer-Encoding": "chunked"})
    else:
        declared = 10 * MiB if sent < 10 * MiB else sent + 10 * MiB
        head = _request_head(live, "PUT", path, {"Content-Length": str(declared)})
    with _connect(live) as sock:
        sock.sendall(head)
        for chunk in body.chunks():
            sock.sendall(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
        time.sleep(0.3)  # let the server take in what was sent before the hang-up


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("sent", [1 * MiB, 20 * MiB], ids=["1MiB", "20MiB"])
def test_interrupted_upload_leaves_nothing_visible(
    live: Live, folder: str, sent: int, chunked: bool
) -> None:
    """20 MiB: the S3 store has begun a multipart upload by then; it must be aborted."""
    _cut_off(live, f"{folder}/new.bin", sent, chunked)
    earlier = os.urandom(3 * MiB + 5)
    put_small(live, f"{folder}/kept.bin", earlier)
    _cut_off(live, f"{folder}/kept.bin", sent, chunked)

    wait_until_clean(live, f"{folder}/new.bin")
    wait_until_clean(live, f"{folder}/kept.bin")
    assert listed(live, folder) == ["kept.bin"]
    answer = httpx.get(live.url(f"{folder}/new.bin"), timeout=60)
    assert answer.status_code == 404
    assert answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert httpx.get(live.url(f"{folder}/kept.bin"), timeout=60).content == earlier
    if live.storage is not None:
        assert sorted(os.listdir(live.storage / folder)) == ["kept.bin"]
    # A client hanging up is not a server failure: no "unhandled error" and traceback for it.
    logged = [line for line in live.server.log.read_text().splitlines() if folder in line]
    assert not [line for line in logged if "unhandled error" in line], logged


# -- 4: slow uploads do not hold up anything else ----------------------------------------------


class SlowUpload(threading.Thread):
    """A PUT of ``chunks`` MiB, one every ``pause`` seconds, from its own thread."""

    def __init__(self, live: Live, path: str, chunks: int, pause: float) -> None:
        super().__init__(daemon=True)
        self.live, self.path, self.pause = live, path, pause
        self.body = Body(chunks * MiB, path.encode())
        self.sent = 0
        self.finished = threading.Event()
        self.status: int | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            head = _request_head(
                self.live, "PUT", self.path, {"Content-Length": str(self.body.size)}
            )
            with _connect(self.live) as sock:
                sock.sendall(head)
                for chunk in self.body.chunks():
                    sock.sendall(chunk)
                    self.sent += len(chunk)
                    time.sleep(self.pause)
                self.finished.set()
                answer = sock.makefile("rb").readline()
                self.status = int(answer.split()[1])
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.finished.set()


def _timed(label: str, durations: dict[str, float], request: httpx.Request) -> httpx.Response:
    started = time.monotonic()
    with httpx.Client(timeout=30) as client:
        answer = client.send(request)
    durations[label] = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    return answer


def test_slow_uploads_do_not_block_other_requests(live: Live, folder: str) -> None:
    slow = [SlowUpload(live, f"{folder}/slow-{n}.bin", chunks=24, pause=0.2) for n in (1, 2)]
    for upload in slow:
        upload.start()
    deadline = time.monotonic() + 10
    while any(u.sent < 3 * MiB for u in slow) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(u.sent >= 3 * MiB for u in slow), "the slow uploads did not get going"

    base = live.server.url
    durations: dict[str, float] = {}
    small = os.urandom(20_000)
    _timed(
        "small upload", durations, httpx.Request("PUT", live.url(f"{folder}/s.txt"), content=small)
    )
    _timed(
        "experiments/search",
        durations,
        httpx.Request("POST", f"{base}/api/2.0/mlflow/experiments/search", json={"max_results": 5}),
    )
    created = _timed(
        "experiments/create",
        durations,
        httpx.Request("POST", f"{base}/api/2.0/mlflow/experiments/create", json={"name": folder}),
    )
    experiment_id = created.json()["experiment_id"]
    _timed(
        "runs/create",
        durations,
        httpx.Request(
            "POST", f"{base}/api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id}
        ),
    )
    # By now the S3 store has sent its first 8 MiB part: each upload is in storage, unseen.
    while any(u.sent < 10 * MiB for u in slow) and time.monotonic() < deadline + 5:
        time.sleep(0.05)
    for upload in slow:
        assert leftovers(live, upload.path), "the probe for unfinished uploads sees nothing"
        assert httpx.get(live.url(upload.path), timeout=30).status_code == 404
    assert listed(live, folder) == ["s.txt"]
    in_flight = [not u.finished.is_set() for u in slow]
    print(f"\n[{live.dest}] during two slow uploads: " + ", ".join(
        f"{label} {seconds * 1000:.0f} ms" for label, seconds in durations.items()
    ))  # fmt: skip
    assert httpx.get(live.url(f"{folder}/s.txt"), timeout=30).content == small
    assert all(in_flight), "the slow uploads ended before the other requests were timed"
    assert max(durations.values()) < 2.0, durations

    for upload in slow:
        upload.join(60)
        assert upload.error is None, upload.error
        assert upload.status == 200
        assert get_sha256(live, upload.path) == (200, upload.body.size, upload.body.sha256)


# -- 5: an abandoned download ------------------------------------------------------------------


def _read_first_chunk_and_hang_up(live: Live, path: str) -> tuple[int, int]:
    """GET ``path``, read 1 MiB, wait, hang up. Returns what the server read from storage
    while the client waited (bounded by flow control) and after it hung up (should be ~0)."""
    before = bytes_read(live.pid)
    with _connect(live) as sock:
        sock.sendall(_request_head(live, "GET", path, {}))
        received = 0
        while received < MiB:
            data = sock.recv(256 * 1024)
            assert data, "the server closed the connection early"
            received += len(data)
        time.sleep(0.3)  # the server fills the socket buffers, then waits for the client
        waiting = bytes_read(live.pid)
    time.sleep(0.3)
    return waiting - before, bytes_read(live.pid) - waiting


def test_abandoned_download_neither_breaks_nor_bloats_the_server(live: Live, folder: str) -> None:
    body = Body(96 * MiB, b"abandon")
    path = f"{folder}/abandon.bin"
    assert put_streaming(live, path, body) == 200
    _read_first_chunk_and_hang_up(live, path)  # warm-up: pools and buffers
    repetitions = 5
    with Watch(live) as watch:
        reads = [_read_first_chunk_and_hang_up(live, path) for _ in range(repetitions)]
        small = os.urandom(1000)
        put_small(live, f"{folder}/after.txt", small)
        assert httpx.get(live.url(f"{folder}/after.txt"), timeout=30).content == small
        assert listed(live, folder) == ["abandon.bin", "after.txt"]
    settled = rss(live.pid) - watch.baseline_rss
    waiting = max(r[0] for r in reads)
    after = sum(r[1] for r in reads)
    print(
        f"\n[{live.dest}] {repetitions} abandoned downloads of 96 MiB: server read at most "
        f"{waiting / MiB:.1f} MiB while the client waited, {after / MiB:.1f} MiB in all after "
        f"the hang-ups; RSS peak +{watch.growth / MB:.1f} MB, after +{settled / MB:.1f} MB"
    )
    assert watch.growth <= RSS_BUDGET
    assert settled <= 16 * MB, "memory stayed up after the abandoned downloads"
    assert waiting < 32 * MiB, "the server read ahead of a client that does not read"
    assert after < repetitions * 2 * MiB, "the server went on reading after the client left"
    assert get_sha256(live, path) == (200, body.size, body.sha256)
