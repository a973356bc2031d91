"""Routes for operators: ``/ready`` (can this worker serve?) and ``/metrics`` (Prometheus).

``/health`` (in routes.py, as MLflow has it) is liveness only and checks nothing; ``/ready``
checks what requests need, so a load balancer sends traffic only where it can be served.
Answers name the failing part but not the error itself (a probe may be unauthenticated);
the cause goes to the log.
"""

from __future__ import annotations

import logging

import anyio
import anyio.to_thread
import msgspec
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from runyard.api.errors import error_response
from runyard.api.observe import meters_of
from runyard.api.request import Message
from runyard.errors import MlflowError
from runyard.services import readiness
from runyard.services.context import Ctx

log = logging.getLogger("runyard.ready")

# Longer than a healthy round trip by far, shorter than a load balancer's probe timeout.
_CHECK_TIMEOUT_S = 5.0


async def _database(ctx: Ctx) -> str:
    with anyio.fail_after(_CHECK_TIMEOUT_S):
        # abandon_on_cancel: a connect that hangs must not hold the answer past the timeout.
        await anyio.to_thread.run_sync(readiness.check_database, ctx, abandon_on_cancel=True)
    return "ok"


async def _artifacts(ctx: Ctx) -> str:
    with anyio.fail_after(_CHECK_TIMEOUT_S):
        return "ok" if await readiness.check_artifacts(ctx) else "not served"


async def ready(request: Request, msg: Message, _: None) -> Response:
    ctx: Ctx = request.app.state.ctx
    checks: dict[str, str] = {}
    for name, check in (("database", _database), ("artifacts", _artifacts)):
        try:
            checks[name] = await check(ctx)
        except TimeoutError:
            log.warning("readiness: %s did not answer within %.0f s", name, _CHECK_TIMEOUT_S)
            checks[name] = "timeout"
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            log.warning("readiness: %s failed: %s", name, exc, exc_info=exc)
            checks[name] = "unavailable"
    failed = [name for name, state in checks.items() if state in ("timeout", "unavailable")]
    if not failed:
        return _json({"status": "ok", "checks": checks}, 200)
    err = MlflowError(f"Not ready: {', '.join(failed)} unavailable.", "TEMPORARILY_UNAVAILABLE")
    return _json({**err.to_json(), "checks": checks}, err.status)


def _json(body: dict[str, object], status: int) -> Response:
    headers = {"Cache-Control": "no-store"}
    return Response(msgspec.json.encode(body), status, headers, media_type="application/json")


async def metrics(request: Request, msg: Message, _: None) -> Response:
    meters = meters_of(request.scope)
    if meters is None:  # metrics=false
        err = MlflowError("Metrics are turned off (metrics = false).", "ENDPOINT_NOT_FOUND")
        return error_response(err)
    meters.sample_pool(request.app.state.ctx)
    body = await anyio.to_thread.run_sync(meters.exposition)
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})
