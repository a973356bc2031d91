"""The fuzz suite: every route of the route table, generated requests, one live server each.

For each route (every row of ``runyard.api.routes``, on each of its mounts, its path parameters
filled in) a fixed number of generated requests (``fields.py`` says what each route reads,
``probe.py`` how a request is built and judged) go to a ``runyard server`` with one worker, on
SQLite and PostgreSQL, with auth off and on (as a user with some grants, and as admin). It fails
on any 5xx, on an error answer that is not MLflow's error JSON, on a server that stops answering
or exits, on "Task was destroyed but it is pending!" in its log, and on memory that does not
come back: after the cases and a few searches with filters of megabytes, the worker's RSS,
given up to 30 s of idling, must be within 64 MB of where it was after the warm-up.

Deterministic: the seed (``RUNYARD_FUZZ_SEED``) and the route give every case; a failure prints
both and the request itself. ``RUNYARD_FUZZ_CASES`` sets the cases per route and mount,
``RUNYARD_FUZZ_ROUTE`` keeps only routes whose path contains it (to replay one).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from runyard.api import routes
from tests.fuzz import fields, probe
from tests.fuzz.conftest import FuzzServer
from tests.fuzz.gen import Gen, encode_json
from tests.fuzz.probe import Case

pytestmark = pytest.mark.integration

SEED = os.environ.get("RUNYARD_FUZZ_SEED", "runyard-fuzz-1")
CASES = int(os.environ.get("RUNYARD_FUZZ_CASES", "20"))
ONLY = os.environ.get("RUNYARD_FUZZ_ROUTE", "")
WARM_UP_CASES = 2
REQUEST_TIMEOUT_S = 20.0  # far above any answer that is fine; a slower one is a finding
HEALTH_TIMEOUT_S = 2.0
BUDGET_S = 150.0  # wall time for one server's cases; the pytest timeout is 300 s
MEMORY_SLACK_MB = 64
IDLE_S = 30.0


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as served, mount included
    key: str  # the row's path, without its mount: the key of fields.SPECS
    rpc: bool  # the answer is a JSON object (an RPC row)


def route_table(auth: bool) -> list[Route]:
    table = getattr(routes, "endpoints", None)
    if table is not None:
        return [
            Route(row.method, path, row.path, row.rpc is not None)
            for row in table(auth)
            for path in row.paths
        ]
    # A tree from before the route table (ee67f97): its Starlette routes, to compare against.
    served: list[Any] = routes.routes()  # type: ignore[call-arg]
    return [
        Route(method, r.path, re.sub(r"^/(ajax-)?api(?=/)", "", r.path), False)
        for r in served
        for method in sorted(r.methods or ()) if method != "HEAD"
    ]  # fmt: skip


HEAVY_REQUESTS = 12
HEAVY_BYTES = 4 << 20


def heavy(g: Gen, table: list[Route], targets: fields.Targets) -> Iterator[tuple[Route, Case]]:
    """A few searches with filters of megabytes (the issue's memory finding): each is refused
    or answered, and the worker's memory must come back afterwards all the same."""
    searches = [r for r in table if r.method == "POST" and r.key.endswith("/search")]
    for i in range(HEAVY_REQUESTS if searches else 0):
        route = searches[i % len(searches)]
        clause = g.pick(["metrics.a > 1 AND ", "params.p = 'x' AND ", "name LIKE '%a%' AND "])
        text = clause * (HEAVY_BYTES // len(clause)) + "tags.t = 'x'"
        if i % 3 == 2:
            text = "attributes.run_id IN (" + "'ab', " * (HEAVY_BYTES // 6) + "'c')"
        body = {"experiment_ids": targets.experiments[:2], "filter": text, "max_results": 5}
        yield route, Case("POST", route.path, headers={"Content-Type": "application/json"},
                          body=encode_json(body))  # fmt: skip


def _order(route: Route) -> int:
    """Writes that destroy the fixture's targets last, those that take a whole registered model
    away (its deletion, its renaming) after the deletes of its parts, and restores after all."""
    text = f"{route.method} {route.key}".lower()
    if "restore" in text:
        return 3
    if route.key.endswith(("/registered-models/delete", "/registered-models/rename")):
        return 2
    return 1 if "delete" in text else 0


@dataclass
class Finding:
    """One kind of wrong answer, the routes it came from, and the first request that got it."""

    problem: str
    answer: str
    case: Case
    cause: str = ""
    routes: dict[str, int] = field(default_factory=dict)  # "METHOD path" -> requests

    def report(self) -> str:
        total = sum(self.routes.values())
        where = ", ".join(self.routes)
        cause = f"\n  cause: {self.cause}" if self.cause else ""
        return (
            f"{self.problem}: {self.answer}{cause}\n"
            f"  {total} requests on {len(self.routes)} routes: {where}\n"
            f"  e.g. {self.case.describe()}"
        )


class _BodyTimeout(Exception):
    """The server took the request body slower than the whole request may take."""


def _within(body: bytes, deadline: float, chunk: int = 1 << 16) -> Iterator[bytes]:
    """``body`` in chunks, given up at ``deadline``: httpx's timeouts are per socket operation,
    so a server that reads a large body slowly could hold a request for ever."""
    for start in range(0, len(body), chunk):
        if time.monotonic() > deadline:
            raise _BodyTimeout
        yield body[start : start + chunk]


class ServerLog:
    """The server's log, read as it grows: the cause it logged for a request id."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.text = path, 0, ""

    def cause(self, answer: str) -> str:
        found = re.search(r"request id (\w+)", answer)
        if not found:
            return ""
        with self.path.open("rb") as f:
            f.seek(self.offset)
            self.text = (self.text + f.read().decode(errors="replace"))[-1_000_000:]
            self.offset = f.tell()
        at = self.text.find(found.group(1))
        if at < 0:
            return ""
        for line in self.text[at:].splitlines()[1:200]:
            if line and not line.startswith((" ", "Traceback")):
                return line[:300]  # the exception's own line ends the traceback
        return ""


def _normal(answer: str) -> str:
    """An answer with its ids and numbers blotted out, so that alike answers group."""
    return re.sub(r"\d+", "N", re.sub(r"[0-9a-f]{16,}", "ID", answer))[:100]


@dataclass
class Run:
    """One server's fuzz run: the requests sent and what was wrong with their answers."""

    fz: FuzzServer
    deadline: float  # time.monotonic() after which no more requests are sent
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)
    sent: int = 0
    passed: dict[str, int] = field(default_factory=dict)  # route -> 2xx answers

    def __post_init__(self) -> None:
        self.http = self._client()
        self.log = ServerLog(self.fz.log)

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.fz.url, timeout=REQUEST_TIMEOUT_S)

    def send(self, case: Case) -> tuple[httpx.Response | None, str | None]:
        self.sent += 1
        headers = dict(case.headers)
        content = None
        if case.body is not None:  # the same bytes on the wire, under a deadline of their own
            headers["Content-Length"] = str(len(case.body))
            content = _within(case.body, time.monotonic() + REQUEST_TIMEOUT_S)
        try:
            response = self.http.request(
                case.method, case.target(), content=content, headers=headers
            )
        except (httpx.TimeoutException, _BodyTimeout):
            self._reconnect()
            return None, f"no answer within {REQUEST_TIMEOUT_S:.0f} s"
        except httpx.TransportError as exc:
            self._reconnect()
            return None, f"connection dropped: {type(exc).__name__}: {exc}"
        if response.status_code >= 500:
            self._reconnect()  # a server may close the connection after an internal error
        return response, None

    def _reconnect(self) -> None:
        self.http.close()
        self.http = self._client()

    def try_case(self, route: Route, case: Case) -> None:
        response, problem = self.send(case)
        name = f"{route.method} {route.key}"
        if response is not None:
            problem = probe.judge(response, route.rpc)
            ok = response.status_code < 300
            self.passed[name] = self.passed.get(name, 0) + ok
        if problem is None:
            return
        answer = probe.summary(response) if response is not None else "-"
        cause = self.log.cause(answer)
        signature = (problem, cause or _normal(answer))
        finding = self.findings.get(signature)
        if finding is None:
            if response is not None:  # a request that got no answer is not retried
                case = self.smallest(route, case, problem)
            finding = self.findings[signature] = Finding(problem, answer, case, cause)
        finding.routes[name] = finding.routes.get(name, 0) + 1

    def smallest(self, route: Route, case: Case, problem: str) -> Case:
        """``case`` with as many top-level body fields dropped as keep the same problem."""
        if not isinstance(case.json_body, dict):
            return case
        body = dict(case.json_body)
        for name in list(body)[:16]:
            if time.monotonic() > self.deadline:
                break
            fewer = {k: v for k, v in body.items() if k != name}
            smaller = Case(case.method, case.path, case.query, case.headers, encode_json(fewer))
            smaller.json_body = fewer
            response, again = self.send(smaller)
            if response is not None:
                again = probe.judge(response, route.rpc)
            if again == problem:
                body, case = fewer, smaller
        return case

    def alive(self) -> str | None:
        """Why the server is no longer serving, or None."""
        if self.fz.server.proc.poll() is not None:
            return f"server exited with {self.fz.server.proc.returncode}"
        try:
            answer = self.http.get("/health", timeout=HEALTH_TIMEOUT_S)
        except httpx.HTTPError as exc:
            return f"/health did not answer within {HEALTH_TIMEOUT_S} s: {exc!r}"
        return None if answer.text == "OK" else f"/health answered {answer.status_code}"

    def fuzz(self, table: list[Route], cases: int, seed: str) -> str | None:
        """``cases`` per route (times its weight); a health check after each route's batch.
        Returns why it stopped early, if it did."""
        for route in table:
            spec = fields.SPECS.get(route.key)
            g = Gen(f"{seed}:{self.fz.mode}:{route.method} {route.path}")
            for _ in range(cases * (spec.weight if spec else 1)):
                if time.monotonic() > self.deadline:
                    return f"time budget of {BUDGET_S:.0f} s spent"
                case = probe.build(g, self.fz.targets, route.method, route.path, spec)
                case.headers.update(probe.credentials(g, self.fz.authorization))
                self.try_case(route, case)
            dead = self.alive()
            if dead is not None:
                return f"after {route.method} {route.path}: {dead}"
        return None


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def cpu_s(pid: int) -> float:
    """User and system CPU seconds the process has used (``/proc/<pid>/stat``)."""
    fields_ = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields_[11]) + int(fields_[12])) / os.sysconf("SC_CLK_TCK")


