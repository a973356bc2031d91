"""Answering one JSON RPC: decode on the loop, run the handler and encode in a worker thread.

Errors are turned into responses here rather than by Starlette's server-error middleware,
which re-raises after answering and so makes uvicorn drop the keep-alive connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio.to_thread
import msgspec
from starlette.requests import Request
from starlette.responses import Response

from runyard.api.errors import error_response, internal_error_response
from runyard.api.request import Message, read_message
from runyard.errors import MlflowError
from runyard.services.context import Ctx

Handler = Callable[[Ctx, Message], dict[str, Any]]


async def answer(request: Request, handler: Handler) -> Response:
    try:
        msg = await read_message(request)
        ctx: Ctx = request.app.state.ctx
        body = await anyio.to_thread.run_sync(lambda: msgspec.json.encode(handler(ctx, msg)))
    except MlflowError as exc:
        return error_response(exc)
    except Exception as exc:  # noqa: BLE001 - the one place unexpected errors are answered
        return internal_error_response(request, exc)
    return Response(body, media_type="application/json")
