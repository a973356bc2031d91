"""Authentication (401) and authorisation (403) over HTTP: the gate every route's endpoint asks.

Built at start-up only with ``--auth`` (``app.state.gate``; None when auth is off, and then no
code here runs for a request). The endpoint (``api/routes.py``) asks the gate to admit the caller
before it reads the request, then hands the permission check the same parsed resource that the
handler receives. Which permission a route needs is a column of the route table.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from runyard.api.request import Message
from runyard.api.resources import Access, Grants, RegisteredModel, Resource
from runyard.domain import search
from runyard.domain.entities import VIEW_TYPES
from runyard.domain.permissions import (
    Permission,
    PermissionDenied,
    Unauthenticated,
    denied,
    is_token,
)
from runyard.services import auth as service
from runyard.services.auth import Authenticator, Authoriser, Principal
from runyard.services.context import Ctx

log = logging.getLogger("runyard.auth")

PRINCIPAL_KEY = "runyard.principal"  # the signed-in user, in the ASGI scope
REALM = "runyard"

Json = dict[str, Any]
Handler = Callable[[Ctx, Message, Any], Json]

# the accesses decided on the parsed resource (the others are decided at admission)
_DECIDED_HERE = (Access.TARGET,)

# argon2 takes 64 MiB a check: bound how many run at once
_CONCURRENT_LOGINS = 4


def _unauthenticated() -> Unauthenticated:
    exc = Unauthenticated(
        "You are not authenticated. Send a user name and password (HTTP Basic; the client reads "
        "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD) or an API token (Bearer; "
        "MLFLOW_TRACKING_TOKEN)."
    )
    exc.headers = {"WWW-Authenticate": f'Basic realm="{REALM}"'}
    return exc


def _basic(value: str) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep and username and password else None


@dataclass(frozen=True, slots=True)
class Gate:
    """Who is calling (401) and whether they may (403); one per server process."""

    authenticator: Authenticator
    authoriser: Authoriser
    logins: anyio.CapacityLimiter

    @classmethod
    def start(cls, ctx: Ctx, default: Permission) -> Gate:
        """Build the gate once the database is open (blocking: call off the loop)."""
        if service.prepare(ctx) == 0:
            log.warning(
                "auth is on but there is no administrator yet: every request will be refused "
                "until you create one with `runyard users create NAME --admin` (same "
                "--backend-store-uri as this server)"
            )
        return cls(
            Authenticator(ctx.db),
            Authoriser(ctx.db, default),
            anyio.CapacityLimiter(_CONCURRENT_LOGINS),
        )

    async def admit(self, request: Request, access: Access) -> Principal | None:
        """The caller of a route with this access, or Unauthenticated / PermissionDenied."""
        if access is Access.PUBLIC:
            return None
        who = await self._authenticate(request.headers.get("authorization"))
        if who is None:
            raise _unauthenticated()
        if access is Access.ADMIN and not who.is_admin:
            raise PermissionDenied(
                f"Permission denied: {request.method} {request.url.path} is for administrators."
            )
        request.scope[PRINCIPAL_KEY] = who
        return who

    def must_check(self, who: Principal | None, on: Resource[Any]) -> bool:
        return who is not None and not who.is_admin and on.access in _DECIDED_HERE

    def check(
        self, who: Principal | None, needs: Permission, on: Resource[Any], value: Any
    ) -> None:
        """Raise PermissionDenied unless ``who`` holds ``needs`` on the parsed resource (may
        query: call off the loop)."""
        if who is None or not self.must_check(who, on):
            return
        target = on.target(value)
        if target is None:  # names no experiment: administrators only
            raise denied(who.username, needs, None)
        self.authoriser.check(who, needs, target)
        reads = on.reads(value)
        if reads is not None:
            self.authoriser.check(who, Permission.READ, reads)

    def run(
        self,
        who: Principal | None,
        needs: Permission,
        on: Resource[Any],
        handler: Handler,
        ctx: Ctx,
        msg: Message,
        value: Any,
    ) -> Json:
        """``handler`` on ``value`` once ``who`` may act on it (in a worker thread)."""
        self.check(who, needs, on, value)
        if who is not None and on.access is Access.READABLE_REGISTERED_MODELS:
            value = self.authoriser.readable_models(who)  # the search keeps to it
        out = handler(ctx, msg, value)
        if who is None:
            return out
        if on.access is Access.NEW_EXPERIMENT:
            self.authoriser.make_owner(who, int(out["experiment_id"]))
        elif on.access is Access.NEW_REGISTERED_MODEL:
            self.authoriser.make_model_owner(who, str(out["registered_model"]["name"]))
        elif isinstance(on, RegisteredModel) and on.grants is Grants.FOLLOW:
            self.authoriser.model_renamed(value, str(out["registered_model"]["name"]))
        elif isinstance(on, RegisteredModel) and on.grants is Grants.DROP:
            self.authoriser.model_deleted(value)
        elif on.access is Access.READABLE:
            can_read = self.authoriser.readable(who)
            if can_read is not None:
                return _readable_page(handler, ctx, msg, out, can_read)
        return out

    async def _authenticate(self, header: str | None) -> Principal | None:
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
        page = handler(ctx, Message(query), None)
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


# --- users/current and experiment permissions (MLflow 2's basic-auth endpoints) ---------------


def _grant_json(row: service.GrantRow) -> Json:
    return {
        "experiment_permission": {
            "experiment_id": str(row.experiment_id),
            "user_id": row.user_id,
            "permission": row.permission,
        }
    }


async def current_user(request: Request, msg: Message, _: None) -> Response:
    who: Principal = request.scope[PRINCIPAL_KEY]
    user = {"id": who.user_id, "username": who.username, "is_admin": who.is_admin}
    return JSONResponse({"user": user, "is_basic_auth": True})


def create_permission(ctx: Ctx, msg: Message, experiment_id: str) -> Json:
    row = service.create_permission(
        ctx, experiment_id, msg.req_text("username"), msg.req_text("permission")
    )
    return _grant_json(row)


def get_permission(ctx: Ctx, msg: Message, experiment_id: str) -> Json:
    row = service.get_permission(ctx, experiment_id, msg.req_text("username"))
    return _grant_json(row)


def update_permission(ctx: Ctx, msg: Message, experiment_id: str) -> Json:
    service.update_permission(
        ctx, experiment_id, msg.req_text("username"), msg.req_text("permission")
    )
    return {}


def delete_permission(ctx: Ctx, msg: Message, experiment_id: str) -> Json:
    service.delete_permission(ctx, experiment_id, msg.req_text("username"))
    return {}


# --- registered model permissions (MLflow 2's basic-auth endpoints) ----------------------------


def _model_grant_json(row: service.ModelGrantRow) -> Json:
    return {
        "registered_model_permission": {
            "name": row.name,
            "user_id": row.user_id,
            "permission": row.permission,
        }
    }


def create_model_permission(ctx: Ctx, msg: Message, name: str) -> Json:
    row = service.create_model_permission(
        ctx, name, msg.req_text("username"), msg.req_text("permission")
    )
    return _model_grant_json(row)


def get_model_permission(ctx: Ctx, msg: Message, name: str) -> Json:
    return _model_grant_json(service.get_model_permission(ctx, name, msg.req_text("username")))


def update_model_permission(ctx: Ctx, msg: Message, name: str) -> Json:
    service.update_model_permission(ctx, name, msg.req_text("username"), msg.req_text("permission"))
    return {}


def delete_model_permission(ctx: Ctx, msg: Message, name: str) -> Json:
    service.delete_model_permission(ctx, name, msg.req_text("username"))
    return {}
