"""The application factory: settings in, ASGI app out."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException

from runyard import memory
from runyard.api import middleware
from runyard.api.auth import Gate
from runyard.api.errors import handle_http_error, handle_mlflow_error, handle_unexpected
from runyard.api.routes import routes
from runyard.artifacts.base import ArtifactStore
from runyard.artifacts.registry import open_store as open_artifacts
from runyard.domain.permissions import Permission
from runyard.errors import MlflowError
from runyard.services import bootstrap, upkeep, webhook_delivery, webhooks
from runyard.services.context import Ctx
from runyard.settings import Settings, SettingsError, normalize_db_uri
from runyard.store import sqlite_guard


def create_app(settings: Settings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = open_artifact_store(settings) if settings.serve_artifacts else None
        if store is not None:
            await store.start()
        hooks = await anyio.to_thread.run_sync(_webhook_config, settings)
        ctx = dataclasses.replace(open_context(settings), artifacts=store, webhooks=hooks)
        app.state.ctx = ctx
        app.state.gate = None
        if settings.auth:  # off: no request pays for it
            default = Permission[settings.auth_default_permission]
            app.state.gate = await anyio.to_thread.run_sync(Gate.start, ctx, default)
        upkeep_task = asyncio.create_task(_upkeep(ctx))
        sender = webhook_delivery.Sender(
            ctx.db,
            hooks.network,
            hooks.secrets,
            webhook_delivery.Policy(
                max_attempts=settings.webhook_max_attempts,
                backoff_base_s=float(settings.webhook_backoff_base),
            ),
        )
        sender_task = webhook_delivery.start(sender, float(settings.webhook_poll_interval))
        try:
            yield
        finally:
            await webhook_delivery.stop(sender, sender_task)
            upkeep_task.cancel()
            if store is not None:
                await store.aclose()
            ctx.db.dispose()

    return Starlette(
        routes=routes(settings.auth),
        middleware=middleware.stack(settings),
        lifespan=lifespan,
        exception_handlers={
            MlflowError: handle_mlflow_error,
            HTTPException: handle_http_error,
            Exception: handle_unexpected,
        },
    )


log = logging.getLogger("runyard.upkeep")
_UPKEEP_INTERVAL_S = 10.0


async def _upkeep(ctx: Ctx) -> None:
    """Every few seconds: fresh planner statistics, and free memory handed back."""
    reclaim = memory.Reclaimer()
    while True:
        await asyncio.sleep(_UPKEEP_INTERVAL_S)
        try:
            analysed = await anyio.to_thread.run_sync(upkeep.refresh_planner_stats, ctx)
        except Exception:  # noqa: BLE001 - upkeep must never take the server down
            log.warning("refreshing planner statistics failed", exc_info=True)
        else:
            if analysed:
                log.info("analysed %s", ", ".join(analysed))
        # A burst of large pages (a 1000-run search, a 100k-point history) leaves free memory
        # inside malloc's heaps, and cycles the rare collections have not reached yet may
        # hold more; free both so an idle worker's RSS comes down again.
        await anyio.to_thread.run_sync(reclaim)


def _webhook_config(settings: Settings) -> webhooks.WebhookConfig:
    try:
        return webhooks.configure(
            settings.webhook_secret_key_file,
            settings.webhook_allowed_schemes,
            settings.webhook_allow_private_targets,
            float(settings.webhook_request_timeout),
        )
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc


def open_context(settings: Settings) -> Ctx:
    """Connect to the metadata store, refusing a schema runyard does not serve."""
    uri = normalize_db_uri(settings.backend_store_uri)
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    sqlite_guard.claim(uri)  # one host per SQLite file (its locks fail across hosts)
    return bootstrap.open_store(
        uri, settings.default_artifact_root, settings.db_pool_size, settings.db_max_overflow
    )


def open_artifact_store(settings: Settings) -> ArtifactStore:
    """The store behind the artifact proxy (``--artifacts-destination``) with its backend's
    options; S3 credentials come from the standard AWS sources, never from settings."""
    destination = settings.artifacts_destination
    options: dict[str, str | None] = {}
    if destination.startswith("sftp://"):
        if not (settings.artifacts_sftp_key_file and settings.artifacts_sftp_known_hosts):
            raise SettingsError(
                "an sftp:// artifacts destination needs artifacts_sftp_key_file and "
                "artifacts_sftp_known_hosts (the server's host key is always checked)"
            )
        options = {
            "key_file": settings.artifacts_sftp_key_file,
            "known_hosts": settings.artifacts_sftp_known_hosts,
        }
    elif destination.startswith("s3://"):
        options = {
            "endpoint_url": settings.artifacts_s3_endpoint_url,
            "region": settings.artifacts_s3_region,
        }
    return open_artifacts(destination, **{k: v for k, v in options.items() if v})
