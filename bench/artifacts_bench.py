"""Artifact throughput through the proxy: runyard next to ``mlflow server``, same machine, same run.

For each file size (default 200 MiB and 1 GiB) it measures:

* a plain copy of the file on the same disk with fsync, right before each upload (the ceiling
  for an upload acknowledged once it is on disk; this disk's speed swings, so it is measured
  next to every upload rather than once);
* for each server (runyard with a local, SFTP and S3 destination; MLflow with a local one):
  a streamed PUT through ``/api/2.0/mlflow-artifacts/artifacts/...`` and a streamed GET back
  (sha256 checked), in MiB/s, and the server's RSS (summed over its process tree) idle and at
  its peak during the transfers, sampled every 50 ms.

SFTP goes to an OpenSSH ``sshd`` and S3 to moto's S3 server, both started here on free loopback
ports with their own keys and data under a temporary directory. Metadata is SQLite for all.

The table replaces the ``<!-- artifacts:begin -->`` ... ``<!-- artifacts:end -->`` section of
``docs/benchmarks.md`` (``bench/run_bench.py`` keeps that section when it rewrites the rest).
Run it through ``scripts/bench-artifacts``: it needs psutil (the load generator's venv) and
starts runyard, mlflow and moto from the project's ``.venv``.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / ".venv/bin/python"
HOST = "127.0.0.1"
MiB = 2**20
CHUNK = MiB
PROXY = "/api/2.0/mlflow-artifacts/artifacts"


def log(msg: str) -> None:
    print(f"[artifacts {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            tree = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            tree = []
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for child in tree:
            with suppress(psutil.NoSuchProcess):
                child.kill()


def tree_rss(pid: int) -> int:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        with suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


class PeakRss:
    """Samples a process tree's RSS every 50 ms in a thread; ``peak`` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


# --- helpers: sshd and moto -----------------------------------------------------------------


@dataclass
class Destination:
    label: str
    args: list[str]
    env: dict[str, str]


@contextmanager
def sshd(workdir: Path) -> Iterator[Destination]:
    sshd_bin = Path("/usr/sbin/sshd")
    if not sshd_bin.exists():
        raise RuntimeError("OpenSSH sshd is not installed (scripts/services installs it)")
    workdir.mkdir(parents=True)
    for name in ("host", "client"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(workdir / name)], check=True
        )
    port = free_port()
    (workdir / "authorized_keys").write_text((workdir / "client.pub").read_text())
    host_pub = " ".join((workdir / "host.pub").read_text().split()[:2])
    (workdir / "known_hosts").write_text(f"[{HOST}]:{port} {host_pub}\n")
    (workdir / "files").mkdir()
    config = workdir / "sshd_config"
    config.write_text(
        f"ListenAddress {HOST}\nPort {port}\nHostKey {workdir / 'host'}\n"
        f"PidFile {workdir / 'sshd.pid'}\nAuthorizedKeysFile {workdir / 'authorized_keys'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [str(sshd_bin), "-D", "-e", "-f", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, proc)
        uri = f"sftp://{getpass.getuser()}@{HOST}:{port}{workdir / 'files'}"
        yield Destination(
            "runyard, SFTP",
            [
                "--artifacts-destination",
                uri,
                "--artifacts-sftp-key-file",
                str(workdir / "client"),
                "--artifacts-sftp-known-hosts",
                str(workdir / "known_hosts"),
            ],  # fmt: skip
            {},
        )
    finally:
        stop(proc)


@contextmanager
def moto(workdir: Path) -> Iterator[Destination]:
    workdir.mkdir(parents=True)
    port = free_port()
    proc = subprocess.Popen(
        [str(PY), "-m", "moto.server", "-H", HOST, "-p", str(port)],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, proc)
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        conn.request("PUT", "/bench")
        conn.getresponse().read()
        conn.close()
        yield Destination(
            "runyard, S3 (moto)",
            [
                "--artifacts-destination",
                "s3://bench/artifacts",
                "--artifacts-s3-endpoint-url",
                f"http://{HOST}:{port}",
                "--artifacts-s3-region",
                "us-east-1",
            ],  # fmt: skip
            {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret"},
        )
    finally:
        stop(proc)


# --- servers and transfers ------------------------------------------------------------------


@contextmanager
def server(kind: str, workdir: Path, dest: Destination | None, workers: int) -> Iterator[Any]:
    workdir.mkdir(parents=True)
    port = free_port()
    db = f"sqlite:///{workdir / 'meta.db'}"
    if kind == "runyard":
        cmd = [
            str(PY), "-m", "runyard", "server", "--backend-store-uri", db,
            "--artifacts-destination", str(workdir / "artifacts"),
            "--host", HOST, "--port", str(port), "--workers", str(workers),
        ]  # fmt: skip
        settle = 2.0
    else:
        cmd = [
            str(ROOT / ".venv/bin/mlflow"), "server", "--backend-store-uri", db,
            "--artifacts-destination", str(workdir / "artifacts"), "--serve-artifacts",
            "-h", HOST, "-p", str(port), "--workers", str(workers),
        ]  # fmt: skip
        settle = 15.0
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    if dest is not None:
        cmd += dest.args
        env.update(dest.env)
    with (workdir / "server.log").open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc, 180)
        time.sleep(settle)
        yield port, proc.pid
    finally:
        stop(proc)


def put(port: int, key: str, path: Path) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=600)
    with path.open("rb") as body:
        conn.request(
            "PUT",
            f"{PROXY}/{key}",
            body=body,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Length": str(path.stat().st_size),
            },
        )
        response = conn.getresponse()
        text = response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"PUT {key}: HTTP {response.status}: {text[:200]!r}")


