"""Building one generated request for a route, sending it, and judging the answer.

A :class:`Case` is a complete HTTP request (method, encoded path and query, headers, body) that
prints as something one can paste to reproduce it. :func:`judge` is the contract: never a 5xx,
and on every error MLflow's JSON error shape with the status MLflow gives its code.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import httpx

from runyard.errors import HTTP_STATUS
from tests.fuzz import fields as spec
from tests.fuzz import gen
from tests.fuzz.gen import Gen

# Statuses runyard answers on purpose where MLflow's code table says otherwise: a wrong method,
# a body over the limit, an unsatisfiable range, and INVALID_STATE as 400 (errors.InvalidState:
# MLflow's 500 makes its client retry a request that cannot succeed).
_OWN_STATUS = {
    (405, "BAD_REQUEST"),
    (413, "RESOURCE_EXHAUSTED"),
    (416, "INVALID_PARAMETER_VALUE"),
    (400, "INVALID_STATE"),
}
_CONTENT_TYPES = [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "",
    "application/json; charset=utf-16", "APPLICATION/JSON", "application/jsonx", None,
    "application/json, text/plain", "application/octet-stream",
]  # fmt: skip
_RANGES = ["bytes=0-10", "bytes=5-", "bytes=-3", "bytes=10-5", "bytes=999999999999-"]
_RANGES += ["bytes=0-0,2-3", "bytes=-0", "bytes=" + "9" * 40 + "-", "items=0-1", "bytes="]
_JUNK_QUERIES = ["&&=", "%", "%zz", "a=%ff", "path=%2e%2e%2fetc", "=", "a=1&a=2&a=", "%00=%00"]
_JUNK_SEGMENTS = [
    "", "%00", "%ff", "%2e%2e", "..", "%2F", "a%2Fb", "%25", "x" * 300, "1/" * 60, "%C0%AF",
    "1/../2", "1/%2e%2e/2", "0", "-1", "９", "%E2%80%AE", "a%00b",
]  # fmt: skip
_MAX_URL = 60_000  # httpx refuses longer URLs (65,536 characters)
_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")


@dataclass
class Case:
    method: str
    path: str  # percent-encoded, parameters filled in
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    json_body: Any = None  # the value ``body`` encodes, when it is a plain JSON object

    def target(self) -> str:
        """Path and query, cut to what httpx sends (65,536 characters)."""
        path = self.path[: _MAX_URL // 2]
        return path + (f"?{self.query[: _MAX_URL - len(path)]}" if self.query else "")

    def describe(self, limit: int = 600) -> str:
        """The request, short enough to read, exact enough to resend."""
        lines = [f"{self.method} {squeeze(self.target())[:limit]}"]
        lines += [f"{k}: {v[:120]}" for k, v in self.headers.items() if k != "Authorization"]
        if self.body:
            lines.append(f"body ({len(self.body)} bytes): {squeeze(repr(self.body))[:limit]}")
        return "\n    ".join(lines)


def squeeze(text: str) -> str:
    """``text`` with long runs of a repeated unit written ``unit{×count}``."""

    def run(m: re.Match[str]) -> str:
        return f"{m.group(1)}{{×{len(m.group(0)) // len(m.group(1))}}}"

    return _REPEATS.sub(run, text[:200_000])


_REPEATS = re.compile(r"(.{1,8}?)\1{9,}", re.DOTALL)


# --- building a case --------------------------------------------------------------------------


def _quote(value: str) -> str:
    return urllib.parse.quote(value.encode("utf-8", "surrogatepass"), safe="")


def _segment(g: Gen, t: spec.Targets, name: str, converter: str | None) -> str:
    """A path parameter: usually a real id or path of the fixture, else a hostile one."""
    if converter == "int":
        return str(g.pick([1, 2, 0, 10_000, 10_001, 2**63, 10**30, g.rng.randint(1, 5)]))
    if g.chance(0.25):
        return str(g.pick(_JUNK_SEGMENTS))
    if name == "path":
        value = spec.ARTIFACT(g, t)
    elif name == "model_id":
        value = spec.MODEL(g, t)
    elif name == "upload_id":
        value = spec.UPLOAD(g, t)
    else:
        value = g.pick([g.key(), g.text(), g.hex()])
    text = value if isinstance(value, str) else json.dumps(value)
    if name == "path":
        return "/".join(_quote(part) for part in text.split("/"))
    return _quote(text)


def fill(g: Gen, t: spec.Targets, template: str) -> str:
    return _PARAM.sub(lambda m: _segment(g, t, m.group(1), m.group(2)), template)


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, allow_nan=True, ensure_ascii=False)


def encode_query(g: Gen, message: dict[str, Any]) -> str:
    """A message as a query string: lists as repeated keys, as GET clients send them."""
    if g.chance(0.08):
        return str(g.pick(_JUNK_QUERIES))
    pairs, size = [], 0
    for key, value in message.items():
        for item in value if isinstance(value, list) and value else [value]:
            if size > _MAX_URL:  # the rest would be cut off (Case.target)
                break
            pairs.append(f"{_quote(key)}={_quote(_query_text(item)[:_MAX_URL])}")
            size += len(pairs[-1])
    return "&".join(pairs)


def _upload_bytes(g: Gen) -> bytes:
    size = g.pick([0, 1, 1_000, 70_000]) if not g.chance(0.05) else 2 << 20
    return g.rng.randbytes(size) if size < 100_000 else b"\0" * size


def build(g: Gen, t: spec.Targets, method: str, template: str, route: spec.Spec | None) -> Case:
    """One generated request for ``method template``; ``route`` None: a route with no spec."""
    fields = spec.ANY_FIELDS if route is None else route.fields
    raw = route is not None and route.raw
    case = Case(method, fill(g, t, template))

    def message() -> dict[str, Any]:
        if g.chance(0.4):
            return spec.near_valid(g, t, fields)
        return spec.structured(g, t, fields)

    reads_query = method == "GET" or raw
    if g.chance(0.7 if reads_query else 0.08):
        case.query = encode_query(g, message())
    if raw:
        if method == "PUT":
            case.body = _upload_bytes(g)
            content_type = g.pick(["application/octet-stream", *_CONTENT_TYPES])
        else:
            content_type = None
        if method == "GET" and g.chance(0.3):
            case.headers["Range"] = g.pick(_RANGES)
    else:
        content_type = "application/json"
        roll = g.rng.random()
        if method == "GET" and case.query and roll < 0.8:
            roll = 1.0  # the query string is the message; a body would be ignored
        if roll < 0.5:
            case.json_body = message()
            case.body = gen.encode_json(case.json_body)
        elif roll < 0.6:
            case.body = gen.encode_json(g.json(4) if g.chance(0.6) else g.deep())
        elif roll < 0.8:
            case.body = gen.raw_body(g, lambda: gen.encode_json(message()))
        elif roll < 0.9:
            case.body = gen.encode_json(message())
            content_type = g.pick(_CONTENT_TYPES)
        else:
            case.body = b"" if g.chance(0.5) else None
    if content_type is not None and case.body is not None:
        case.headers["Content-Type"] = content_type
    return case


# --- credentials ----------------------------------------------------------------------------


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


_BAD_AUTH = ["", "Basic", "Basic !!!", "Bearer", "Bearer x", "Digest x", "Bearer " + "x" * 4_000]
_BAD_AUTH += ["Basic " + base64.b64encode(raw).decode() for raw in (b"\xff:\xfe", b"bob", b":")]
_BAD_AUTH += ["Basic " + base64.b64encode(b"bob:wrong").decode()]


def credentials(g: Gen, good: str | None) -> dict[str, str]:
    """The mode's own Authorization header, or (sometimes, when auth is on) a broken one."""
    if good is None:
        return {}
    if g.chance(0.05):
        bad = g.pick(_BAD_AUTH)
        return {"Authorization": bad} if bad else {}
    return {"Authorization": good}


