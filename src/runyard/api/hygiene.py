"""Layer 3: request hygiene, on unless ``disable_security_middleware``.

* Host allow-list against DNS rebinding: a page on ``evil.example`` whose name is made to
  resolve to this server still sends ``Host: evil.example``, so only names the operator listed
  (and loopback names, the listen address, and on a wildcard listen address any IP literal,
  none of which a rebinding page can send) are served. ``/health`` and ``/ready`` are exempt,
  so probes that address the server by any name work.
* Origin: a browser's state-changing request from a foreign origin is refused; listed and
  loopback origins get CORS headers and preflight answers.
* JSON writes must say ``application/json``: a cross-site HTML form can only send
  ``text/plain``, urlencoded or multipart bodies without a preflight.
* Body limits, on ``Content-Length`` up front and on the bytes as they stream in (chunked
  bodies have no length); nothing is buffered here.
* Security headers on every response, without replacing ones a route set itself.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runyard.api.errors import error_response
from runyard.errors import InvalidParameterValue, MlflowError
from runyard.settings import Settings

log = logging.getLogger("runyard.hygiene")

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
_WILDCARD_ADDRESSES = ("0.0.0.0", "::", "[::]", "")
_HOST_EXEMPT_PATHS = frozenset({"/health", "/ready"})
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_JSON_WRITE_METHODS = frozenset({"POST", "PATCH", "DELETE"})
_JSON_API = re.compile(r"/(?:api|ajax-api)/[^/]+/mlflow(?:-artifacts)?/")
_ARTIFACT_UPLOAD = re.compile(r"/(?:api|ajax-api)/[^/]+/mlflow-artifacts/(?:artifacts|mpu/part)/")
_API = ("/api/", "/ajax-api/", "/get-artifact")
_HOST_SYNTAX = re.compile(r"[A-Za-z0-9.\-_]+(?::\d{1,5})?|\[[0-9A-Fa-f:.]+\](?::\d{1,5})?")

_AddHeader = Callable[[bytes, bytes], None]

INVALID_HOST = "Invalid Host header - possible DNS rebinding attack detected"
CORS_BLOCKED = "Cross-origin request blocked"

_CORS_METHODS = b"GET, POST, PUT, PATCH, DELETE, OPTIONS"
_CORS_DEFAULT_HEADERS = b"Authorization, Content-Type, X-Request-Id"
_CORS_EXPOSED = b"X-Request-Id, ETag, Content-Range, Content-Disposition, Content-Length"
_CORS_HEADER_LIST = re.compile(rb"[A-Za-z0-9\-, ]{0,1000}")
# Nothing under the API is a page: a browser that opens a response there runs nothing.
_API_CSP = "default-src 'none'; sandbox{frame}"
# A page (the UI) may load its own scripts, styles and images, and nothing from elsewhere.
_PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'{frame}"
)


class BodyTooLarge(MlflowError):
    """The request body is over the limit; 413, which MLflow's table has no code for."""

    error_code = "RESOURCE_EXHAUSTED"

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body is larger than the limit of {limit} bytes.")

    @property
    def status(self) -> int:
        return 413


# --- Host and Origin patterns ---------------------------------------------------------------