def get(port: int, key: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection(HOST, port, timeout=600)
    conn.request("GET", f"{PROXY}/{key}")
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"GET {key}: HTTP {response.status}: {response.read()[:200]!r}")
    digest, size = hashlib.sha256(), 0
    while chunk := response.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    conn.close()
    return size, digest.hexdigest()


def make_file(path: Path, mib: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as f:
        for _ in range(mib):
            block = os.urandom(MiB)
            digest.update(block)
            f.write(block)
    return digest.hexdigest()


def plain_copy(src: Path, workdir: Path) -> float:
    dst = workdir / "copy.bin"
    t0 = time.perf_counter()
    with src.open("rb") as fin, dst.open("wb") as fout:
        shutil.copyfileobj(fin, fout, CHUNK)
        fout.flush()
        os.fsync(fout.fileno())
    seconds = time.perf_counter() - t0
    dst.unlink()
    return seconds


def measure(
    kind: str, dest: Destination | None, label: str, src: Path, digest: str, a: Any, tmp: Path
) -> dict[str, Any]:
    mib = src.stat().st_size / MiB
    workdir = tmp / f"{label.replace(' ', '_').replace(',', '')}-{int(mib)}"
    with server(kind, workdir, dest, a.workers) as (port, pid):
        idle = tree_rss(pid)
        ups, downs, copies = [], [], []
        with PeakRss(pid) as peak:
            for rep in range(a.reps):
                key = f"bench/{rep}/{src.name}"
                # The disk's write speed swings with what it still has to flush: the ceiling is
                # measured right before each upload, not once.
                copies.append(plain_copy(src, workdir))
                t0 = time.perf_counter()
                put(port, key, src)
                ups.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                size, got = get(port, key)
                downs.append(time.perf_counter() - t0)
                if size != src.stat().st_size or got != digest:
                    raise RuntimeError(f"{label}: downloaded bytes differ")
    up, down = sorted(ups)[len(ups) // 2], sorted(downs)[len(downs) // 2]
    copy = sorted(copies)[len(copies) // 2]
    row = {
        "server": label,
        "size_mib": int(mib),
        "copy_mib_s": round(mib / copy, 1),
        "upload_mib_s": round(mib / up, 1),
        "download_mib_s": round(mib / down, 1),
        "idle_rss_mib": round(idle / MiB, 1),
        "peak_rss_mib": round(peak.peak / MiB, 1),
        "rss_growth_mib": round((peak.peak - idle) / MiB, 1),
    }
    log(json.dumps(row))
    return row


def render(rows: list[dict[str, Any]], a: Any) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "<!-- artifacts:begin -->",
        "## Artifacts through the proxy",
        "",
        f"Generated by `bench/artifacts_bench.py` on {stamp}; command:"
        " `scripts/bench-artifacts` (from the repo root). A streamed PUT and a streamed GET"
        f" (sha256 checked) of one file through `{PROXY}`, median of {a.reps}, SQLite metadata,"
        f" {a.workers} worker(s) per server, the server's RSS summed over its process tree and"
        " sampled every 50 ms. MiB/s is MiB per second of wall time. *Plain copy* is the same"
        " file copied on the same disk with fsync (the ceiling for an upload that is on disk"
        " when it is acknowledged), measured right before each upload because this disk's"
        " write speed swings with what it still has to flush.",
        "",
        "| size | server | plain copy MiB/s | upload MiB/s | download MiB/s | idle RSS MiB"
        " | peak RSS MiB | RSS growth MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size_mib']} MiB | {r['server']} | {r['copy_mib_s']} | {r['upload_mib_s']}"
            f" | {r['download_mib_s']} | {r['idle_rss_mib']} | {r['peak_rss_mib']}"
            f" | {r['rss_growth_mib']} |"
        )
    lines += ["", "Against the targets (runyard local vs MLflow local, same size):", ""]
    by = {(r["server"], r["size_mib"]): r for r in rows}
    for mib in sorted({r["size_mib"] for r in rows}):
        ours, theirs = by.get(("runyard, local disk", mib)), by.get(("mlflow, local disk", mib))
        if not ours:
            continue
        parts = [
            f"upload {ours['upload_mib_s'] / ours['copy_mib_s']:.0%} of a plain copy",
            f"RSS growth {ours['rss_growth_mib']} MiB (target ≤ 64 MB)",
        ]
        if theirs:
            parts.insert(
                0,
                f"upload {ours['upload_mib_s'] / theirs['upload_mib_s']:.2f}× and "
                f"download {ours['download_mib_s'] / theirs['download_mib_s']:.2f}× MLflow's",
            )
        lines.append(f"* {mib} MiB: " + "; ".join(parts))
    lines += ["<!-- artifacts:end -->", ""]
    return "\n".join(lines)


def write_doc(section: str, doc: Path) -> None:
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    pattern = re.compile(r"<!-- artifacts:begin -->.*<!-- artifacts:end -->\n?", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text + "\n" + section
    doc.write_text(text)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sizes", default="200,1024", help="file sizes in MiB (default 200,1024)")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--servers", default="runyard,mlflow,sftp,s3")
    p.add_argument("--doc", default="docs/benchmarks.md", help="'' = print only")
    a = p.parse_args()
    servers = a.servers.split(",")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="runyard-artifacts-bench-", dir=ROOT / "bench") as t:
        tmp = Path(t)
        for mib in [int(x) for x in a.sizes.split(",")]:
            src = tmp / f"blob-{mib}MiB.bin"
            digest = make_file(src, mib)
            if "runyard" in servers:
                rows.append(measure("runyard", None, "runyard, local disk", src, digest, a, tmp))
            if "mlflow" in servers:
                rows.append(measure("mlflow", None, "mlflow, local disk", src, digest, a, tmp))
            if "sftp" in servers:
                with sshd(tmp / f"sshd-{mib}") as dest:
                    rows.append(measure("runyard", dest, dest.label, src, digest, a, tmp))
            if "s3" in servers:
                with moto(tmp / f"moto-{mib}") as dest:
                    rows.append(measure("runyard", dest, dest.label, src, digest, a, tmp))
            src.unlink()
    section = render(rows, a)
    print(section)
    if a.doc:
        write_doc(section, ROOT / a.doc)
        log(f"wrote {a.doc}")


if __name__ == "__main__":
    main()
