"""Logs: JSON lines with request ids, an access line per request, no secrets."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runyard.api.observe import RequestContext
from runyard.api.resources import PUBLIC
from runyard.api.routes import NONE, ROOT, endpoint, rpc
from runyard.logs import mask_secrets
from tests.servers import pg_database, runyard_server

PASSWORD = "Sup3r-Secret-Pw"
TOKEN = "tok-SECRET-1234567890"


def test_mask_secrets() -> None:
    assert (
        mask_secrets("connecting to postgresql+psycopg://runyard:hunter2@db:5432/x failed")
        == "connecting to postgresql+psycopg://runyard:***@db:5432/x failed"
    )
    assert mask_secrets("sftp://user@host/path and user@example.com") == (
        "sftp://user@host/path and user@example.com"
    )


def _lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def test_json_lines_with_request_ids_and_no_secrets(tmp_path: Path) -> None:
    with pg_database("runyard_logs") as url:
        secret_url = url.replace("postgres@", f"postgres:{PASSWORD}@")  # trust auth ignores it
        srv = runyard_server(secret_url, tmp_path, "--log-format", "json")
        try:
            given = httpx.get(
                srv.url + "/api/2.0/mlflow/experiments/get?experiment_id=0",
                headers={"X-Request-Id": "trace-abc.123", "Authorization": f"Bearer {TOKEN}"},
            )
            assert given.headers["x-request-id"] == "trace-abc.123"
            forged = httpx.get(srv.url + "/health", headers={"X-Request-Id": "bad id <script>"})
            assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["x-request-id"])
            missing = httpx.get(srv.url + "/api/2.0/mlflow/experiments/get?experiment_id=999")
            assert missing.status_code == 404
        finally:
            srv.stop()
    text = srv.log.read_text()
    assert PASSWORD not in text and TOKEN not in text
    lines = _lines(srv.log)  # every line is one JSON object
    for line in lines:
        assert {"time", "level", "logger", "message", "pid"} <= line.keys()
    assert any("postgres:***@" in line["message"] for line in lines)
    access = [line for line in lines if line["logger"] == "runyard.access"]
    traced = [line for line in access if line.get("request_id") == "trace-abc.123"]
    assert len(traced) == 1
    assert traced[0]["method"] == "GET"
    assert traced[0]["path"] == "/api/2.0/mlflow/experiments/get"
    assert traced[0]["status"] == 200
    assert traced[0]["duration_ms"] >= 0
    not_found = [line for line in access if line["status"] == 404]
    assert not_found[0]["request_id"] == missing.headers["x-request-id"]


def _failing_handler(ctx: object, msg: object, value: None) -> dict[str, Any]:
    raise RuntimeError("boom in a handler")


async def _failing_route(request: Request) -> Response:
    raise RuntimeError("boom outside the error handling of routes")


@pytest.mark.parametrize("path", ["/handler", "/bare"])
def test_unexpected_error_is_logged_with_the_request_id(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = Starlette(
        routes=[
            Route(
                "/handler", endpoint(rpc("GET", "/handler", _failing_handler, NONE, PUBLIC, ROOT))
            ),
            Route("/bare", _failing_route),
        ],
        middleware=[Middleware(RequestContext)],
    )
    app.state.ctx = None
    app.state.gate = None  # auth off

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get(path, headers={"X-Request-Id": "req-42"})

    with caplog.at_level(logging.INFO):
        response = asyncio.run(call())
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-42"
    assert "req-42" in response.json()["message"]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "req-42" in errors[0].getMessage()
    assert errors[0].exc_info is not None