def split_host_port(value: str) -> tuple[str, str | None]:
    """``"Example.com:80"`` -> ``("example.com", "80")``; IPv6 stays bracketed."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        port = value[end + 1 :]
        return value[: end + 1], port[1:] if port.startswith(":") else None
    if value.count(":") == 1:
        host, port = value.split(":")
        return host, port
    if ":" in value:  # a bare IPv6 address in a setting
        return f"[{value}]", None
    return value, None


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.IGNORECASE)


@dataclass(frozen=True)
class HostPattern:
    host: re.Pattern[str]
    port: re.Pattern[str] | None  # None: any port

    @classmethod
    def parse(cls, text: str) -> HostPattern:
        host, port = split_host_port(text)
        return cls(_wildcard(host), _wildcard(port) if port else None)

    def matches(self, host: str, port: str | None) -> bool:
        if not self.host.fullmatch(host):
            return False
        return self.port is None or self.port.fullmatch(port or "") is not None


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


class HostPolicy:
    """Which ``Host`` headers are served: loopback names, the listen address and
    ``allowed_hosts`` (``*`` wildcards, an optional port), any port unless one is given."""

    def __init__(self, listen_host: str, allowed_hosts: str) -> None:
        listed = _comma_list(allowed_hosts)
        self.allow_all = "*" in listed
        wildcard_listen = listen_host.strip().lower() in _WILDCARD_ADDRESSES
        # An IP literal in Host means the client addressed the server by its address: no DNS
        # name was involved, so there is nothing to rebind.
        self.allow_ip_literals = wildcard_listen
        names = [*LOOPBACK_NAMES, *([] if wildcard_listen else [listen_host]), *listed]
        self.patterns = [HostPattern.parse(name) for name in names]

    def allows(self, header: str) -> bool:
        if not _HOST_SYNTAX.fullmatch(header):
            return False
        if self.allow_all:
            return True
        host, port = split_host_port(header)
        if self.allow_ip_literals and _is_ip_literal(host):
            return True
        return any(p.matches(host, port) for p in self.patterns)


def _origin_host(origin: str) -> str | None:
    """``https://Example.com:8443`` -> ``example.com:8443``; None for ``null`` or junk."""
    scheme, sep, rest = origin.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or "/" in rest or "@" in rest:
        return None
    return rest.lower() if _HOST_SYNTAX.fullmatch(rest) else None


class OriginPolicy:
    """Which browser origins may write and read: loopback, same-origin and
    ``cors_allowed_origins`` (exact origins, ``*`` wildcards, or ``*`` for all)."""

    def __init__(self, allowed_origins: str) -> None:
        listed = _comma_list(allowed_origins)
        self.allow_all = "*" in listed
        self.patterns = [_wildcard(item.rstrip("/")) for item in listed if item != "*"]

    def allows(self, origin: str, host_header: str) -> bool:
        if self.allow_all:
            return True
        netloc = _origin_host(origin)
        if netloc is None:
            return False
        if split_host_port(netloc)[0] in LOOPBACK_NAMES or netloc == host_header.lower():
            return True
        return any(p.fullmatch(origin) for p in self.patterns)


# --- the middleware -------------------------------------------------------------------------


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """The request headers this layer reads (the first of each; ASGI names are lower case)."""
    wanted = {
        b"host",
        b"origin",
        b"content-type",
        b"content-length",
        b"transfer-encoding",
        b"access-control-request-method",
        b"access-control-request-headers",
    }
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in wanted and name not in found:
            found[name] = value
    return found


def _frame_ancestors(x_frame_options: str) -> str:
    value = x_frame_options.strip().upper()
    return {"SAMEORIGIN": "; frame-ancestors 'self'", "DENY": "; frame-ancestors 'none'"}.get(
        value, ""
    )


def check_json_content_type(content_type: str | None) -> None:
    """MLflow's check (and its words) for a JSON body; parameters such as charset are fine."""
    if content_type is None:
        raise InvalidParameterValue("Bad Request. Content-Type header is missing.")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise InvalidParameterValue(
            "Bad Request. Content-Type must be one of ['application/json']."
        )


