"""Seeing what the server does: request ids, one access-log line a request, Prometheus metrics.

Both middlewares are plain ASGI (no ``BaseHTTPMiddleware``): they wrap ``send`` to learn the
status and never touch the body, so streamed uploads and downloads stay streamed.

Metrics across worker processes: ``runyard server`` forks its workers, and a scrape lands on
one of them, so each worker keeps its numbers in memory-mapped files in a directory the
server creates and removes (prometheus_client's multiprocess mode, switched on by
:func:`share_between_processes`); ``/metrics`` sums the files of every worker.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runyard import logs
from runyard.api.errors import internal_error_response
from runyard.services import readiness
from runyard.services.context import Ctx

access_log = logging.getLogger("runyard.access")

# Probes and scrapes: not counted, and logged at DEBUG, so they do not drown the real traffic.
PROBE_PATHS = frozenset({"/health", "/ready", "/metrics"})
METERS_SCOPE_KEY = "runyard.meters"

# An incoming X-Request-Id is kept only if it is short and plain, so it cannot forge log lines.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:=+/@-]{1,128}")


def incoming_request_id(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"x-request-id":
            text = value.decode("latin-1").strip()
            return text if _VALID_REQUEST_ID.fullmatch(text) else None
    return None


class RequestContext:
    """Layer 1: a request id for every request (the client's, if valid, else a new one),
    echoed in ``X-Request-Id``, on every log line of the request, and one access-log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = incoming_request_id(scope["headers"]) or uuid.uuid4().hex
        token = logs.request_id.set(rid)
        start = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Something outside a route's own error handling failed (a middleware): answer
            # here, where the request id is still known, rather than in Starlette's last-resort
            # handler, which runs after this layer is gone.
            if status:
                raise
            await internal_error_response(Request(scope), exc)(scope, receive, send_with_id)
        finally:
            _log_access(scope, status or 500, time.perf_counter() - start)
            logs.request_id.reset(token)


def _log_access(scope: Scope, status: int, seconds: float) -> None:
    level = logging.DEBUG if scope["path"] in PROBE_PATHS else logging.INFO
    if not access_log.isEnabledFor(level):
        return
    method, path, ms = scope["method"], scope["path"], round(seconds * 1000, 2)
    client = scope.get("client")
    fields = {
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": ms,
        "client": client[0] if client else None,
    }
    access_log.log(level, "%s %s %s %.2fms", method, path, status, ms, extra=fields)


# --- Prometheus ---------------------------------------------------------------------------

_shared_dir: str | None = None
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_POOL_SAMPLE_EVERY_S = 1.0


def share_between_processes(directory: str) -> None:
    """Keep metric values in files under ``directory`` (empty, made by the serving process),
    so that the workers forked afterwards all add up in ``/metrics``.

    prometheus_client picks its value store from ``PROMETHEUS_MULTIPROC_DIR`` when it is first
    imported; this sets the variable for the library (its only channel for the directory) and
    makes it choose again, so the order of imports does not matter.
    """
    global _shared_dir
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    _shared_dir = directory


def forget_process(pid: int, directory: str) -> None:
    """Drop the live gauges (in-flight requests, pool use) of a worker that has exited."""
    mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


class Meters:
    """The server's metrics, registered on a registry of the app's own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "runyard_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "runyard_http_request_duration_seconds",
            "Time from request to the end of the response, by method and route template.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "runyard_http_requests_in_flight",
            "Requests being handled now.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.pool_checked_out = Gauge(
            "runyard_db_pool_checked_out",
            "Database connections in use (summed over workers).",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.pool_size = Gauge(
            "runyard_db_pool_size",
            "Database connections the pools keep open at most, overflow aside (summed).",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self._pool_sampled_at = 0.0

    def sample_pool(self, ctx: Ctx) -> None:
        usage = readiness.pool_usage(ctx)
        self.pool_checked_out.set(usage.checked_out)
        self.pool_size.set(usage.size)
        self._pool_sampled_at = time.monotonic()

    def sample_pool_now_and_then(self, ctx: Ctx | None) -> None:
        if ctx is not None and time.monotonic() - self._pool_sampled_at >= _POOL_SAMPLE_EVERY_S:
            self.sample_pool(ctx)

    def exposition(self) -> bytes:
        """The text exposition of every worker's metrics (or of this process's alone)."""
        if _shared_dir is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=_shared_dir)  # type: ignore[no-untyped-call]
        return generate_latest(merged)


def _route_template(scope: Scope) -> str:
    """The matched route's path template: bounded label values whatever paths clients send."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


def _app_ctx(scope: Scope) -> Ctx | None:
    app: Any = scope.get("app")
    ctx: Ctx | None = getattr(getattr(app, "state", None), "ctx", None)
    return ctx


class RequestMetrics:
    """Layer 2: count and time every request by route template, and the requests in flight."""

    def __init__(self, app: ASGIApp, meters: Meters) -> None:
        self.app = app
        self.meters = meters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[METERS_SCOPE_KEY] = self.meters
        if scope["path"] in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        meters = self.meters
        status = 500  # what the client gets if the app raises before answering
        start = time.perf_counter()

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        meters.in_flight.inc()
        try:
            await self.app(scope, receive, send_observed)
        finally:
            meters.in_flight.dec()
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            route = _route_template(scope)
            meters.requests.labels(method, route, str(status)).inc()
            meters.latency.labels(method, route).observe(time.perf_counter() - start)
            meters.sample_pool_now_and_then(_app_ctx(scope))


def meters_of(scope: Scope) -> Meters | None:
    meters = scope.get(METERS_SCOPE_KEY)
    return meters if isinstance(meters, Meters) else None
