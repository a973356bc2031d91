"""The route table: every route of the server, each one row with its handler and its auth rule.

A row says what the route acts on (``api/resources.py``) and which permission that needs. The
one endpoint built from a row authenticates the caller (when auth is on), parses the request
into that resource once, checks the permission on it and hands the same value to the handler.
A row cannot be written without a rule, and the tracking API is served under both ``/api`` and
``/ajax-api`` from here alone.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from runyard import MLFLOW_COMPAT_VERSION, memory
from runyard.api import artifacts, logged_models, ops, registry, tracking, webhooks
from runyard.api import auth as auth_api
from runyard.api import resources as on
from runyard.api.auth import Gate
from runyard.api.errors import error_response, internal_error_response
from runyard.api.request import Message, query_message, read_message
from runyard.api.resources import Resource
from runyard.domain.permissions import Permission
from runyard.errors import MlflowError
from runyard.services.context import Ctx

Json = dict[str, Any]
RpcHandler = Callable[[Ctx, Message, Any], Json]
StreamHandler = Callable[[Request, Message, Any], Awaitable[Response]]

R, E, M, NONE = Permission.READ, Permission.EDIT, Permission.MANAGE, Permission.NO_PERMISSIONS


class Body(enum.Enum):
    MESSAGE = "message"  # a JSON body (or, for GET, the query string) decoded into the message
    RAW = "raw"  # bytes the handler streams itself; the message is the query string alone


@dataclass(frozen=True, slots=True)
class Rule:
    """What a route needs: ``needs`` on the experiment(s) its resource resolves to (or, for the
    routes that act on no experiment, who may call them at all)."""

    needs: Permission
    on: Resource[Any]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One row: ``method path`` under each of ``mounts``, its rule and its handler (``rpc``, run
    in a worker thread with its answer encoded there, or ``stream``, async on the loop)."""

    method: str
    path: str
    rule: Rule
    rpc: RpcHandler | None = None
    stream: StreamHandler | None = None
    body: Body = Body.MESSAGE
    mounts: tuple[str, ...] = ("/api", "/ajax-api")

    def __post_init__(self) -> None:
        if (self.rpc is None) == (self.stream is None):
            raise TypeError(f"{self.method} {self.path}: give exactly one of rpc and stream")

    @property
    def paths(self) -> list[str]:
        return [mount + self.path for mount in self.mounts]


API, AJAX, ROOT = ("/api", "/ajax-api"), ("/ajax-api",), ("",)


def rpc(
    method: str,
    path: str,
    handler: RpcHandler,
    needs: Permission,
    on: Resource[Any],
    mounts: tuple[str, ...] = API,
) -> Endpoint:
    return Endpoint(method, path, Rule(needs, on), rpc=handler, mounts=mounts)


def stream(
    method: str,
    path: str,
    handler: StreamHandler,
    needs: Permission,
    on: Resource[Any],
    body: Body = Body.MESSAGE,
    mounts: tuple[str, ...] = API,
) -> Endpoint:
    return Endpoint(method, path, Rule(needs, on), stream=handler, body=body, mounts=mounts)


async def health(request: Request, msg: Message, _: None) -> Response:
    return PlainTextResponse("OK")


async def version(request: Request, msg: Message, _: None) -> Response:
    return PlainTextResponse(MLFLOW_COMPAT_VERSION)


T = "/2.0/mlflow"
A = "/2.0/mlflow-artifacts"
LM = f"{T}/logged-models/{{model_id}}"
RAW = Body.RAW
RUN, LEGACY_RUN, EXPERIMENT = on.Run(), on.Run(legacy=True), on.Experiment()
MODEL = on.MODEL
RM, MV = f"{T}/registered-models", f"{T}/model-versions"
WH = f"{T}/webhooks"
REG = on.REGISTERED_MODEL  # by its name: the permission on that model (versions' too)
READABLE_MODELS = on.READABLE_REGISTERED_MODELS  # searches: only what the caller may read

