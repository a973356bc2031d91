"""Side-by-side benchmark of runyard and ``mlflow server`` on one machine.

For each backend (PostgreSQL, SQLite) and each server (runyard, mlflow), in turn:

1. a fresh database (PostgreSQL: ``CREATE DATABASE bench_<server>_<rand>``; SQLite: a temp file)
   and a temp artifact directory;
2. the server on 127.0.0.1, a free port, the same ``--workers``; wait for ``/health`` and a settle
   delay;
3. the neutral workload script ``../shared/bench/mlflow_rest_bench.py`` (relative to the repo
   root) with the server's PID, so it samples the server's CPU and memory;
4. the RSS of the server's process tree, idle before the workload and right after it;
5. the server tree stopped by PID, the database dropped, temp files removed.

Raw results and a manifest go to ``bench/results/<stamp>/`` (gitignored); the report is written
to ``docs/benchmarks.md``. ``--report MANIFEST...`` re-renders the report from saved manifests
(several runs, e.g. one per backend, are merged into one report).

Run it through ``scripts/bench``, which prepares the load generator's venv (``.bench-venv``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
# The neutral workload, shared by every project on this machine; always named relative to ROOT.
WORKLOAD = Path("../shared/bench/mlflow_rest_bench.py")
PROJECT_PY = Path(".venv/bin/python")
MLFLOW_BIN = Path(".venv/bin/mlflow")
HOST = "127.0.0.1"
SERVERS = ("runyard", "mlflow")
BACKENDS = ("postgresql", "sqlite")
NAMES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}
# what py-spy watches: name -> (description, workload-script arguments). "search" and "history"
# reuse the data the measured run left behind (W4's seeded experiment is found by name).
PROFILES = {
    "log-batch": ("w1 C=16", ["--workloads", "w1", "--w1-concurrency", "16"]),
    "log-metric": ("w2 C=16", ["--workloads", "w2"]),
    "lifecycle": ("w3 C=16", ["--workloads", "w3"]),
    "search": ("w4 queries", ["--workloads", "w4"]),
    "history": ("w5", ["--workloads", "w5"]),
}
ALL_WORKLOADS = "w1,w2,w3,w4,w5,w6,probe"
MiB = 2**20


class BenchError(Exception):
    """A step of the benchmark could not be carried out (reported, then the next slot runs)."""


class Interrupted(BaseException):
    """SIGTERM/SIGINT: unwind so that every server is stopped and every database dropped."""


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def rel(path: Path) -> str:
    """A path as the report may show it: relative to the repo root, never absolute."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return path.name


def loadavg() -> list[float]:
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


# --------------------------------------------------------------------------------------------
# PostgreSQL (through psql, so the load generator's venv needs no driver)
# --------------------------------------------------------------------------------------------
@dataclass
class Pg:
    host: str
    port: int
    user: str

    def psql(self, sql: str, db: str = "postgres") -> str:
        cmd = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.host,
               "-p", str(self.port), "-U", self.user, "-d", db, "-c", sql]  # fmt: skip
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        except FileNotFoundError as exc:
            raise BenchError("psql not found: install the PostgreSQL client tools") from exc
        if out.returncode != 0:
            raise BenchError(f"psql failed: {sql!r}: {out.stderr.strip()[:300]}")
        return out.stdout.strip()

    def create(self, name: str) -> None:
        self.psql(f'CREATE DATABASE "{name}"')

    def drop(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def sessions(self, name: str) -> int | None:
        """Connections ever opened to a database (pool churn shows here)."""
        with contextlib.suppress(BenchError, ValueError):
            time.sleep(1)  # statistics are flushed about once a second
            return int(self.psql(f"SELECT sessions FROM pg_stat_database WHERE datname = '{name}'"))
        return None

    def version(self) -> str:
        return self.psql("SHOW server_version").split()[0]

    def postmaster_pid(self) -> int | None:
        """PID of the cluster's postmaster, for the workload's DB CPU sampling (None if unknown)."""
        with contextlib.suppress(BenchError, OSError, ValueError):
            data_dir = self.psql("SHOW data_directory")
            with open(os.path.join(data_dir, "postmaster.pid")) as f:
                pid = int(f.readline())
            if psutil.pid_exists(pid):
                return pid
        return None

    def uri(self, server: str, db: str) -> str:
        # MLflow 3.17 on SQLAlchemy 2.1 picks psycopg (v3) for a bare postgresql:// URI; spell it
        # out so both servers use the same driver (psycopg2 is not installed in the project venv).
        scheme = "postgresql+psycopg" if server == "mlflow" else "postgresql"
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{db}"


# --------------------------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def tree_memory(pid: int) -> dict[str, Any]:
    """RSS (and PSS, which does not count shared pages twice) summed over a process tree."""
    rss = pss = 0
    procs = []
    for p in tree(pid):
        try:
            with p.oneshot():
                r = p.memory_info().rss
                full = p.memory_full_info()
                cmd = " ".join(p.cmdline())
            rss += r
            pss += getattr(full, "pss", 0)
            procs.append({"pid": p.pid, "rss_mb": round(r / MiB, 1), "cmd": short_cmd(cmd)})
        except psutil.Error:
            continue
    return {"rss_mb": round(rss / MiB, 1), "pss_mb": round(pss / MiB, 1), "processes": procs}


def short_cmd(cmd: str) -> str:
    """A process command line without this machine's paths (the report may quote it)."""
    words = []
    for w in cmd.split()[:8]:
        words.append(
            os.path.basename(w) if "/" in w and not w.startswith(("sqlite:", "post")) else w
        )
    return " ".join(words)[:120]


def stop_tree(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """Stop a server and all it started, by PID: TERM the root, then TERM/KILL the leftovers."""
    members = tree(proc.pid)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    left = [p for p in members if p.is_running()]
    for p in left:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(left, timeout=5)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(alive, timeout=5)
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=5)


def wait_health(url: str, proc: subprocess.Popen[bytes], timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise BenchError(f"server exited with code {proc.returncode} before /health answered")
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url + "/health", timeout=2) as r,
        ):
            if r.status == 200:
                return time.monotonic() - t0
        time.sleep(0.5)
    raise BenchError(f"/health did not answer within {timeout:.0f} s")


def server_env(server: str) -> dict[str, str]:
    """The environment a server starts with: no stray RUNYARD_*/MLFLOW_* settings from the shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNYARD_", "MLFLOW_"))}
    env["PYTHONUNBUFFERED"] = "1"
    if server == "mlflow":
        # MLflow otherwise starts a job runner (~10 huey consumer processes, ~1.3 GB PSS) that
        # runyard has no counterpart of; it is switched off so both trees serve only tracking.
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    return env


def server_cmd(server: str, uri: str, art: str, port: str, workers: int, root: Path) -> list[str]:
    """The server's command line; executables are taken from ``root`` (``Path()`` for display)."""
    net = ["--workers", str(workers)]
    if server == "runyard":
        py = str(root / PROJECT_PY)
        return [py, "-m", "runyard", "server", "--backend-store-uri", uri,
                "--artifacts-destination", art, "--host", HOST, "--port", port, *net]  # fmt: skip
    return [str(root / MLFLOW_BIN), "server", "--backend-store-uri", uri,
            "--artifacts-destination", art, "--serve-artifacts",
            "-h", HOST, "-p", port, *net]  # fmt: skip


