"""The one place failures become HTTP responses in MLflow's error JSON."""

from __future__ import annotations

import logging
import uuid

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from runyard import logs
from runyard.errors import MlflowError

log = logging.getLogger("runyard.api")


def error_response(exc: MlflowError) -> Response:
    return Response(
        msgspec.json.encode(exc.to_json()),
        status_code=exc.status,
        headers=dict(exc.headers) or None,
        media_type="application/json",
    )


async def handle_mlflow_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MlflowError)
    return error_response(exc)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        err = MlflowError(
            f"No API endpoint matches {request.method} {request.url.path}", "ENDPOINT_NOT_FOUND"
        )
        return error_response(err)
    if exc.status_code == 405:
        err = MlflowError(
            f"The method {request.method} is not allowed for {request.url.path}", "BAD_REQUEST"
        )
        resp = error_response(err)
        resp.status_code = 405
        return resp
    return error_response(MlflowError(str(exc.detail), "BAD_REQUEST"))


def internal_error_response(request: Request, exc: BaseException) -> Response:
    request_id = logs.request_id.get() or uuid.uuid4().hex
    log.error(
        "unhandled error, request_id=%s %s %s",
        request_id,
        request.method,
        request.url.path,
        exc_info=exc,
    )
    return error_response(
        MlflowError(f"Internal server error (request id {request_id}); see the server log.")
    )


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    return internal_error_response(request, exc)
