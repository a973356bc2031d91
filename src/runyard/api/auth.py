"""Authentication (401) and authorisation (403) over HTTP, and the one table of route rules.

Only installed with ``--auth``: with auth off no code here runs for a request. The middleware
authenticates every request except public routes and refuses a route without a rule (fail
closed); routes whose rule needs an experiment are then decided by the hook their wrapper calls
(``routes.endpoint`` and ``artifacts._guarded``), which sees the decoded request fields.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from runyard.api import rpc
from runyard.api.errors import error_response
from runyard.api.request import Message, missing
from runyard.domain import artifact_paths, search, validation
from runyard.domain.entities import VIEW_TYPES
from runyard.domain.permissions import (
    Permission,
    PermissionDenied,
    Rule,
    Source,
    Unauthenticated,
    denied,
    experiment_of_artifact_path,
    is_token,
    public,
    signed_in,
)
from runyard.errors import MlflowError
from runyard.services import auth as service
from runyard.services.auth import Authenticator, Authoriser, Principal, Target
from runyard.services.context import Ctx
from runyard.settings import Settings

log = logging.getLogger("runyard.auth")

SCOPE_KEY = "runyard.auth"  # the request's Guard, in the ASGI scope
REALM = "runyard"

Json = dict[str, Any]
Handler = rpc.Handler

R, E, M = Permission.READ, Permission.EDIT, Permission.MANAGE


def _on(needs: Permission, source: Source, field: str = "", default: str | None = None) -> Rule:
    return Rule(needs, source, field, default)


# --- the rules -------------------------------------------------------------------------------
# One entry per (method, route path). Paths are written under /api/...; the same route under
# /ajax-api/... has the same rule. A route missing here is refused to everyone, admins too
# (fail closed), and tests/auth/test_route_rules.py walks the app and fails on a gap.

_T = "/api/2.0/mlflow"
_A = "/api/2.0/mlflow-artifacts"
_LM = f"{_T}/logged-models/{{model_id}}"

RULES: dict[tuple[str, str], Rule] = {
    # public, as in MLflow: probes and what a client reads before it logs in
    ("GET", "/health"): public(),
    ("GET", "/version"): public(),
    ("GET", "/ready"): public(),
    ("GET", "/api/3.0/mlflow/server-info"): public(),
    ("GET", "/metrics"): signed_in(),  # a scraper authenticates with a token
    # experiments
    ("POST", f"{_T}/experiments/create"): _on(R, Source.NEW_EXPERIMENT),
    ("GET", f"{_T}/experiments/get"): _on(R, Source.EXPERIMENT_ID),
    ("GET", f"{_T}/experiments/get-by-name"): _on(R, Source.EXPERIMENT_NAME),
    ("GET", f"{_T}/experiments/search"): _on(R, Source.READABLE_EXPERIMENTS),
    ("POST", f"{_T}/experiments/search"): _on(R, Source.READABLE_EXPERIMENTS),
    ("POST", f"{_T}/experiments/update"): _on(E, Source.EXPERIMENT_ID),
    ("POST", f"{_T}/experiments/delete"): _on(M, Source.EXPERIMENT_ID),
    ("POST", f"{_T}/experiments/restore"): _on(M, Source.EXPERIMENT_ID),
    ("POST", f"{_T}/experiments/set-experiment-tag"): _on(E, Source.EXPERIMENT_ID),
    ("POST", f"{_T}/experiments/delete-experiment-tag"): _on(E, Source.EXPERIMENT_ID),
    # runs
    ("POST", f"{_T}/runs/create"): _on(E, Source.EXPERIMENT_ID, default="0"),
    ("GET", f"{_T}/runs/get"): _on(R, Source.RUN_ID),
    ("POST", f"{_T}/runs/update"): _on(E, Source.RUN_ID),
    ("POST", f"{_T}/runs/delete"): _on(M, Source.RUN_ID),
    ("POST", f"{_T}/runs/restore"): _on(M, Source.RUN_ID),
    ("POST", f"{_T}/runs/search"): _on(R, Source.EXPERIMENT_IDS),
    ("POST", f"{_T}/runs/log-metric"): _on(E, Source.RUN_ID),
    ("POST", f"{_T}/runs/log-parameter"): _on(E, Source.RUN_ID),
    ("POST", f"{_T}/runs/set-tag"): _on(E, Source.RUN_ID),
    ("POST", f"{_T}/runs/delete-tag"): _on(E, Source.RUN_ID),
    ("POST", f"{_T}/runs/log-batch"): _on(E, Source.RUN_ID),
    ("POST", f"{_T}/runs/log-inputs"): _on(E, Source.RUN_ID),
    ("POST", f"{_T}/runs/outputs"): _on(E, Source.RUN_ID),
    ("GET", f"{_T}/metrics/get-history"): _on(R, Source.RUN_ID),
    ("GET", f"{_T}/metrics/get-history-bulk-interval"): _on(R, Source.RUN_IDS, "run_ids"),
    ("GET", f"{_T}/metrics/get-history-bulk"): _on(R, Source.RUN_IDS, "run_id"),
    # logged models
    ("POST", f"{_T}/logged-models"): _on(E, Source.EXPERIMENT_ID),
    ("POST", f"{_T}/logged-models/search"): _on(R, Source.EXPERIMENT_IDS),
    ("GET", _LM): _on(R, Source.MODEL_ID),
    ("PATCH", _LM): _on(E, Source.MODEL_ID),
    ("DELETE", _LM): _on(M, Source.MODEL_ID),
    ("PATCH", f"{_LM}/tags"): _on(E, Source.MODEL_ID),
    ("DELETE", f"{_LM}/tags/{{tag_key}}"): _on(E, Source.MODEL_ID),
    ("POST", f"{_LM}/params"): _on(E, Source.MODEL_ID),
    ("GET", f"{_LM}/artifacts/directories"): _on(R, Source.MODEL_ID),
    ("GET", f"{_LM}/artifacts/files"): _on(R, Source.MODEL_ID),
    # a run's artifacts (the UI and the client's listing)
    ("GET", f"{_T}/artifacts/list"): _on(R, Source.RUN_ID),
    ("GET", "/get-artifact"): _on(R, Source.RUN_ID),
    # the artifact proxy: the path's first segment is the experiment
    ("GET", f"{_A}/artifacts"): _on(R, Source.ARTIFACT_PATH, "path"),
    ("GET", f"{_A}/artifacts/{{path:path}}"): _on(R, Source.ARTIFACT_PATH, "path"),
    ("PUT", f"{_A}/artifacts/{{path:path}}"): _on(E, Source.ARTIFACT_PATH, "path"),
    ("DELETE", f"{_A}/artifacts/{{path:path}}"): _on(M, Source.ARTIFACT_PATH, "path"),
    ("DELETE", f"{_A}/artifacts"): _on(M, Source.ARTIFACT_PATH, "path"),
    ("POST", f"{_A}/mpu/create/{{path:path}}"): _on(E, Source.ARTIFACT_PATH, "path"),
    ("POST", f"{_A}/mpu/create"): _on(E, Source.ARTIFACT_PATH, "path"),
    ("POST", f"{_A}/mpu/complete/{{path:path}}"): _on(E, Source.ARTIFACT_PATH, "path"),
    ("POST", f"{_A}/mpu/complete"): _on(E, Source.ARTIFACT_PATH, "path"),
    ("POST", f"{_A}/mpu/abort/{{path:path}}"): _on(E, Source.ARTIFACT_PATH, "path"),
    ("POST", f"{_A}/mpu/abort"): _on(E, Source.ARTIFACT_PATH, "path"),
    ("PUT", f"{_A}/mpu/part/{{upload_id}}/{{number:int}}"): _on(E, Source.ARTIFACT_PATH, "path"),
    # users and permissions (this module's own routes)
    ("GET", f"{_T}/users/current"): signed_in(),
    ("POST", f"{_T}/experiments/permissions/create"): _on(M, Source.EXPERIMENT_ID),
    ("GET", f"{_T}/experiments/permissions/get"): _on(M, Source.EXPERIMENT_ID),
    ("PATCH", f"{_T}/experiments/permissions/update"): _on(M, Source.EXPERIMENT_ID),
    ("DELETE", f"{_T}/experiments/permissions/delete"): _on(M, Source.EXPERIMENT_ID),
}


def rule_for(method: str, route_path: str) -> Rule | None:
    """The rule of a route, by its path template; None when the table has no entry."""
    if route_path.startswith("/ajax-api/"):
        route_path = "/api/" + route_path.removeprefix("/ajax-api/")
    return RULES.get(("GET" if method == "HEAD" else method, route_path))


# --- finding a request's rule ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Dynamic:
    order: int
    regex: re.Pattern[str]
    methods: frozenset[str] | None  # None: every method (a Mount)
    rules: dict[str, Rule | None]
    path: str


class RuleIndex:
    """Which rule applies to a request, found the way Starlette's router finds the route:
    the first route, in table order, whose path and method match."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self._static: dict[tuple[str, str], tuple[int, Rule | None]] = {}
        self._dynamic: list[_Dynamic] = []
        for order, route in enumerate(routes):
            path: str = getattr(route, "path", "")
            regex: re.Pattern[str] | None = getattr(route, "path_regex", None)
            if regex is None:
                continue
            methods = getattr(route, "methods", None)
            if isinstance(route, Route) and methods and "{" not in path:
                for method in methods:
                    self._static.setdefault((method, path), (order, rule_for(method, path)))
                continue
            allowed = frozenset(methods) if methods else None
            rules = {m: rule_for(m, path) for m in allowed or ()}
            self._dynamic.append(_Dynamic(order, regex, allowed, rules, path))

    def lookup(self, method: str, path: str) -> tuple[bool, Rule | None]:
        """(whether a route serves this method and path, its rule)."""
        static = self._static.get((method, path))
        for entry in self._dynamic:
            if static is not None and entry.order > static[0]:
                break
            if (entry.methods is None or method in entry.methods) and entry.regex.match(path):
                return True, entry.rules.get(method)
        if static is not None:
            return True, static[1]
        return False, None


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("/", ""):
        return path[len(root) :] or "/"
    return path