TABLE: list[Endpoint] = [
    # probes, version and what a client reads before it logs in: public, as in MLflow
    stream("GET", "/health", health, NONE, on.PUBLIC, mounts=ROOT),
    stream("GET", "/version", version, NONE, on.PUBLIC, mounts=ROOT),
    stream("GET", "/ready", ops.ready, NONE, on.PUBLIC, mounts=ROOT),
    stream("GET", "/3.0/mlflow/server-info", artifacts.server_info, NONE, on.PUBLIC),
    stream("GET", "/metrics", ops.metrics, NONE, on.SIGNED_IN, mounts=ROOT),  # scrapers: a token
    # experiments
    rpc("POST", f"{T}/experiments/create", tracking.create_experiment, R, on.NEW_EXPERIMENT),
    rpc("GET", f"{T}/experiments/get", tracking.get_experiment, R, EXPERIMENT),
    rpc(
        "GET",
        f"{T}/experiments/get-by-name",
        tracking.get_experiment_by_name,
        R,
        on.ExperimentName(),
    ),
    rpc("GET", f"{T}/experiments/search", tracking.search_experiments, R, on.READABLE_EXPERIMENTS),
    rpc("POST", f"{T}/experiments/search", tracking.search_experiments, R, on.READABLE_EXPERIMENTS),
    rpc("POST", f"{T}/experiments/update", tracking.update_experiment, E, EXPERIMENT),
    rpc("POST", f"{T}/experiments/delete", tracking.delete_experiment, M, EXPERIMENT),
    rpc("POST", f"{T}/experiments/restore", tracking.restore_experiment, M, EXPERIMENT),
    rpc("POST", f"{T}/experiments/set-experiment-tag", tracking.set_experiment_tag, E, EXPERIMENT),
    rpc(
        "POST",
        f"{T}/experiments/delete-experiment-tag",
        tracking.delete_experiment_tag,
        E,
        EXPERIMENT,
    ),
    # runs
    rpc("POST", f"{T}/runs/create", tracking.create_run, E, on.Experiment(default="0")),
    rpc("GET", f"{T}/runs/get", tracking.get_run, R, LEGACY_RUN),
    rpc("POST", f"{T}/runs/update", tracking.update_run, E, LEGACY_RUN),
    rpc("POST", f"{T}/runs/delete", tracking.delete_run, M, RUN),
    rpc("POST", f"{T}/runs/restore", tracking.restore_run, M, RUN),
    rpc("POST", f"{T}/runs/search", tracking.search_runs, R, on.Experiments()),
    rpc("POST", f"{T}/runs/log-metric", tracking.log_metric, E, LEGACY_RUN),
    rpc("POST", f"{T}/runs/log-parameter", tracking.log_param, E, LEGACY_RUN),
    rpc("POST", f"{T}/runs/set-tag", tracking.set_tag, E, LEGACY_RUN),
    rpc("POST", f"{T}/runs/delete-tag", tracking.delete_tag, E, RUN),
    rpc("POST", f"{T}/runs/log-batch", tracking.log_batch, E, RUN),
    rpc("POST", f"{T}/runs/log-inputs", tracking.log_inputs, E, RUN),
    rpc("POST", f"{T}/runs/outputs", tracking.log_outputs, E, RUN),
    rpc("GET", f"{T}/metrics/get-history", tracking.get_metric_history, R, LEGACY_RUN),
    rpc(
        "GET",
        f"{T}/metrics/get-history-bulk-interval",
        tracking.get_metric_history_bulk_interval,
        R,
        on.Runs("run_ids"),
    ),
    rpc(
        "GET",
        f"{T}/metrics/get-history-bulk",
        tracking.get_metric_history_bulk,
        R,
        on.Runs("run_id"),
        mounts=AJAX,
    ),
    # logged models
    rpc("POST", f"{T}/logged-models", logged_models.create_logged_model, E, EXPERIMENT),
    rpc(
        "POST", f"{T}/logged-models/search", logged_models.search_logged_models, R, on.Experiments()
    ),
    rpc("GET", LM, logged_models.get_logged_model, R, MODEL),
    rpc("PATCH", LM, logged_models.finalize_logged_model, E, on.MODEL_FINALIZED),
    rpc("DELETE", LM, logged_models.delete_logged_model, M, MODEL),
    rpc("PATCH", f"{LM}/tags", logged_models.set_logged_model_tags, E, MODEL),
    rpc("DELETE", f"{LM}/tags/{{tag_key}}", logged_models.delete_logged_model_tag, E, MODEL),
    rpc("POST", f"{LM}/params", logged_models.log_logged_model_params, E, on.MODEL_PARAMS),
    stream("GET", f"{LM}/artifacts/directories", artifacts.list_model_artifacts, R, MODEL),
    stream("GET", f"{LM}/artifacts/files", artifacts.get_model_artifact, R, MODEL, mounts=AJAX),
    # the model registry: registered models, their versions, tags and aliases
    rpc("POST", f"{RM}/create", registry.create_registered_model, R, on.NEW_REGISTERED_MODEL),
    rpc("GET", f"{RM}/get", registry.get_registered_model, R, REG),
    rpc("POST", f"{RM}/rename", registry.rename_registered_model, E, on.RENAMED_REGISTERED_MODEL),
    rpc("PATCH", f"{RM}/update", registry.update_registered_model, E, REG),
    rpc("DELETE", f"{RM}/delete", registry.delete_registered_model, M, on.DELETED_REGISTERED_MODEL),
    rpc("GET", f"{RM}/search", registry.search_registered_models, R, READABLE_MODELS),
    rpc("POST", f"{RM}/get-latest-versions", registry.get_latest_versions, R, REG),
    rpc("GET", f"{RM}/get-latest-versions", registry.get_latest_versions, R, REG),
    rpc("POST", f"{RM}/set-tag", registry.set_registered_model_tag, E, REG),
    rpc("DELETE", f"{RM}/delete-tag", registry.delete_registered_model_tag, E, REG),
    rpc("POST", f"{RM}/alias", registry.set_registered_model_alias, E, REG),
    rpc("DELETE", f"{RM}/alias", registry.delete_registered_model_alias, M, REG),
    rpc("GET", f"{RM}/alias", registry.get_model_version_by_alias, R, REG),
    rpc("POST", f"{MV}/create", registry.create_model_version, E, on.NEW_MODEL_VERSION),
    rpc("GET", f"{MV}/get", registry.get_model_version, R, REG),
    rpc("PATCH", f"{MV}/update", registry.update_model_version, E, REG),
    rpc("POST", f"{MV}/transition-stage", registry.transition_model_version_stage, E, REG),
    rpc("DELETE", f"{MV}/delete", registry.delete_model_version, M, REG),
    rpc(
        "GET",
        f"{MV}/get-download-uri",
        registry.get_model_version_download_uri,
        R,
        on.REGISTERED_MODEL_UNCHECKED,
    ),
    rpc("GET", f"{MV}/search", registry.search_model_versions, R, READABLE_MODELS),
    rpc("POST", f"{MV}/set-tag", registry.set_model_version_tag, E, REG),
    rpc("DELETE", f"{MV}/delete-tag", registry.delete_model_version_tag, M, REG),
    # webhooks (MLflow 3's WebhookService): administrators only when auth is on
    rpc("POST", WH, webhooks.create_webhook, M, on.ADMIN),
    rpc("GET", WH, webhooks.list_webhooks, NONE, on.ADMIN),
    rpc("GET", f"{WH}/{{webhook_id}}", webhooks.get_webhook, NONE, on.ADMIN),
    rpc("PATCH", f"{WH}/{{webhook_id}}", webhooks.update_webhook, M, on.ADMIN),
    rpc("DELETE", f"{WH}/{{webhook_id}}", webhooks.delete_webhook, M, on.ADMIN),
    rpc("POST", f"{WH}/{{webhook_id}}/test", webhooks.test_webhook, M, on.ADMIN),
    # a run's artifacts (the UI's and the client's listings and downloads)
    stream("GET", f"{T}/artifacts/list", artifacts.list_run_artifacts, R, LEGACY_RUN),
    stream("GET", "/get-artifact", artifacts.get_run_artifact, R, LEGACY_RUN, mounts=ROOT),
    stream(
        "GET",
        "/model-versions/get-artifact",
        artifacts.get_model_version_artifact,
        R,
        REG,
        mounts=ROOT,
    ),
    # the artifact proxy: a path's first segment is its experiment; writes stay inside one run
    # or model (services/artifacts.py)
    stream("GET", f"{A}/artifacts", artifacts.list_dir, R, on.ARTIFACT_IN_QUERY, RAW),
    stream("GET", f"{A}/artifacts/{{path:path}}", artifacts.download, R, on.ARTIFACT_IN_URL, RAW),
    stream("PUT", f"{A}/artifacts/{{path:path}}", artifacts.upload, E, on.ARTIFACT_IN_URL, RAW),
    stream("DELETE", f"{A}/artifacts/{{path:path}}", artifacts.delete, M, on.ARTIFACT_IN_URL, RAW),
    stream("POST", f"{A}/mpu/create/{{path:path}}", artifacts.mpu_create, E, on.MULTIPART_FILE),
    stream("POST", f"{A}/mpu/complete/{{path:path}}", artifacts.mpu_complete, E, on.MULTIPART_FILE),
    stream("POST", f"{A}/mpu/abort/{{path:path}}", artifacts.mpu_abort, E, on.MULTIPART_FILE),
    stream(
        "PUT",
        f"{A}/mpu/part/{{upload_id}}/{{number:int}}",
        artifacts.mpu_part,
        E,
        on.ARTIFACT_IN_QUERY,
        RAW,
    ),
]