# --------------------------------------------------------------------------------------------
# one server on one backend
# --------------------------------------------------------------------------------------------
@dataclass
class Slot:
    server: str
    backend: str
    rep: int
    record: dict[str, Any] = field(default_factory=dict)


class Runner:
    def __init__(self, a: argparse.Namespace, outdir: Path, work: Path) -> None:
        self.a = a
        self.outdir = outdir
        self.work = work
        self.pg = Pg(a.pg_host, a.pg_port, a.pg_user)
        self.py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which(
            "py-spy"
        )

    # the workload script ------------------------------------------------------------------
    def workload(
        self,
        url: str,
        label: str,
        out: Path,
        server_pid: int,
        db_pid: int | None,
        extra: list[str],
        timeout: float,
    ) -> int:
        cmd = [sys.executable, str(WORKLOAD), "--url", url, "--label", label, "--out", rel(out),
               "--server-pid", str(server_pid), "--tmpdir", str(self.work)]  # fmt: skip
        if db_pid:
            cmd += ["--db-pid", str(db_pid)]
        if self.a.quick:
            cmd.append("--quick")
        cmd += extra
        logf = out.with_suffix(".log")
        with open(logf, "wb") as lf:
            try:
                return subprocess.run(
                    cmd, cwd=ROOT, stdout=lf, stderr=subprocess.STDOUT, timeout=timeout, check=False
                ).returncode
            except subprocess.TimeoutExpired as exc:
                raise BenchError(f"workload {label} exceeded {timeout:.0f} s") from exc

    def w6_works(self, url: str, slot: Slot, pid: int) -> tuple[bool, str]:
        """Probe the proxied-artifact API with a 1 MiB round trip before the real run."""
        out = self.outdir / f"{slot.backend}-{slot.server}-r{slot.rep}-w6check.json"
        rc = self.workload(
            url,
            f"{slot.server}-w6check",
            out,
            pid,
            None,
            ["--workloads", "w6", "--w6-mb", "1", "--w6-reps", "1", "--no-warmup"],
            timeout=300,
        )
        try:
            w6 = json.loads(out.read_text())["workloads"]["w6"]
        except (OSError, ValueError, KeyError):
            return False, f"artifact check produced no result (exit {rc})"
        if not w6.get("supported"):
            return False, w6.get("reason", "not supported")[:160]
        if "failed" in w6 or not w6.get("verify", {}).get("ok"):
            errs = w6.get("errors", {}).get("samples") or [w6.get("failed", "verify failed")]
            return False, str(errs[0])[:160]
        return True, "ok"

    # a py-spy profile of runyard under one workload ---------------------------------------------
    def profile(self, url: str, slot: Slot, pid: int) -> list[dict[str, Any]]:
        found = []
        for name in self.a.profile_workloads:
            what, args = PROFILES[name]
            entry: dict[str, Any] = {
                "name": name,
                "workload": what,
                "backend": slot.backend,
                "server": slot.server,
            }
            for fmt, suffix in (("raw", "txt"), ("flamegraph", "svg")):
                if fmt == "flamegraph" and not self.a.profile_svg:
                    continue
                out = self.outdir / f"profile-{slot.server}-{slot.backend}-{name}.{suffix}"
                # --gil: only samples holding the GIL, i.e. Python CPU, not threads waiting on I/O
                cmd = [self.py_spy, "record", "--pid", str(pid), "--subprocesses", "--gil",
                       "--rate", str(self.a.profile_rate), "--full-filenames", "--format", fmt,
                       "--output", str(out)]  # fmt: skip
                spy = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                time.sleep(2)  # let py-spy attach to every process of the tree
                try:
                    self.workload(
                        url,
                        f"{slot.server}-profile-{name}",
                        self.outdir / f"profile-{slot.server}-{slot.backend}-{name}-{fmt}.json",
                        pid,
                        None,
                        [*args, "--no-warmup", *self.a.bench_arg],
                        timeout=600,
                    )
                finally:
                    spy.send_signal(signal.SIGINT)
                    try:
                        _, err = spy.communicate(timeout=60)
                    except subprocess.TimeoutExpired:
                        spy.kill()
                        _, err = spy.communicate()
                if out.exists() and out.stat().st_size:
                    entry[fmt] = rel(out)
                else:
                    entry.setdefault("errors", []).append(err.decode(errors="replace")[-300:])
            if "raw" in entry:
                entry["hotspots"] = hotspots(ROOT / entry["raw"])
            found.append(entry)
        return found

    # the slot ---------------------------------------------------------------------------------
    def run_slot(self, slot: Slot) -> dict[str, Any]:
        a, rec = self.a, slot.record
        rec.update(
            {
                "server": slot.server,
                "backend": slot.backend,
                "rep": slot.rep,
                "loadavg_before": loadavg(),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
        )
        slot_dir = Path(tempfile.mkdtemp(prefix=f"{slot.server}-", dir=self.work))
        art = slot_dir / "artifacts"
        art.mkdir()
        db_name = None
        db_pid = None
        proc = None
        try:
            if slot.backend == "postgresql":
                name = f"bench_{slot.server}_{secrets.token_hex(4)}"
                self.pg.create(name)
                db_name = name  # created: dropped in `finally`
                uri = self.pg.uri(slot.server, db_name)
                db_pid = self.pg.postmaster_pid()
                shown_uri = self.pg.uri(slot.server, f"bench_{slot.server}_<rand>")
            else:
                uri = "sqlite:///" + str(slot_dir / f"{slot.server}.db")
                shown_uri = f"sqlite:///<tmp>/{slot.server}.db"
            port = free_port()
            url = f"http://{HOST}:{port}"
            cmd = server_cmd(slot.server, uri, str(art), str(port), a.workers, ROOT)
            rec["command"] = shlex.join(
                server_cmd(slot.server, shown_uri, "<tmp>/artifacts", "<port>", a.workers, Path())
            )
            server_log = self.outdir / f"{slot.backend}-{slot.server}-r{slot.rep}.server.log"
            log(f"{slot.backend}/{slot.server}: starting on port {port}")
            with open(server_log, "wb") as lf:
                proc = subprocess.Popen(
                    cmd,
                    cwd=slot_dir,
                    env=server_env(slot.server),
                    stdout=lf,
                    stderr=subprocess.STDOUT,
                )
            rec["pid"] = proc.pid
            if slot.server == "runyard":
                rec["src_sha"] = src_fingerprint()  # the code this server process loads
            rec["startup_s"] = round(wait_health(url, proc, a.start_timeout), 1)
            settle = a.settle_mlflow if slot.server == "mlflow" else a.settle_runyard
            time.sleep(settle)
            rec["settle_s"] = settle
            rec["idle"] = tree_memory(proc.pid)
            log(
                f"{slot.backend}/{slot.server}: up in {rec['startup_s']} s, "
                f"idle RSS {rec['idle']['rss_mb']} MiB, {len(rec['idle']['processes'])} processes"
            )

            workloads = [w for w in a.workloads.split(",") if w]
            if "w6" in workloads:
                ok, why = self.w6_works(url, slot, proc.pid)
                rec["w6"] = "ok" if ok else why
                if not ok:
                    log(
                        f"{slot.backend}/{slot.server}: artifact proxy unusable ({why}); W6 skipped"
                    )
                    workloads.remove("w6")
            label = f"{slot.server}-{'pg' if slot.backend == 'postgresql' else 'sqlite'}"
            out = self.outdir / f"{slot.backend}-{slot.server}-r{slot.rep}.json"
            log(
                f"{slot.backend}/{slot.server}: workload {','.join(workloads)}"
                f"{' (quick)' if a.quick else ''} ..."
            )
            t0 = time.monotonic()
            rc = self.workload(
                url,
                label,
                out,
                proc.pid,
                db_pid,
                ["--workloads", ",".join(workloads), "--tag", f"r{slot.rep}", *a.bench_arg],
                timeout=a.workload_timeout,
            )
            rec.update(
                {
                    "workload_exit": rc,
                    "workload_s": round(time.monotonic() - t0, 1),
                    "result": rel(out) if out.exists() else None,
                }
            )
            rec["after"] = tree_memory(proc.pid)
            if db_name:
                rec["pg_sessions"] = self.pg.sessions(db_name)
            log(
                f"{slot.backend}/{slot.server}: workload exit {rc} in {rec['workload_s']} s, "
                f"RSS after {rec['after']['rss_mb']} MiB"
            )
            if proc.poll() is not None:
                raise BenchError(f"server died during the workload (exit {proc.returncode})")
            if (
                slot.server in a.profile_server
                and a.profile
                and self.py_spy
                and slot.backend == a.profile_backend
                and slot.rep == 1
            ):
                log(f"{slot.backend}/{slot.server}: profiling with py-spy ...")
                rec["profiles"] = self.profile(url, slot, proc.pid)
        except Exception as exc:  # noqa: BLE001 - recorded; the next slot still runs
            rec["error"] = str(exc) if isinstance(exc, BenchError) else repr(exc)
            log(f"{slot.backend}/{slot.server}: ERROR {exc}")
            if proc is not None:
                with contextlib.suppress(OSError):
                    tail = server_log.read_text(errors="replace").strip().splitlines()[-15:]
                    rec["server_log_tail"] = [scrub(line) for line in tail]
        finally:
            if proc is not None:
                stop_tree(proc)
            if db_name:
                try:
                    self.pg.drop(db_name)
                except BenchError as exc:
                    log(f"could not drop {db_name}: {exc}")
            shutil.rmtree(slot_dir, ignore_errors=True)
            rec["loadavg_after"] = loadavg()
        return rec


def scrub(text: str, limit: int = 300) -> str:
    """Remove this machine's absolute paths from a line that may end up in the report."""
    text = re.sub(r"(?<![\w.])(/[\w.+-]+)+/([\w.+-]+)", r"\2", text)
    return " ".join(text.split())[:limit]


# --------------------------------------------------------------------------------------------
# py-spy raw (collapsed) stacks -> hotspots
# --------------------------------------------------------------------------------------------
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def short_file(path: str) -> str:
    if path.startswith("<"):  # <string>, <frozen ...>, SQLAlchemy's generated __init__
        return "<generated>" if "generated" in path or path == "<string>" else path[:40]
    for marker in ("site-packages/", "/src/"):
        if marker in path:
            return path.split(marker, 1)[1]
    m = re.search(r"/lib/python3\.\d+/(.*)$", path)
    if m:
        return "stdlib/" + m.group(1)
    return os.path.basename(path)


def group_of(file: str) -> str:
    """runyard.<layer>, stdlib, or the third-party package a (shortened) file belongs to."""
    if file.startswith("runyard/"):
        parts = file.split("/")
        return "runyard." + (parts[1].removesuffix(".py") if len(parts) > 2 else "core")
    if file.startswith("stdlib/"):
        return "stdlib"
    if file.startswith("<"):
        return "(generated code)"
    return file.split("/")[0].removesuffix(".py")


# Leaf frames that mean "this thread is waiting", not computing (py-spy's idle detection misses
# some of them when a thread blocks on a lock).
WAITS = ("Condition.wait", "Event.wait", "Lock.acquire", "select", "poll", "epoll", "_worker",
         "wait (psycopg/", "Connection.wait", "_run_once", "Queue.get")  # fmt: skip


ENTRY = re.compile(r"\((runyard/(cli/|serve\.py|__main__\.py)|click/)")


def hotspots(raw: Path, top: int = 12) -> dict[str, Any]:
    """Summarise py-spy collapsed stacks: self and inclusive time by function and by package."""
    self_fn: Counter[str] = Counter()
    self_grp: Counter[str] = Counter()
    incl_fn: Counter[str] = Counter()
    incl_grp: Counter[str] = Counter()
    total = waiting = 0
    with open(raw) as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            if not stack or not n.isdigit():
                continue
            count = int(n)
            frames, groups = [], []
            for fr in stack.split(";"):
                m = FRAME.match(fr)
                if fr.startswith("process ") or not m or not m.group("file"):
                    continue
                file = short_file(m.group("file"))
                frames.append(f"{m.group('func')} ({file})")
                groups.append(group_of(file))
            if not frames:
                continue
            if any(frames[-1].startswith(w) or w in frames[-1] for w in WAITS):
                waiting += count
                continue
            total += count
            self_fn[frames[-1]] += count
            self_grp[groups[-1]] += count
            for fn in set(frames):
                incl_fn[fn] += count
            for g in set(groups):
                incl_grp[g] += count
    if not total:
        return {"samples": 0, "waiting_samples": waiting}

    def pct(c: Counter[str], k: int, keep: Callable[[str], bool] = lambda _: True) -> list[Any]:
        return [[key, round(100 * v / total, 1)] for key, v in c.most_common() if keep(key)][:k]

    return {
        "samples": total,
        "waiting_samples": waiting,
        "self": pct(self_fn, top),
        # stdlib is on every stack (threading, asyncio): only its self time means anything
        "groups": sorted(
            # packages that only frame other code (the CLI that runs the event loop) are left out
            (
                [g, None if g == "stdlib" else pc, round(100 * self_grp[g] / total, 1)]
                for g, pc in pct(incl_grp, 99)
                if self_grp[g]
            ),
            key=lambda x: -x[2],
        )[:top],
        # the event loop's own frames (CLI, pre-fork) are on a third of all stacks: leave them out
        "runyard_inclusive": pct(incl_fn, top, lambda k: "(runyard/" in k and not ENTRY.search(k)),
    }


# --------------------------------------------------------------------------------------------
# environment facts for the report
# --------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"nproc": os.cpu_count()}
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                info["ram_gib"] = round(int(line.split()[1]) / 2**20, 1)
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    info["kernel"] = os.uname().release
    return info


def src_fingerprint() -> str:
    """Hash of runyard's source as it is now: others may edit src/ while a benchmark runs."""
    digest = hashlib.sha256()
    for f in sorted((ROOT / "src" / "runyard").rglob("*.py")):
        with contextlib.suppress(OSError):
            digest.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()[:10]


def versions(pg: Pg, backends: list[str]) -> dict[str, Any]:
    v: dict[str, Any] = {}

    def run(cmd: list[str]) -> str:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            r = subprocess.run(
                cmd, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
            )
            if r.returncode == 0:
                return r.stdout.strip()
        return ""

    v["runyard_commit"] = run(["git", "rev-parse", "--short", "HEAD"]) or "unknown"
    v["runyard_dirty"] = bool(run(["git", "status", "--porcelain", "--", "src"]))
    v["runyard_src_sha"] = src_fingerprint()
    probe = (
        "import importlib.metadata as m, platform, json; print(json.dumps({n: m.version(n) "
        "for n in ('runyard', 'mlflow', 'sqlalchemy', 'psycopg', 'uvicorn', 'starlette')} "
        "| {'python': platform.python_version()}))"
    )
    with contextlib.suppress(ValueError):
        v.update(json.loads(run([str(PROJECT_PY), "-c", probe]) or "{}"))
    if "postgresql" in backends:
        with contextlib.suppress(BenchError):
            v["postgresql"] = pg.version()
    return v


# --------------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------------
def dig(d: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(d, list):
            try:
                d = d[int(part)]
            except (ValueError, IndexError):
                return None
        elif isinstance(d, dict):
            d = d.get(part)
        else:
            return None
    return d


@dataclass
class Row:
    label: str
    value: Callable[[dict[str, Any], dict[str, Any]], float | None]  # (result json, slot) -> value
    higher_is_better: bool
    verify: str | None = None  # workload key (dotted) whose verify.ok guards the row
    target: float | None = None  # required runyard advantage (x times)
    fmt: str = "{:,.0f}"
    short: str = ""  # name in the summary table

    def target_text(self) -> str:
        if not self.target:
            return ""
        if self.higher_is_better:
            return f"≥ {self.target:g}×"
        return f"≤ 1/{self.target:g} of MLflow's (≥ {self.target:g}×)"


def res(path: str) -> Callable[[dict[str, Any], dict[str, Any]], float | None]:
    return lambda r, _s: dig(r, "workloads." + path)


def cpu_per(wl: str, unit: str, scale: float) -> Callable[[dict[str, Any], dict[str, Any]], Any]:
    """Server (+DB) CPU milliseconds per unit of work: the contention-robust comparison."""

    def f(r: dict[str, Any], _s: dict[str, Any]) -> float | None:
        w = dig(r, "workloads." + wl) or {}
        units, rr = w.get(unit), w.get("resources") or {}
        if not units or "server_cpu_s" not in rr:
            return None
        return (rr["server_cpu_s"] + rr.get("db_cpu_s", 0)) / units * 1000 * scale

    return f


def peak_rss(r: dict[str, Any], _s: dict[str, Any]) -> float | None:
    peaks = [dig(w, "resources.server_peak_rss_mb") for w in r.get("workloads", {}).values()]
    peaks = [p for p in peaks if isinstance(p, int | float)]
    return max(peaks) if peaks else None


def rows_for(args: dict[str, Any]) -> tuple[list[Row], list[Row]]:
    n4, n5, mb = args.get("w4_runs"), args.get("w5_steps"), args.get("w6_mb")
    page = args.get("w4_page_size")
    n4s, n5s = f"{n4:,}" if n4 else "?", f"{n5:,}" if n5 else "?"
    targets = [
        Row(
            "log-batch ingest, 16 clients (metrics/s)",
            res("w1_c16.metrics_per_s"),
            True,
            "w1_c16",
            5,
        ),
        Row("single log-metric, 16 clients (req/s)", res("w2.requests_per_s"), True, "w2", 4),
        Row("run lifecycle, 16 clients (runs/s)", res("w3.runs_per_s"), True, "w3", 6, "{:,.1f}"),
        Row(
            f"filtered+ordered search, 1000 rows of {n4s} runs, p50 (ms)",
            res("w4.b_filter_order.latency.p50_ms"),
            False,
            "w4.b_filter_order",
            8,
            "{:,.1f}",
        ),
        Row(
            f"paging through all {n4s} runs ({page}/page), p50 (ms)",
            res("w4.c_paging.full_scan_latency.p50_ms"),
            False,
            "w4.c_paging",
            8,
        ),
        Row(
            f"get-history of {n5s} points, unpaged, p50 (ms)",
            res("w5.unpaged.latency.p50_ms"),
            False,
            "w5.unpaged",
            6,
        ),
        Row(
            "server RSS idle, before the workload (MiB)",
            lambda _r, s: dig(s, "idle.rss_mb"),
            False,
            None,
            3,
        ),
        Row(
            "server RSS after the workload (MiB)",
            lambda _r, s: dig(s, "after.rss_mb"),
            False,
            None,
            3,
        ),
    ]
    shorts = [
        "log-batch ingest, 16 clients (≥ 5×)",
        "single log-metric, 16 clients (≥ 4×)",
        "run lifecycle, 16 clients (≥ 6×)",
        "filtered+ordered 1000-row search p50 (≤ 1/8)",
        f"paging through all {n4s} runs (≤ 1/8)",
        f"get-history of {n5s} points (≤ 1/6)",
        "server RSS idle (≤ 1/3)",
        "server RSS after the run (≤ 1/3)",
    ]
    for row, short in zip(targets, shorts, strict=True):
        row.short = short
    more = [
        Row("log-batch ingest, 1 client (metrics/s)", res("w1_c1.metrics_per_s"), True, "w1_c1"),
        Row(
            "log-batch 16 clients: request p99 (ms)", res("w1_c16.latency.p99_ms"), False, "w1_c16"
        ),
        Row(
            "log-batch 16 clients: server+DB CPU ms per 1000 metrics",
            cpu_per("w1_c16", "metrics_ingested", 1000),
            False,
            "w1_c16",
            fmt="{:,.1f}",
        ),
        Row("log-metric: p50 (ms)", res("w2.latency.p50_ms"), False, "w2", fmt="{:,.1f}"),
        Row("log-metric: p99 (ms)", res("w2.latency.p99_ms"), False, "w2", fmt="{:,.1f}"),
        Row(
            "log-metric: server+DB CPU ms per request",
            cpu_per("w2", "requests_ok", 1),
            False,
            "w2",
            fmt="{:,.2f}",
        ),
        Row(
            "run lifecycle: per-run p50 (ms)",
            res("w3.run_latency.p50_ms"),
            False,
            "w3",
            fmt="{:,.1f}",
        ),
        Row(
            "run lifecycle: server+DB CPU ms per run",
            cpu_per("w3", "runs_ok", 1),
            False,
            "w3",
            fmt="{:,.1f}",
        ),
        Row(
            f"seeding {n4s} runs (create + log-batch, 16 clients) (runs/s)",
            res("w4.seed.runs_per_s"),
            True,
            None,
            fmt="{:,.1f}",
        ),
        Row(
            "unfiltered search, 1000 rows, p50 (ms)",
            res("w4.a_no_filter.latency.p50_ms"),
            False,
            "w4.a_no_filter",
            fmt="{:,.1f}",
        ),
        Row(
            "filtered+ordered search: p99 (ms)",
            res("w4.b_filter_order.latency.p99_ms"),
            False,
            "w4.b_filter_order",
            fmt="{:,.1f}",
        ),
        Row(
            "paging: per-page p50 (ms)",
            res("w4.c_paging.page_latency.p50_ms"),
            False,
            "w4.c_paging",
            fmt="{:,.1f}",
        ),
        Row(f"logging {n5s} points of one key (points/s)", res("w5.log.metrics_per_s"), True, None),
        Row(
            "get-history, paged by 25,000 where supported, p50 (ms)",
            res("w5.paged.latency.p50_ms"),
            False,
            "w5.paged",
        ),
        Row(f"artifact upload {mb} MiB (MiB/s)", res("w6.upload_mib_per_s"), True, "w6"),
        Row(f"artifact download {mb} MiB (MiB/s)", res("w6.download_mib_per_s"), True, "w6"),
        Row("server peak RSS during any workload (MiB)", peak_rss, False, None),
        Row(
            "server PSS idle (MiB; shared pages counted once)",
            lambda _r, s: dig(s, "idle.pss_mb"),
            False,
            None,
        ),
        Row(
            "server PSS after the workload (MiB)", lambda _r, s: dig(s, "after.pss_mb"), False, None
        ),
        Row(
            "PostgreSQL connections opened during the run (pool churn)",
            lambda _r, s: dig(s, "pg_sessions"),
            False,
            None,
        ),
    ]
    return targets, more


def verify_state(r: dict[str, Any] | None, key: str | None, slot: dict[str, Any]) -> str:
    if key is None:
        return "—"
    if r is None:
        return "no result"
    wl = key.split(".")[0]
    if wl == "w6" and slot.get("w6", "ok") != "ok":
        return "n/a"
    w = dig(r, "workloads." + wl)
    if w is None:
        return "not run"
    if "failed" in w:
        return "FAIL (error)"
    sub = dig(r, "workloads." + key)
    ok = dig(sub, "verify.ok")
    errs = dig(sub, "errors.count") or dig(w, "errors.count") or 0
    state = "ok" if ok else ("FAIL" if ok is False else "?")
    return f"{state}, {errs} err" if errs else state


def fmt_vals(vals: list[float], f: str) -> str:
    if not vals:
        return "n/a"
    s = f.format(statistics.median(vals))
    if len(vals) > 1:
        s += f" ({f.format(min(vals))}–{f.format(max(vals))})"
    return s


def render(manifest: dict[str, Any]) -> str:
    slots = manifest["slots"]
    results: dict[int, dict[str, Any] | None] = {}
    for i, s in enumerate(slots):
        results[i] = None
        if s.get("result"):
            with contextlib.suppress(OSError, ValueError):
                results[i] = json.loads((ROOT / s["result"]).read_text())
    m, v = manifest["machine"], manifest["versions"]
    lines: list[str] = []
    add = lines.append
    add("# Benchmarks: runyard vs `mlflow server`")
    add("")
    add("Generated by `bench/run_bench.py`; do not edit by hand — rerun the command below.")
    if manifest["quick"]:
        add("")
        add(
            "> **Smoke run (`--quick`)**: tiny sizes and 3-second windows. The figures only show"
            " that"
        )
        add("> the harness works end to end; they are not a measurement.")
    add("")
    add("| | |")
    add("|---|---|")
    add(f"| date | {manifest['started']} → {manifest.get('finished') or '(unfinished)'} |")
    add(f"| command | `{scrub(manifest['command'], limit=2000)}` (from the repo root) |")
    ram = m.get("ram_gib")
    add(
        f"| machine | {m.get('nproc')} CPUs ({m.get('cpu', '?')}), {ram} GiB RAM, "
        f"Linux {m.get('kernel', '?')} |"
    )
    commit = v.get("runyard_commit", "?") + (
        " + uncommitted changes in src/" if v.get("runyard_dirty") else ""
    )
    tree = f"; src/ fingerprint `{v['runyard_src_sha']}`" if v.get("runyard_src_sha") else ""
    add(f"| runyard | {v.get('runyard', '?')} at commit `{commit}`{tree} |")
    add(
        f"| mlflow | {v.get('mlflow', '?')} (same venv: SQLAlchemy {v.get('sqlalchemy', '?')}, "
        f"psycopg {v.get('psycopg', '?')}, uvicorn {v.get('uvicorn', '?')}, "
        f"Python {v.get('python', '?')}) |"
    )
    if v.get("postgresql"):
        add(f"| PostgreSQL | {v['postgresql']} on {manifest['pg']} (shared with the test suites) |")
    runs = manifest.get("runs") or [manifest]
    for k, run in enumerate(runs, 1):
        la0, la1 = run["loadavg_start"], run.get("loadavg_end") or ["?"]
        run_end = run.get("finished") or "(unfinished)"
        which = f", run {k} ({run['started'][11:16]}–{run_end[11:16]})" if len(runs) > 1 else ""
        add(
            f"| load average (1/5/15 min){which} | start {' / '.join(map(str, la0))}, "
            f"end {' / '.join(map(str, la1))} |"
        )
    add(
        f"| workers | {manifest['workers']} per server; settle after /health: runyard "
        f"{manifest['settle_runyard']} s, mlflow {manifest['settle_mlflow']} s |"
    )
    add("")
    trees = [(s["backend"], s["src_sha"]) for s in slots if s.get("src_sha")]
    if len({t for _, t in trees}) > 1:
        add(
            "**runyard's source changed between its slots** (other engineers were editing src/): "
            + ", ".join(f"{NAMES[b]} ran `{t}`" for b, t in trees)
            + ". Rows of different backends measured different code."
        )
        add("")
    noisy, other = noise(slots, results, m.get("nproc") or 2)
    if noisy:
        add(
            f"**The figures are noisy.** {noisy} Compare the ratios and the CPU-per-operation "
            "rows, "
            "not absolute numbers."
        )
    else:
        add(
            "Load from outside the benchmark was low during the run "
            f"(median CPU of other processes {other:.0f} % of a core), but this is a shared 2-core "
            "machine: compare ratios, not absolute numbers."
        )
    add("")
    add(
        "How the servers were run (the harness substitutes a fresh database, a temp directory and "
        "a free port for each):"
    )
    add("")
    add("```")
    seen = set()
    for s in slots:
        if s.get("command") and (s["server"], s["backend"]) not in seen:
            seen.add((s["server"], s["backend"]))
            env = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false " if s["server"] == "mlflow" else ""
            add(env + s["command"])
    add("```")
    add("")
    add(
        "* `MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false`: MLflow's default job runner (about 10 extra "
        "processes, ~1.3 GB PSS, CPU-busy for ~20 s after start) is switched off, so both process "
        "trees only serve tracking. With it on, MLflow's memory would be several times higher."
    )
    add(
        "* Both servers use psycopg 3 on PostgreSQL (MLflow via `postgresql+psycopg://`, since "
        "psycopg2 is not in the project venv; the anchor measurements used psycopg2)."
    )
    add(
        "* RSS is summed over the server's whole process tree (for MLflow: the `mlflow` CLI "
        "process, the uvicorn supervisor and its workers; for runyard: the pre-fork parent and its "
        "workers). "
        "RSS counts pages shared after `fork` once per process, PSS counts them once in total."
    )
    add(
        "* The load generator is the neutral `../shared/bench/mlflow_rest_bench.py`; it checks "
        "what it reads back, and its `verify` verdicts are shown per row (`runyard / mlflow`). A "
        "row whose runyard data failed verification never counts as met."
    )
    add("")

    by_backend: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, s in enumerate(slots):
        by_backend[s["backend"]][s["server"]].append(i)
    summary: dict[str, dict[str, str]] = defaultdict(dict)
    body = lines
    lines = []
    add = lines.append
    for backend in [b for b in BACKENDS if b in by_backend]:
        idx = by_backend[backend]
        args = next(
            (r["args"] for i in idx["runyard"] + idx["mlflow"] if (r := results[i]) is not None), {}
        )
        targets, more = rows_for(args)
        add(f"## {NAMES[backend]}")
        add("")
        for s in (slots[i] for i in idx["runyard"] + idx["mlflow"]):
            if s.get("error"):
                add(f"* **{s['server']} (rep {s['rep']}) failed:** {scrub(s['error'])}")
                for tail in s.get("server_log_tail", [])[-5:]:
                    add(f"  `{tail}`")
            elif s.get("workload_exit"):
                add(
                    f"* {s['server']} (rep {s['rep']}): the workload exited with code "
                    f"{s['workload_exit']} (a verification failed, see the verify column)."
                )
        reps = max(len(idx["runyard"]), len(idx["mlflow"]))
        if reps > 1:
            add(f"* {reps} repetitions per server, alternating; cells are medians (min–max).")
        if lines[-1]:
            add("")
        add(
            "| metric | runyard | mlflow | runyard advantage | target | met? | verify (runyard / "
            "mlflow) |"
        )
        add("|---|---:|---:|---:|---|---|---|")
        for row in targets:
            cells = table_row(row, idx, slots, results)
            add(cells[0])
            summary[row.short][backend] = cells[1]
        add("")
        add("Other measurements (no target; ratios are runyard's advantage):")
        add("")
        add("| metric | runyard | mlflow | runyard advantage | verify (runyard / mlflow) |")
        add("|---|---:|---:|---:|---|")
        for row in more:
            line = table_row(row, idx, slots, results)[0]
            parts = line.split(" | ")
            if parts[1] == parts[2] == "n/a":  # e.g. PostgreSQL-only rows on SQLite
                continue
            add(" | ".join(parts[:4] + parts[6:]))
        probes = probe_table(idx, results)
        if probes:
            add("")
            add(probes)
        add("")
    sections, lines, add = lines, body, body.append
    if summary:
        present = [b for b in BACKENDS if b in by_backend]
        add("## Targets at a glance")
        add("")
        add(
            "runyard's advantage over MLflow (× better; time and memory rows: MLflow's value / "
            "runyard's), and whether the issue's target is met:"
        )
        add("")
        add("| target | " + " | ".join(NAMES[b] for b in present) + " |")
        add("|---|" + "---|" * len(present))
        for label, cells in summary.items():
            add(f"| {label} | " + " | ".join(cells.get(b, "n/a") for b in present) + " |")
        add("")
    lines.extend(sections)
    profiles = [p for s in slots for p in s.get("profiles", [])]
    profiles += manifest.get("extra_profiles", [])
    if profiles:
        add("## Where the CPU goes (py-spy)")
        add("")
        add(
            "py-spy (`record --subprocesses --gil`: only samples of a thread holding the GIL, i.e. "
            "Python CPU; time waiting for the database is not in it) on the server's whole process "
            "tree during a separate pass of the workload, after the measured run, on the same "
            "server. Percentages are of those samples; *inclusive* counts a "
            "function or package when it is anywhere on the stack."
        )
        for p in profiles:
            hs = p.get("hotspots") or {}
            add("")
            add(
                f"### {p.get('server', 'runyard')}: {p['name']} ({p['workload']}, "
                f"{NAMES[p['backend']]}) — {hs.get('samples', 0):,} samples"
            )
            add("")
            if p.get("from"):
                add(f"From a separate {p['from']}, not the run measured above.")
                add("")
            if p.get("svg"):
                add(f"Flame graph: `{p['svg']}` (local, gitignored).")
                add("")
            if not hs.get("samples"):
                add("No samples: " + "; ".join(scrub(e) for e in p.get("errors", [])))
                continue
            add("| package | inclusive % | self % | function (top self time) | self % |")
            add("|---|---:|---:|---|---:|")
            g, st = hs.get("groups", []), hs.get("self", [])
            for k in range(max(len(g), len(st))):
                gc = ["", "", ""]
                if k < len(g):
                    gc = [f"`{g[k][0]}`", "—" if g[k][1] is None else str(g[k][1]), str(g[k][2])]
                sc = [f"`{st[k][0]}`", str(st[k][1])] if k < len(st) else ["", ""]
                add(f"| {' | '.join(gc)} | {sc[0]} | {sc[1]} |")
            if hs.get("runyard_inclusive"):
                add("")
                add(
                    "runyard functions, inclusive: "
                    + ", ".join(f"`{k}` {pc} %" for k, pc in hs["runyard_inclusive"][:10])
                )
    if manifest.get("notes"):
        add("")
        add("## Notes")
        add("")
        for n in manifest["notes"]:
            add(f"* {n}")
    add("")
    add(
        "Raw results: `bench/results/` (gitignored), one JSON per server and backend plus "
        "`manifest.json`; `.bench-venv/bin/python bench/run_bench.py --report "
        "bench/results/<stamp>/manifest.json` re-renders this page from them."
    )
    if manifest.get("report_command"):
        add("")
        cmd = scrub(manifest["report_command"], limit=2000)
        add(f"This page was assembled from the runs above with `{cmd}`.")
    return "\n".join(lines) + "\n"


def table_row(
    row: Row,
    idx: dict[str, list[int]],
    slots: list[dict[str, Any]],
    results: dict[int, dict[str, Any] | None],
) -> tuple[str, str]:
    vals: dict[str, list[float]] = {}
    ver: dict[str, list[str]] = {}
    for server in SERVERS:
        vals[server], ver[server] = [], []
        for i in idx.get(server, []):
            r, s = results[i], slots[i]
            ver[server].append(verify_state(r, row.verify, s))
            if r is None and not row.label.startswith("server"):
                continue
            wl = (row.verify or "").split(".")[0]
            if wl == "w6" and s.get("w6", "ok") != "ok":
                continue
            x = row.value(r or {}, s)
            if isinstance(x, int | float):
                vals[server].append(float(x))
    cell = {}
    for server in SERVERS:
        cell[server] = fmt_vals(vals[server], row.fmt)
        wl = (row.verify or "").split(".")[0]
        if wl == "w6" and any(slots[i].get("w6", "ok") != "ok" for i in idx.get(server, [])):
            cell[server] = "n/a (not implemented yet)" if server == "runyard" else "n/a"
    ratio_s, met = "n/a", "n/a"
    if vals["runyard"] and vals["mlflow"]:
        ry, ml = statistics.median(vals["runyard"]), statistics.median(vals["mlflow"])
        ratio = None
        if ry > 0 and ml > 0:
            ratio = ry / ml if row.higher_is_better else ml / ry
        if ratio is not None:
            ratio_s = f"{ratio:.2f}×"
            if row.target:
                failed = any(x.startswith("FAIL") for x in ver["runyard"])
                if failed:
                    met = "**no** (verify FAIL)"
                else:
                    met = "yes" if ratio >= row.target else "**missed**"
    target = row.target_text()
    vcell = " / ".join(",".join(sorted(set(ver[s]))) or "—" for s in SERVERS)
    line = (
        f"| {row.label} | {cell['runyard']} | {cell['mlflow']} | {ratio_s} | {target} | {met} "
        f"| {vcell} |"
    )
    return line, f"{ratio_s} ({met})" if row.target else ratio_s


def probe_table(idx: dict[str, list[int]], results: dict[int, dict[str, Any] | None]) -> str:
    probes: dict[str, dict[str, str]] = {}
    for server in SERVERS:
        for i in idx.get(server, [])[:1]:
            p = dig(results[i], "workloads.probe") or {}
            for k, val in p.items():
                if isinstance(val, dict) and "status" in val:
                    probes.setdefault(k, {})[server] = str(val["status"])
    if not probes:
        return ""
    out = [
        "API-limit probe (HTTP status; MLflow's answer is the compatible one):",
        "",
        "| request | runyard | mlflow | same? |",
        "|---|---|---|---|",
    ]
    for k, st in probes.items():
        ry, ml = st.get("runyard", "—"), st.get("mlflow", "—")
        same = "—" if "—" in (ry, ml) else ("yes" if ry == ml else "**no**")
        out.append(f"| {k.replace('_', ' ')} | {ry} | {ml} | {same} |")
    return "\n".join(out)


def noise(
    slots: list[dict[str, Any]], results: dict[int, dict[str, Any] | None], nproc: int
) -> tuple[str, float]:
    """(a sentence if the run was noisy, median 'other processes' CPU % of a core)."""
    others = []
    for r in results.values():
        for w in (r or {}).get("workloads", {}).values():
            rr = w.get("resources") or {}
            if rr.get("wall_s", 0) >= 3 and "other_cpu_s" in rr:
                others.append(100 * rr["other_cpu_s"] / rr["wall_s"])
    other = statistics.median(others) if others else 0.0
    worst = max(others) if others else 0.0
    before = [s["loadavg_before"][0] for s in slots if s.get("loadavg_before")]
    reasons = []
    if before and max(before) > 0.5 * nproc:
        reasons.append(
            f"Before some servers started, the 1-minute load average was already up to "
            f"{max(before):.1f} on {nproc} CPUs (other sessions' tests)."
        )
    if other > 25 or worst > 80:
        reasons.append(
            f"Processes outside the benchmark used a median {other:.0f} % (worst "
            f"{worst:.0f} %) of a core while workloads ran."
        )
    return " ".join(reasons), other


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated subset of postgresql,sqlite (default: both)",
    )
    p.add_argument(
        "--servers",
        default=",".join(SERVERS),
        help="comma-separated subset of runyard,mlflow, in the order they alternate",
    )
    p.add_argument("--workers", type=int, default=2, help="worker processes per server")
    p.add_argument(
        "--reps", type=int, default=1, help="repetitions per server and backend (A,B then B,A, ...)"
    )
    p.add_argument("--quick", action="store_true", help="pass --quick to the workload (smoke run)")
    p.add_argument("--workloads", default=ALL_WORKLOADS, help=f"default {ALL_WORKLOADS}")
    p.add_argument(
        "--bench-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for the workload script, repeatable (e.g. --bench-arg=--w4-runs=2000)",
    )
    p.add_argument(
        "--settle-mlflow",
        type=float,
        default=15.0,
        help="seconds to wait after MLflow's /health answers (its workers start late)",
    )
    p.add_argument("--settle-runyard", type=float, default=3.0)
    p.add_argument("--start-timeout", type=float, default=180.0)
    p.add_argument(
        "--workload-timeout",
        type=float,
        default=None,
        help="seconds per workload run (default 3600, 900 with --quick)",
    )
    p.add_argument("--pg-host", default="127.0.0.1")
    p.add_argument("--pg-port", type=int, default=5432)
    p.add_argument("--pg-user", default="postgres")
    p.add_argument(
        "--no-profile",
        dest="profile",
        action="store_false",
        help="skip the py-spy profile of runyard",
    )
    p.add_argument(
        "--no-profile-svg",
        dest="profile_svg",
        action="store_false",
        help="only collapsed stacks, no flame graph (halves the profiling time)",
    )
    p.add_argument("--profile-backend", default="postgresql", choices=BACKENDS)
    p.add_argument(
        "--profile-server",
        action="append",
        choices=SERVERS,
        help="server(s) to profile after their measured run (default: runyard)",
    )
    p.add_argument(
        "--profile-workloads",
        default="log-batch,log-metric",
        help=f"comma-separated, from {','.join(PROFILES)} (default: log-batch,log-metric)",
    )
    p.add_argument("--profile-rate", type=int, default=100, help="py-spy samples per second")
    p.add_argument("--results", default="bench/results", help="where raw results go")
    p.add_argument("--doc", default="docs/benchmarks.md", help="report path ('' = don't write)")
    p.add_argument(
        "--report",
        metavar="MANIFEST",
        nargs="+",
        help="only re-render the report from saved manifest.json files (several are merged, e.g. "
        "a PostgreSQL run and a SQLite run)",
    )
    p.add_argument(
        "--profiles-from",
        metavar="MANIFEST",
        action="append",
        default=[],
        help="with --report: also show the py-spy profiles of this (other) run",
    )
    p.add_argument(
        "--note", action="append", default=[], help="a sentence for the report's notes (repeatable)"
    )
    a = p.parse_args(argv)
    a.backends = [b for b in a.backends.split(",") if b]
    a.servers = [s for s in a.servers.split(",") if s]
    if bad := (set(a.backends) - set(BACKENDS)) | (set(a.servers) - set(SERVERS)):
        p.error(f"unknown backend/server: {', '.join(sorted(bad))}")
    if a.reps < 1 or a.workers < 1:
        p.error("--reps and --workers must be at least 1")
    a.profile_server = a.profile_server or ["runyard"]
    a.profile_workloads = [w for w in a.profile_workloads.split(",") if w]
    if bad := set(a.profile_workloads) - set(PROFILES):
        p.error(f"unknown profile workload: {', '.join(sorted(bad))}")
    if a.workload_timeout is None:
        a.workload_timeout = 900.0 if a.quick else 3600.0
    return a


def command_line(argv: list[str]) -> str:
    launcher = (
        os.environ.get("RUNYARD_BENCH_LAUNCHER") or ".bench-venv/bin/python bench/run_bench.py"
    )
    return " ".join([launcher, *map(shlex.quote, argv)])


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    def handler(signum: int, _frame: object) -> None:
        raise Interrupted(signal.Signals(signum).name)

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def merge(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    """One report from several runs: their slots side by side, every command listed."""
    manifests = sorted(manifests, key=lambda m: m["started"])
    out = dict(manifests[0])
    out["slots"] = [s for m in manifests for s in m["slots"]]
    keep = ("command", "started", "finished", "loadavg_start", "loadavg_end")
    out["runs"] = [{k: m.get(k) for k in keep} for m in manifests]
    out["finished"] = manifests[-1].get("finished")
    out["loadavg_end"] = manifests[-1].get("loadavg_end")
    out["quick"] = any(m["quick"] for m in manifests)
    out["command"] = "`, then `".join(dict.fromkeys(m["command"] for m in manifests))
    out["notes"] = [n for m in manifests for n in m.get("notes", [])]
    commits = {m["versions"].get("runyard_commit") for m in manifests}
    if len(commits) > 1:
        out["notes"].append(
            f"The runs merged here used different runyard commits: {sorted(commits)}."
        )
    return out


# bench/artifacts_bench.py and bench/compare.py own these parts of the document; a tracking
# rerun keeps them.
KEPT_SECTIONS = [
    re.compile(rf"<!-- {name}:begin -->.*<!-- {name}:end -->\n?", re.S)
    for name in ("artifacts", "change")
]


def write_doc(a: argparse.Namespace, manifest: dict[str, Any]) -> None:
    if a.doc:
        doc = ROOT / a.doc
        doc.parent.mkdir(parents=True, exist_ok=True)
        old = doc.read_text() if doc.exists() else ""
        kept = [m.group(0) for s in KEPT_SECTIONS if (m := s.search(old))]
        doc.write_text("\n".join([render(manifest), *kept]))
        log(f"wrote {rel(doc)}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    a = parse_args(argv)
    if a.report:
        manifest = merge([json.loads(Path(m).read_text()) for m in a.report])
        manifest["notes"] += a.note
        # the notes are on the page already: elide them from the command line shown there
        shown = [("…" if i and argv[i - 1] == "--note" else w) for i, w in enumerate(argv)]
        manifest["report_command"] = command_line(shown).replace("'…'", "…")
        for extra in a.profiles_from:
            other = json.loads(Path(extra).read_text())
            v = other["versions"]
            commit = v.get("runyard_commit", "?") + ("+changes" if v.get("runyard_dirty") else "")
            for slot in other["slots"]:
                for prof in slot.get("profiles", []):
                    manifest.setdefault("extra_profiles", []).append(
                        prof | {"from": f"run of {other['started'][:16]}, runyard `{commit}`"}
                    )
        write_doc(a, manifest)
        return 0
    os.chdir(ROOT)
    for need in (WORKLOAD, PROJECT_PY, MLFLOW_BIN):
        if not (ROOT / need).exists():
            log(f"missing {need} (relative to the repo root)")
            return 2
    stamp = time.strftime("%Y%m%d-%H%M%S")
    outdir = ROOT / a.results / stamp
    outdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="runyard-bench-"))
    manifest: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": command_line(argv),
        "quick": a.quick,
        "workers": a.workers,
        "settle_runyard": a.settle_runyard,
        "settle_mlflow": a.settle_mlflow,
        "pg": f"{a.pg_host}:{a.pg_port}",
        "loadavg_start": loadavg(),
        "machine": machine(),
        "slots": [],
        "notes": list(a.note),
    }
    runner = Runner(a, outdir, work)
    manifest["versions"] = versions(runner.pg, a.backends)
    if a.profile and not runner.py_spy:
        manifest["notes"].append("py-spy was not available: no profile.")
    log(f"results in {rel(outdir)}; load average {manifest['loadavg_start']}")
    rc = 0
    try:
        with signals_raise():
            for backend in a.backends:
                for rep in range(1, a.reps + 1):
                    order = a.servers if rep % 2 else list(reversed(a.servers))
                    for server in order:
                        rec = runner.run_slot(Slot(server, backend, rep))
                        manifest["slots"].append(rec)
                        if rec.get("error") or rec.get("workload_exit"):
                            rc = 1
                        (outdir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    except Interrupted as exc:
        log(f"interrupted ({exc}); servers stopped, databases dropped")
        manifest["notes"].append(f"The run was interrupted ({exc}); results are partial.")
        rc = 130
    finally:
        shutil.rmtree(work, ignore_errors=True)
    manifest["loadavg_end"] = loadavg()
    manifest["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    (outdir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    write_doc(a, manifest)
    return rc


if __name__ == "__main__":
    sys.exit(main())