class RequestHygiene:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hosts = HostPolicy(settings.host, settings.allowed_hosts)
        self.origins = OriginPolicy(settings.cors_allowed_origins)
        self.max_request_bytes = settings.max_request_bytes
        self.max_artifact_bytes = settings.max_artifact_bytes
        frame = _frame_ancestors(settings.x_frame_options)
        self.api_csp = _API_CSP.format(frame=frame).encode()
        self.page_csp = _PAGE_CSP.format(frame=frame).encode()
        xfo = settings.x_frame_options.strip().upper()
        self.x_frame_options = xfo.encode() if xfo and xfo != "NONE" else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        path, method = scope["path"], scope["method"]
        host = headers.get(b"host", b"").decode("latin-1")
        origin = headers[b"origin"].decode("latin-1") if b"origin" in headers else None
        cors_ok = origin is not None and self.origins.allows(origin, host)
        send = self._decorating(send, path, origin if cors_ok else None)

        if path not in _HOST_EXEMPT_PATHS and not self.hosts.allows(host):
            log.warning("refused Host header %r for %s %s", host, method, path)
            await _reject(MlflowError(INVALID_HOST, "PERMISSION_DENIED"), scope, receive, send)
            return
        if origin is not None and not cors_ok:
            is_preflight = method == "OPTIONS" and b"access-control-request-method" in headers
            if method in _STATE_CHANGING or is_preflight:
                log.warning("refused %s %s from origin %r", method, path, origin)
                err = MlflowError(CORS_BLOCKED, "PERMISSION_DENIED")
                await _reject(err, scope, receive, send)
                return
        if (
            origin is not None
            and method == "OPTIONS"
            and b"access-control-request-method" in headers
        ):
            await self._preflight(headers, send)
            return
        limit = self._limit(method, path)
        try:
            self._check_body(method, path, headers, limit)
        except MlflowError as exc:
            await _reject(exc, scope, receive, send)
            return
        await self._call_limited(scope, receive, send, limit)

    def _limit(self, method: str, path: str) -> int:
        if method == "PUT" and _ARTIFACT_UPLOAD.match(path):
            return self.max_artifact_bytes
        return self.max_request_bytes

    @staticmethod
    def _check_body(method: str, path: str, headers: dict[bytes, bytes], limit: int) -> None:
        length = headers.get(b"content-length")
        has_body = b"transfer-encoding" in headers or (
            length is not None and length.strip() not in (b"", b"0")
        )
        if not has_body:
            return
        if method in _JSON_WRITE_METHODS and _JSON_API.match(path):
            content_type = headers.get(b"content-type")
            check_json_content_type(
                None if content_type is None else content_type.decode("latin-1")
            )
        if length is not None and length.strip().isdigit() and int(length) > limit:
            raise BodyTooLarge(limit)

    async def _call_limited(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app with a body that may not grow past ``limit`` while it streams in."""
        received = 0
        exceeded = False
        answered_instead = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            # Routes render BodyTooLarge themselves; should one turn it into something else
            # (a generic 500), the client still gets the 413 it is owed.
            nonlocal answered_instead, started
            if answered_instead:
                return
            started = started or message["type"] == "http.response.start"
            if exceeded and message["type"] == "http.response.start" and message["status"] != 413:
                answered_instead = True
                await error_response(BodyTooLarge(limit))(scope, receive, send)
                return
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge as exc:  # a route that let it escape: answer it here if we still can
            if started:
                raise
            await error_response(exc)(scope, receive, send)

    async def _preflight(self, headers: dict[bytes, bytes], send: Send) -> None:
        asked = headers.get(b"access-control-request-headers", b"")
        allow_headers = asked if asked and _CORS_HEADER_LIST.fullmatch(asked) else None
        response_headers = [
            (b"access-control-allow-methods", _CORS_METHODS),
            (b"access-control-allow-headers", allow_headers or _CORS_DEFAULT_HEADERS),
            (b"access-control-max-age", b"600"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": response_headers})
        await send({"type": "http.response.body", "body": b""})

    def _decorating(self, send: Send, path: str, cors_origin: str | None) -> Send:
        """``send``, adding the security headers (and CORS headers for an allowed origin) to the
        response unless the route set them itself."""
        is_api = path.startswith(_API)

        async def send_decorated(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}

                def add(name: bytes, value: bytes) -> None:
                    if name not in present:
                        headers.append((name, value))

                add(b"x-content-type-options", b"nosniff")
                if self.x_frame_options is not None:
                    add(b"x-frame-options", self.x_frame_options)
                add(b"referrer-policy", b"same-origin")
                add(b"content-security-policy", self.api_csp if is_api else self.page_csp)
                if cors_origin is not None:
                    self._add_cors(add, cors_origin)
                message = {**message, "headers": headers}
            await send(message)

        return send_decorated

    def _add_cors(self, add: _AddHeader, origin: str) -> None:
        if self.origins.allow_all:
            # Any origin, so no credentials: browsers refuse "*" with credentials anyway.
            add(b"access-control-allow-origin", b"*")
        else:
            add(b"access-control-allow-origin", origin.encode("latin-1"))
            add(b"access-control-allow-credentials", b"true")
            add(b"vary", b"Origin")
        add(b"access-control-expose-headers", _CORS_EXPOSED)


async def _reject(err: MlflowError, scope: Scope, receive: Receive, send: Send) -> None:
    await error_response(err)(scope, receive, send)
