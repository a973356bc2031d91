"""The route table: every tracking RPC, served under /api/2.0/mlflow and /ajax-api/2.0/mlflow."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from runyard import MLFLOW_COMPAT_VERSION
from runyard.api import artifacts, auth, logged_models, ops, rpc, tracking

Handler = rpc.Handler

GET, POST = ["GET"], ["POST"]

# (path under <prefix>/2.0/mlflow, methods, handler)
TRACKING: list[tuple[str, list[str], Handler]] = [
    ("/experiments/create", POST, tracking.create_experiment),
    ("/experiments/get", GET, tracking.get_experiment),
    ("/experiments/get-by-name", GET, tracking.get_experiment_by_name),
    ("/experiments/search", ["GET", "POST"], tracking.search_experiments),
    ("/experiments/update", POST, tracking.update_experiment),
    ("/experiments/delete", POST, tracking.delete_experiment),
    ("/experiments/restore", POST, tracking.restore_experiment),
    ("/experiments/set-experiment-tag", POST, tracking.set_experiment_tag),
    ("/experiments/delete-experiment-tag", POST, tracking.delete_experiment_tag),
    ("/runs/create", POST, tracking.create_run),
    ("/runs/get", GET, tracking.get_run),
    ("/runs/update", POST, tracking.update_run),
    ("/runs/delete", POST, tracking.delete_run),
    ("/runs/restore", POST, tracking.restore_run),
    ("/runs/search", POST, tracking.search_runs),
    ("/runs/log-metric", POST, tracking.log_metric),
    ("/runs/log-parameter", POST, tracking.log_param),
    ("/runs/set-tag", POST, tracking.set_tag),
    ("/runs/delete-tag", POST, tracking.delete_tag),
    ("/runs/log-batch", POST, tracking.log_batch),
    ("/runs/log-inputs", POST, tracking.log_inputs),
    ("/runs/outputs", POST, tracking.log_outputs),
    ("/metrics/get-history", GET, tracking.get_metric_history),
    ("/metrics/get-history-bulk-interval", GET, tracking.get_metric_history_bulk_interval),
    *logged_models.ROUTES,
]

AJAX_ONLY: list[tuple[str, list[str], Handler]] = [
    ("/metrics/get-history-bulk", GET, tracking.get_metric_history_bulk),
]


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """An RPC route for ``handler``, with the request's auth rule around it when auth is on."""

    async def call(request: Request) -> Response:
        guard: auth.Guard | None = request.scope.get(auth.SCOPE_KEY)  # None: auth is off
        return await rpc.answer(request, handler if guard is None else guard.wrap(handler))

    call.__name__ = handler.__name__
    return call


async def health(request: Request) -> Response:
    return PlainTextResponse("OK")


async def version(request: Request) -> Response:
    return PlainTextResponse(MLFLOW_COMPAT_VERSION)


def routes() -> list[BaseRoute]:
    table: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
    ]
    for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"):
        for path, methods, handler in TRACKING:
            table.append(Route(prefix + path, endpoint(handler), methods=methods))
    for path, methods, handler in AJAX_ONLY:
        table.append(Route("/ajax-api/2.0/mlflow" + path, endpoint(handler), methods=methods))
    table += artifacts.routes()
    table += auth.routes()
    table += ops.routes()
    return table