# users and permissions: MLflow's basic-auth endpoints, served only when auth is on
AUTH_TABLE: list[Endpoint] = [
    stream("GET", f"{T}/users/current", auth_api.current_user, NONE, on.SIGNED_IN),
    rpc("POST", f"{T}/experiments/permissions/create", auth_api.create_permission, M, EXPERIMENT),
    rpc("GET", f"{T}/experiments/permissions/get", auth_api.get_permission, M, EXPERIMENT),
    rpc("PATCH", f"{T}/experiments/permissions/update", auth_api.update_permission, M, EXPERIMENT),
    rpc("DELETE", f"{T}/experiments/permissions/delete", auth_api.delete_permission, M, EXPERIMENT),
    rpc("POST", f"{RM}/permissions/create", auth_api.create_model_permission, M, REG),
    rpc("GET", f"{RM}/permissions/get", auth_api.get_model_permission, M, REG),
    rpc("PATCH", f"{RM}/permissions/update", auth_api.update_model_permission, M, REG),
    rpc("DELETE", f"{RM}/permissions/delete", auth_api.delete_model_permission, M, REG),
]


def endpoints(auth: bool) -> list[Endpoint]:
    return TABLE + AUTH_TABLE if auth else list(TABLE)


def routes(auth: bool) -> list[BaseRoute]:
    return [
        Route(path, endpoint(row), methods=[row.method])
        for row in endpoints(auth)
        for path in row.paths
    ]


