"""Two runyard trees served side by side and measured request by request, alternating.

``compare.py`` sets whole benchmark runs against each other (B A B A); on a 2-core machine a
run's read rows swing by 5-10 % with whatever else the machine does in those minutes. Here both
trees serve at the same time, each on a fresh database of its own, seeded alike, and every
round measures the same requests on one and then the other (the order flips each round), so
drift falls on both and the medians compare like with like::

    .bench-venv/bin/python bench/interleaved.py --before-src ../old/src --after-src src \
        --backend postgresql [--runs 3000] [--rounds 12]

``--before-src`` / ``--after-src`` are the ``src`` folders of two checkouts (a ``git worktree``
of the earlier commit, say); both run with this repo's ``.venv``, the tree put first on
``PYTHONPATH``. It prints one markdown row per measurement. The workload is the tracking
benchmark's in small: paging through all runs 1000 at a time, a filtered and ordered search,
an unpaged 20,000-point history and ten 1000-metric log-batches.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_bench as rb  # noqa: E402 - the same processes, ports and databases

API = "/api/2.0/mlflow"
HISTORY_POINTS = 20_000


def post(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url + API + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.loads(answer.read() or b"{}")  # type: ignore[no-any-return]


def seed(url: str, runs: int) -> tuple[str, str]:
    """An experiment of ``runs`` runs (5 params, 3 tags, 5 metrics at two steps each) and the
    id of one run that also holds a long history."""
    eid = post(url, "/experiments/create", {"name": f"interleaved-{secrets.token_hex(4)}"})
    experiment_id = eid["experiment_id"]

    def one(i: int) -> str:
        created = post(url, "/runs/create", {"experiment_id": experiment_id, "start_time": i})
        run_id: str = created["run"]["info"]["run_id"]
        batch = {
            "run_id": run_id,
            "params": [{"key": f"p{j}", "value": str(i % (j + 3))} for j in range(5)],
            "tags": [{"key": f"t{j}", "value": f"v{i % 7}"} for j in range(3)],
            "metrics": [
                {"key": f"m{j}", "value": (i * j) % 101 / 10, "timestamp": 1, "step": step}
                for j in range(5)
                for step in (0, 1)
            ],
        }
        post(url, "/runs/log-batch", batch)
        return run_id

    with ThreadPoolExecutor(8) as pool:
        run_ids = list(pool.map(one, range(runs)))
    for start in range(0, HISTORY_POINTS, 1000):
        points = [_point("loss", start + i) for i in range(1000)]
        post(url, "/runs/log-batch", {"run_id": run_ids[0], "metrics": points})
    return experiment_id, run_ids[0]


def _point(key: str, step: int) -> dict[str, Any]:
    return {"key": key, "value": step / 3, "timestamp": 1, "step": step}


def measurements(
    url: str, experiment_id: str, run_id: str, rnd: int
) -> dict[str, Callable[[], Any]]:
    def paging() -> None:
        body: dict[str, Any] = {"experiment_ids": [experiment_id], "max_results": 1000}
        while token := post(url, "/runs/search", body).get("next_page_token"):
            body["page_token"] = token

    def filtered() -> None:
        post(url, "/runs/search", {
            "experiment_ids": [experiment_id],
            "filter": "metrics.m1 > 2 and params.p1 = '1'",
            "order_by": ["metrics.m2 DESC"],
            "max_results": 1000,
        })  # fmt: skip

    def history() -> None:
        query = f"?run_id={run_id}&metric_key=loss"
        with urllib.request.urlopen(url + API + "/metrics/get-history" + query) as answer:
            assert len(json.loads(answer.read())["metrics"]) == HISTORY_POINTS

    def log_batches() -> None:
        for b in range(10):
            points = [_point(f"lb{rnd}", b * 1000 + i) for i in range(1000)]
            post(url, "/runs/log-batch", {"run_id": run_id, "metrics": points})

    return {
        "paging through all runs, 1000/page (ms)": paging,
        "filtered+ordered search, 1000 rows (ms)": filtered,
        f"get-history of {HISTORY_POINTS:,} points (ms)": history,
        "10 log-batches of 1000 metrics (ms)": log_batches,
    }


@contextlib.contextmanager
def server(src: Path, backend: str, work: Path, pg: rb.Pg) -> Iterator[str]:
    """A runyard server of the tree ``src`` on a fresh database; yields its URL."""
    db_name = f"bench_interleaved_{secrets.token_hex(4)}"
    if backend == "postgresql":
        pg.create(db_name)
        uri = pg.uri("runyard", db_name)
    else:
        uri = f"sqlite:///{work / 'runyard.db'}"
    port = str(rb.free_port())
    cmd = rb.server_cmd("runyard", uri, str(work / "artifacts"), port, 2, rb.ROOT)
    env = {**rb.server_env("runyard"), "PYTHONPATH": str(src.resolve())}
    log = open(work / "server.log", "wb")  # noqa: SIM115 - closed below, after the server
    proc = subprocess.Popen(cmd, cwd=rb.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://{rb.HOST}:{port}"
        rb.wait_health(url, proc, 120)
        yield url
    finally:
        rb.stop_tree(proc)
        log.close()
        if backend == "postgresql":
            pg.drop(db_name)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--before-src", type=Path, required=True)
    p.add_argument("--after-src", type=Path, required=True)
    p.add_argument("--backend", choices=rb.BACKENDS, default="sqlite")
    p.add_argument("--runs", type=int, default=3000, help="runs seeded on each side")
    p.add_argument("--rounds", type=int, default=12)
    a = p.parse_args()
    pg = rb.Pg("127.0.0.1", 5432, os.environ.get("PGUSER", "postgres"))
    times: dict[tuple[str, str], list[float]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="runyard-interleaved-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        sides: dict[str, dict[str, Callable[[], Any]]] = {}
        seeded = {}
        for side, src in (("before", a.before_src), ("after", a.after_src)):
            work = Path(tmp) / side
            work.mkdir()
            url = stack.enter_context(server(src, a.backend, work, pg))
            seeded[side] = (url, *seed(url, a.runs))
        for rnd in range(a.rounds):
            order = ["before", "after"] if rnd % 2 == 0 else ["after", "before"]
            for side in order:
                sides[side] = measurements(*seeded[side], rnd)
                for name, fn in sides[side].items():
                    t0 = time.perf_counter()
                    fn()
                    times.setdefault((side, name), []).append((time.perf_counter() - t0) * 1000)
    print(f"{a.backend}, {a.runs:,} runs, {a.rounds} rounds, medians:\n")
    print("| measurement | before | after | change (positive: faster) |")
    print("|---|---:|---:|---:|")
    for name in sides["before"]:
        before = statistics.median(times[("before", name)])
        after = statistics.median(times[("after", name)])
        print(f"| {name} | {before:,.1f} | {after:,.1f} | {(before - after) / before:+.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