# --- reading ids from a request ----------------------------------------------------------------


class _Fields(Protocol):
    def one(self, name: str) -> str | None: ...
    def many(self, name: str) -> list[str]: ...
    def path(self, name: str) -> str | None: ...


class _MessageFields:
    """Fields of a decoded tracking message (body or query, and the route's path)."""

    def __init__(self, msg: Message) -> None:
        self._msg = msg

    def one(self, name: str) -> str | None:
        return self._msg.text(name)

    def many(self, name: str) -> list[str]:
        return self._msg.texts(name)

    def path(self, name: str) -> str | None:
        try:
            return self._msg.path(name)
        except KeyError:
            return None


class _RequestFields:
    """Fields of a request whose body is not a message (artifact uploads and downloads)."""

    def __init__(self, request: Request) -> None:
        self._request = request

    def one(self, name: str) -> str | None:
        value = self._request.path_params.get(name)
        return value if value is not None else self._request.query_params.get(name)

    def many(self, name: str) -> list[str]:
        return self._request.query_params.getlist(name)

    def path(self, name: str) -> str | None:
        value = self._request.path_params.get(name)
        return None if value is None else str(value)


def _target(rule: Rule, fields: _Fields) -> Target | None:
    """The ids a request names for its rule; None when it names no experiment at all."""
    source, name = rule.source, rule.field_name
    if source is Source.EXPERIMENT_ID:
        value = fields.one(name) or rule.default
        if not value:
            raise missing(name)
        return Target(experiments=[validation.parse_experiment_id(value)])
    if source is Source.EXPERIMENT_IDS:
        return Target(experiments=[validation.parse_experiment_id(v) for v in fields.many(name)])
    if source is Source.EXPERIMENT_NAME:
        value = fields.one(name)
        if not value:
            raise missing(name)
        return Target(names=[value])
    if source is Source.RUN_ID:
        value = fields.one(name) or fields.one("run_uuid")
        if not value:
            raise missing(name)
        return Target(runs=[value])
    if source is Source.RUN_IDS:
        return Target(runs=fields.many(name))
    if source is Source.MODEL_ID:
        # finalize acts on the body's id, the other routes on the path's: check every one given
        ids = {v for v in (fields.path(name), fields.one(name)) if v}
        if not ids:
            raise missing(name)
        return Target(models=sorted(ids))
    if source is Source.ARTIFACT_PATH:
        raw = fields.path(name)
        eid = experiment_of_artifact_path(artifact_paths.clean(raw or fields.one(name) or ""))
        return None if eid is None else Target(experiments=[eid])
    raise AssertionError(f"no target for {source}")