# --- the one endpoint every row is served by ---------------------------------------------------


def endpoint(row: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """The ASGI endpoint serving ``row``: its errors answered here, as MLflow's error JSON."""

    async def call(request: Request) -> Response:
        try:
            return await serve(row, request)
        except MlflowError as exc:
            memory.forget_traceback(exc)  # its frames hold the request: free them now
            return error_response(exc)
        except ClientDisconnect as exc:  # hung up mid-body: no server error, no one to answer
            memory.forget_traceback(exc)
            return Response(status_code=400)
        except Exception as exc:  # noqa: BLE001 - the one place unexpected errors are answered
            response = internal_error_response(request, exc)  # logs the traceback
            memory.forget_traceback(exc)
            return response

    handler = row.rpc or row.stream
    call.__name__ = getattr(handler, "__name__", "endpoint")
    return call


async def serve(row: Endpoint, request: Request) -> Response:
    """Authenticate, parse the resource once, authorise it, and run the handler on it.

    Errors are answered by the caller rather than by Starlette's server-error middleware, which
    re-raises after answering and so makes uvicorn drop the keep-alive connection.
    """
    gate: Gate | None = request.app.state.gate  # None: auth is off
    rule = row.rule
    who = None if gate is None else await gate.admit(request, rule.on.access)
    if row.body is Body.RAW:
        msg = query_message(request)
    else:
        msg = await read_message(request)
    value = rule.on.parse(msg)
    if row.rpc is not None:
        ctx: Ctx = request.app.state.ctx
        handler = row.rpc

        def run() -> bytes:
            if gate is None:
                return msgspec.json.encode(handler(ctx, msg, value))
            return msgspec.json.encode(gate.run(who, rule.needs, rule.on, handler, ctx, msg, value))

        return Response(await anyio.to_thread.run_sync(run), media_type="application/json")
    assert row.stream is not None
    if gate is not None and gate.must_check(who, rule.on):
        await anyio.to_thread.run_sync(gate.check, who, rule.needs, rule.on, value)
    return await row.stream(request, msg, value)
