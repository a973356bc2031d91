"""The model registry, runyard against ``mlflow server``, on the same PostgreSQL in one run.

For each server in turn, on a fresh database of its own (2 workers each)::

    .bench-venv/bin/python bench/registry_bench.py [--versions 10000] [--models 100]

1. creates ``--models`` registered models, then ``--versions`` model versions spread over them
   from 16 client threads (every version from one run's ``runs:/`` source, tagged team a/b),
   and checks that each model's versions are numbered 1..n with no gap or duplicate;
2. searches the versions with a filter and an order_by (``run_id`` and a tag, newest first,
   1000 a page), p50 of 20;
3. get-latest-versions of every model, p50;
4. ``mlflow.pyfunc.load_model("models:/<name>@champion")`` of a small sklearn model end to end
   (registry lookups and the artifact download through the server), p50 of 10, in a
   subprocess of the project's venv, which has mlflow.

It prints one markdown table with both servers and runyard's advantage.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_bench as rb  # noqa: E402 - the same processes, ports and databases

API = "/api/2.0/mlflow"
CLIENTS = 16

# What the load_model step runs in the project's venv: log a model, register it, alias it,
# then load it by alias ten times; prints the timings as JSON.
LOAD_SCRIPT = """
import json, sys, time, mlflow, numpy as np
from sklearn.linear_model import LinearRegression
mlflow.set_tracking_uri(sys.argv[1])
name = sys.argv[2]
mlflow.set_experiment(name)
model = LinearRegression().fit(np.arange(20).reshape(-1, 2), np.arange(10))
with mlflow.start_run():
    info = mlflow.sklearn.log_model(model, name="model", registered_model_name=name,
                                    pip_requirements=["scikit-learn"])
client = mlflow.MlflowClient()
client.set_registered_model_alias(name, "champion", "1")
times = []
for _ in range(10):
    t0 = time.perf_counter()
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    times.append((time.perf_counter() - t0) * 1000)
    assert float(loaded.predict(np.array([[2.0, 3.0]]))[0]) > 0
print(json.dumps(times))
"""


def call(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    if method == "GET" and body:
        path, data = path + "?" + urllib.parse.urlencode(body, doseq=True), None
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url + API + path, data, headers, method=method)
    with urllib.request.urlopen(request, timeout=300) as answer:
        return json.loads(answer.read() or b"{}")


def timed(fn: Callable[[], Any], reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def workload(url: str, models: int, total: int) -> dict[str, float]:
    prefix = f"bm-{secrets.token_hex(3)}"
    names = [f"{prefix}-{i:03d}" for i in range(models)]
    experiment = call(url, "POST", "/experiments/create", {"name": prefix})["experiment_id"]
    run = call(url, "POST", "/runs/create", {"experiment_id": experiment})["run"]["info"]
    run_id = run["run_id"]
    for name in names:
        call(url, "POST", "/registered-models/create", {"name": name})
    rng = random.Random(7)
    plan = [(rng.choice(names), "a" if i % 2 else "b") for i in range(total)]

    def create(item: tuple[str, str]) -> tuple[str, int]:
        name, team = item
        body = {
            "name": name,
            "source": f"runs:/{run_id}/model",
            "run_id": run_id,
            "tags": [{"key": "team", "value": team}],
        }
        return name, int(
            call(url, "POST", "/model-versions/create", body)["model_version"]["version"]
        )

    t0 = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        made = list(pool.map(create, plan))
    create_s = time.perf_counter() - t0
    numbers: dict[str, list[int]] = defaultdict(list)
    for name, version in made:
        numbers[name].append(version)
    for name, got in numbers.items():
        if sorted(got) != list(range(1, len(got) + 1)):
            raise SystemExit(
                f"{url}: {name} has versions {sorted(got)[:10]}... (gaps or duplicates)"
            )

    search = {
        "filter": f"run_id = '{run_id}' AND tags.team = 'a'",
        "order_by": ["last_updated_timestamp DESC"],
        "max_results": 1000,
    }
    hits = call(url, "GET", "/model-versions/search", search).get("model_versions", [])
    assert len(hits) == min(1000, total // 2), len(hits)
    search_ms = timed(lambda: call(url, "GET", "/model-versions/search", search), 20)
    latest = "/registered-models/get-latest-versions"
    latest_ms = [timed(partial(call, url, "POST", latest, {"name": n}), 1)[0] for n in names]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    loaded = subprocess.run(
        [str(rb.ROOT / rb.PROJECT_PY), "-c", LOAD_SCRIPT, url, f"{prefix}-load"],
        capture_output=True, text=True, timeout=600, check=True, env=env,
    )  # fmt: skip
    load_ms = json.loads(loaded.stdout.strip().splitlines()[-1])
    return {
        "create_per_s": total / create_s,
        "search_p50_ms": statistics.median(search_ms),
        "latest_p50_ms": statistics.median(latest_ms),
        "load_p50_ms": statistics.median(load_ms),
    }


@contextlib.contextmanager
def server(kind: str, work: Path, pg: rb.Pg) -> Iterator[str]:
    db = f"bench_registry_{kind}_{secrets.token_hex(4)}"
    pg.create(db)
    port = str(rb.free_port())
    cmd = rb.server_cmd(kind, pg.uri(kind, db), str(work / "artifacts"), port, 2, rb.ROOT)
    log = open(work / f"{kind}.log", "wb")  # noqa: SIM115 - closed below, after the server
    proc = subprocess.Popen(
        cmd, cwd=rb.ROOT, env=rb.server_env(kind), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        url = f"http://{rb.HOST}:{port}"
        rb.wait_health(url, proc, 180)
        time.sleep(3.0 if kind == "runyard" else 15.0)  # settle, as run_bench does
        yield url
    finally:
        rb.stop_tree(proc)
        log.close()
        pg.drop(db)


ROWS = (
    ("create_per_s", "create model versions, 16 clients (versions/s)", True),
    ("search_p50_ms", "search model versions, filter + order_by, 1000 rows, p50 (ms)", False),
    ("latest_p50_ms", "get-latest-versions, p50 (ms)", False),
    ("load_p50_ms", "load_model('models:/<name>@champion') end to end, p50 (ms)", False),
)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--versions", type=int, default=10_000)
    p.add_argument("--models", type=int, default=100)
    a = p.parse_args()
    pg = rb.Pg("127.0.0.1", 5432, os.environ.get("PGUSER", "postgres"))
    results = {}
    with tempfile.TemporaryDirectory(prefix="runyard-registry-bench-") as tmp:
        for kind in ("runyard", "mlflow"):
            work = Path(tmp) / kind
            work.mkdir()
            with server(kind, work, pg) as url:
                results[kind] = workload(url, a.models, a.versions)
    print(f"PostgreSQL, {a.versions:,} versions over {a.models} models, 2 workers each:\n")
    print("| metric | runyard | mlflow | runyard advantage |")
    print("|---|---:|---:|---:|")
    for key, label, higher_is_better in ROWS:
        ours, theirs = results["runyard"][key], results["mlflow"][key]
        ratio = ours / theirs if higher_is_better else theirs / ours
        print(f"| {label} | {ours:,.1f} | {theirs:,.1f} | {ratio:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