_NO_TARGET = frozenset(
    {
        Source.PUBLIC,
        Source.SIGNED_IN,
        Source.ADMIN,
        Source.NEW_EXPERIMENT,
        Source.READABLE_EXPERIMENTS,
    }
)


# --- the per-request hook ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Guard:
    """One request's principal and rule; the route's wrapper asks it before acting."""

    principal: Principal
    rule: Rule
    authoriser: Authoriser

    def check(self, fields: _Fields) -> None:
        """Raise PermissionDenied unless the rule is met (may query: call off the loop)."""
        if self.rule.source in _NO_TARGET or self.principal.is_admin:
            return
        target = _target(self.rule, fields)
        if target is None:
            raise denied(self.principal.username, self.rule.needs, None)
        self.authoriser.check(self.principal, self.rule.needs, target)

    def wrap(self, handler: Handler) -> Handler:
        """``handler`` with the rule applied around it (for ``routes.endpoint``)."""
        source = self.rule.source
        if source is Source.NEW_EXPERIMENT:
            return lambda ctx, msg: self._create_experiment(handler, ctx, msg)
        if source is Source.READABLE_EXPERIMENTS:
            return lambda ctx, msg: self._search_experiments(handler, ctx, msg)

        def checked(ctx: Ctx, msg: Message) -> Json:
            self.check(_MessageFields(msg))
            return handler(ctx, msg)

        return checked

    async def check_request(self, request: Request) -> None:
        """The hook for routes that stream their body (artifacts): ids from path and query."""
        if self.rule.source in _NO_TARGET or self.principal.is_admin:
            return
        await anyio.to_thread.run_sync(self.check, _RequestFields(request))

    def _create_experiment(self, handler: Handler, ctx: Ctx, msg: Message) -> Json:
        out = handler(ctx, msg)
        self.authoriser.make_owner(self.principal, int(out["experiment_id"]))
        return out

    def _search_experiments(self, handler: Handler, ctx: Ctx, msg: Message) -> Json:
        can_read = self.authoriser.readable(self.principal)
        out = handler(ctx, msg)
        if can_read is None:
            return out
        return _readable_page(handler, ctx, msg, out, can_read)