# --- judging the answer ----------------------------------------------------------------------


def judge(response: httpx.Response, rpc: bool) -> str | None:
    """What is wrong with ``response``, or None. ``rpc``: a route whose answer is JSON."""
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    content_type = response.headers.get("content-type", "")
    if status >= 400:
        if not content_type.startswith("application/json"):
            return f"{status} answered as {content_type!r}, not MLflow's error JSON"
        try:
            body = response.json()
        except ValueError:
            return f"{status} with a body that is not JSON"
        if not isinstance(body, dict):
            return f"{status} with JSON that is not an object"
        code, message = body.get("error_code"), body.get("message")
        if not isinstance(code, str) or not isinstance(message, str):
            return f"{status} without error_code and message strings"
        if status != HTTP_STATUS.get(code, 500) and (status, code) not in _OWN_STATUS:
            mlflow = HTTP_STATUS.get(code, 500)
            return f"{status} for error_code {code}, which MLflow answers with {mlflow}"
        return None
    if status == 200 and (rpc or content_type.startswith("application/json")):
        try:
            body = response.json()
        except ValueError:
            return f"{status} that says JSON but does not parse"
        if rpc and not isinstance(body, dict):
            return f"{status} with JSON that is not an object"
    return None


def summary(response: httpx.Response) -> str:
    """Status and the message of an error answer, for a report line."""
    try:
        body = response.json()
        message = body.get("message", "") if isinstance(body, dict) else ""
    except ValueError:
        message = response.text[:200]
    return f"{response.status_code} {str(message)[:300]!r}"