def _settled_rss(pid: int, ceiling: float) -> Iterator[float]:
    """The worker's RSS once a second for up to ``IDLE_S``, until it is under ``ceiling``."""
    end = time.monotonic() + IDLE_S
    while True:
        rss = rss_mb(pid)
        yield rss
        if rss <= ceiling or time.monotonic() > end:
            return
        time.sleep(1)


def test_every_route_has_a_spec() -> None:
    """A new route must say what it reads (fields.SPECS), and no spec outlives its route."""
    keys = {route.key for route in route_table(auth=True)}
    assert keys - set(fields.SPECS) == set(), "routes without a fuzz spec"
    assert set(fields.SPECS) - keys == set(), "fuzz specs of routes that are gone"


def test_fuzz_every_route(fuzz_server: FuzzServer) -> None:
    fz = fuzz_server
    table = sorted(
        (r for r in route_table(fz.auth) if ONLY in r.path), key=_order
    )  # sorted() is stable: within a group, the table's order
    started = time.monotonic()
    run = Run(fz, deadline=started + BUDGET_S)
    stopped = run.fuzz(table, WARM_UP_CASES, f"{SEED}:warm-up")
    pid = fz.server.proc.pid
    rss_start = rss_mb(pid) if stopped is None else 0.0
    if stopped is None:
        stopped = run.fuzz(table, CASES, SEED)
    if stopped is None:
        for route, case in heavy(Gen(f"{SEED}:heavy"), table, fz.targets):
            if time.monotonic() > run.deadline:
                break
            if fz.authorization:
                case.headers["Authorization"] = fz.authorization
            run.try_case(route, case)
        stopped = run.alive()
    elapsed = time.monotonic() - started
    problems = [f.report() for f in run.findings.values()]
    if stopped is not None and "budget" not in stopped:
        problems.append(f"the server stopped serving {stopped}")
    if stopped is None:
        ceiling = rss_start + MEMORY_SLACK_MB
        *_, rss_end = _settled_rss(pid, ceiling)
        memory = f"RSS {rss_start:.0f} MB after warm-up, {rss_end:.0f} MB at the end"
        if rss_end > ceiling:
            problems.append(f"memory did not come back within {IDLE_S:.0f} s: {memory}")
    else:
        memory = "RSS not compared (run cut short)"
    if "Task was destroyed but it is pending" in fz.log.read_text(errors="replace"):
        problems.append("the server log has 'Task was destroyed but it is pending!'")
    summary = (
        f"fuzz seed={SEED!r} mode={fz.mode}: {len(table)} routes x {CASES} cases (+ weights), "
        f"{run.sent} requests in {elapsed:.0f} s (server CPU {cpu_s(pid):.0f} s); {memory}"
        + (f"; stopped: {stopped}" if stopped else "")
    )
    print(summary)
    never = sorted(name for name, n in run.passed.items() if n == 0)
    print(f"{len(never)} routes never answered 2xx: {', '.join(never)}")
    run.http.close()
    assert not problems, summary + "\n\n" + "\n\n".join(problems)