def _readable_page(
    handler: Handler, ctx: Ctx, msg: Message, first: Json, can_read: Callable[[int], bool]
) -> Json:
    """Drop unreadable experiments from a search page and fill it up from the following ones,
    as MLflow does; the page token stays an offset into the unfiltered order."""
    wanted = msg.integer("max_results") or 0
    kept = [e for e in first.get("experiments", []) if can_read(int(e["experiment_id"]))]
    token = first.get("next_page_token")
    while len(kept) < wanted and token:
        offset = search.decode_page_token(token)
        query = {
            "view_type": msg.enum("view_type", VIEW_TYPES, "ACTIVE_ONLY"),
            "max_results": wanted,
            "filter": msg.text("filter"),
            "order_by": msg.texts("order_by"),
            "page_token": token,
        }
        page = handler(ctx, Message(query))
        found = page.get("experiments", [])
        taken = found[: wanted - len(kept)]
        kept += [e for e in taken if can_read(int(e["experiment_id"]))]
        more = len(taken) < len(found) or page.get("next_page_token")
        token = search.encode_page_token(offset + len(taken)) if more else None
    out: Json = {}
    if kept:
        out["experiments"] = kept
    if token:
        out["next_page_token"] = token
    return out


# --- the middleware ------------------------------------------------------------------------------


def _unauthenticated() -> Response:
    exc = Unauthenticated(
        "You are not authenticated. Send a user name and password (HTTP Basic; the client reads "
        "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD) or an API token (Bearer; "
        "MLFLOW_TRACKING_TOKEN)."
    )
    response = error_response(exc)
    response.headers["WWW-Authenticate"] = f'Basic realm="{REALM}"'
    return response


def _basic(value: str) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep and username and password else None


@dataclass(frozen=True, slots=True)
class _Running:
    """What the middleware needs once the app has its database (built at start-up)."""

    rules: RuleIndex
    authenticator: Authenticator
    authoriser: Authoriser
    logins: anyio.CapacityLimiter  # argon2 takes 64 MiB a check: bound how many run at once

    async def authenticate(self, header: str | None) -> Principal | None:
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            token = value.strip()
            if not is_token(token):
                return None
            return await anyio.to_thread.run_sync(self.authenticator.token, token)
        if scheme != "basic" or (pair := _basic(value)) is None:
            return None
        username, password = pair
        if is_token(password):  # a token as the Basic password: it must be this user's
            found = await anyio.to_thread.run_sync(self.authenticator.token, password)
            return found if found is not None and found.username == username else None
        cached = self.authenticator.cached_login(username, password)
        if cached is not None:
            return cached
        return await anyio.to_thread.run_sync(
            self.authenticator.login, username, password, limiter=self.logins
        )


class AuthMiddleware:
    """Layer 4 of the stack: 401 without valid credentials, 403 for a route without a rule or
    an admin-only route; the route's hook does the rest."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self._default = Permission[settings.auth_default_permission]
        self._running: _Running | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, receive, self._starting(scope, send))
            return
        if kind != "http":  # no websocket route has a rule
            await send({"type": "websocket.close", "code": 1008})
            return
        running = self._running
        if running is None:
            raise RuntimeError("auth middleware used before the app started")
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        matched, rule = running.rules.lookup(method, _route_path(scope))
        if rule is not None and rule.source is Source.PUBLIC:
            await self.app(scope, receive, send)
            return
        header = _header(scope, b"authorization")
        principal = await running.authenticate(header)
        if principal is None:
            await _unauthenticated()(scope, receive, send)
            return
        if matched:
            refusal = _refusal(rule, principal, method, scope["path"])
            if refusal is not None:
                await error_response(refusal)(scope, receive, send)
                return
            assert rule is not None
            scope[SCOPE_KEY] = Guard(principal, rule, running.authoriser)
        await self.app(scope, receive, send)

    def _starting(self, scope: Scope, send: Send) -> Send:
        async def send_after_start(message: AsgiMessage) -> None:
            if message["type"] == "lifespan.startup.complete":
                try:
                    limiter = anyio.CapacityLimiter(4)
                    await anyio.to_thread.run_sync(self._start, scope["app"], limiter)
                except Exception as exc:  # noqa: BLE001 - reported as a failed start-up
                    log.exception("auth: start-up failed")
                    message = {"type": "lifespan.startup.failed", "message": f"auth: {exc}"}
            await send(message)

        return send_after_start

    def _start(self, app: Any, limiter: anyio.CapacityLimiter) -> None:
        ctx: Ctx = app.state.ctx
        if service.prepare(ctx) == 0:
            log.warning(
                "auth is on but there is no administrator yet: every request will be refused "
                "until you create one with `runyard users create NAME --admin` (same "
                "--backend-store-uri as this server)"
            )
        self._running = _Running(
            RuleIndex(app.routes), Authenticator(ctx.db), Authoriser(ctx.db, self._default), limiter
        )


def _refusal(rule: Rule | None, who: Principal, method: str, path: str) -> PermissionDenied | None:
    if rule is None:  # fail closed: a route nobody wrote a rule for is refused to everyone
        return PermissionDenied(
            f"Permission denied: {method} {path} has no authorisation rule on this server."
        )
    if rule.source is Source.ADMIN and not who.is_admin:
        return PermissionDenied(f"Permission denied: {method} {path} is for administrators.")
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


# --- users/current and experiment permissions (MLflow 2's basic-auth endpoints) ---------------

AuthHandler = Callable[[Ctx, Message, Principal], Json]


def _grant_json(row: service.GrantRow) -> Json:
    return {
        "experiment_permission": {
            "experiment_id": str(row.experiment_id),
            "user_id": row.user_id,
            "permission": row.permission,
        }
    }


def current_user(ctx: Ctx, msg: Message, who: Principal) -> Json:
    user = {"id": who.user_id, "username": who.username, "is_admin": who.is_admin}
    return {"user": user, "is_basic_auth": True}


def create_permission(ctx: Ctx, msg: Message, who: Principal) -> Json:
    row = service.create_permission(
        ctx, msg.req_text("experiment_id"), msg.req_text("username"), msg.req_text("permission")
    )
    return _grant_json(row)


def get_permission(ctx: Ctx, msg: Message, who: Principal) -> Json:
    row = service.get_permission(ctx, msg.req_text("experiment_id"), msg.req_text("username"))
    return _grant_json(row)


def update_permission(ctx: Ctx, msg: Message, who: Principal) -> Json:
    service.update_permission(
        ctx, msg.req_text("experiment_id"), msg.req_text("username"), msg.req_text("permission")
    )
    return {}


def delete_permission(ctx: Ctx, msg: Message, who: Principal) -> Json:
    service.delete_permission(ctx, msg.req_text("experiment_id"), msg.req_text("username"))
    return {}


def _endpoint(handler: AuthHandler) -> Callable[[Request], Awaitable[Response]]:
    async def call(request: Request) -> Response:
        guard: Guard | None = request.scope.get(SCOPE_KEY)
        if guard is None:  # auth is off: these routes do not exist, as in plain MLflow
            return error_response(
                MlflowError(
                    f"No API endpoint matches {request.method} {request.url.path} "
                    "(authentication is off on this server)",
                    "ENDPOINT_NOT_FOUND",
                )
            )
        principal = guard.principal
        return await rpc.answer(request, guard.wrap(lambda c, m: handler(c, m, principal)))

    call.__name__ = handler.__name__
    return call


def routes() -> list[BaseRoute]:
    table: list[BaseRoute] = []
    for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"):
        perms = f"{prefix}/experiments/permissions"
        table += [
            Route(f"{prefix}/users/current", _endpoint(current_user), methods=["GET"]),
            Route(f"{perms}/create", _endpoint(create_permission), methods=["POST"]),
            Route(f"{perms}/get", _endpoint(get_permission), methods=["GET"]),
            Route(f"{perms}/update", _endpoint(update_permission), methods=["PATCH"]),
            Route(f"{perms}/delete", _endpoint(delete_permission), methods=["DELETE"]),
        ]
    return table
