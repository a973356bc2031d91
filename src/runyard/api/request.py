"""Reading MLflow request messages from JSON bodies or query strings, the way MLflow does.

A field may be spelled in snake_case or lowerCamelCase (proto JSON), int64 values may come as
numbers or strings, doubles as numbers or "NaN"/"Infinity", and GET requests carry repeated
fields as repeated query keys. Shape errors become INVALID_PARAMETER_VALUE with MLflow's text.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from typing import Any

import msgspec
from starlette.datastructures import QueryParams
from starlette.requests import Request

from runyard.domain.validation import MAX_JSON_DEPTH, invalid_value, too_deep_message
from runyard.errors import InvalidParameterValue

_DOCS_HINT = " See the API docs for more information about request parameters."
_FLOAT_WORDS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_INT64 = (-(2**63), 2**63 - 1)


@functools.cache
def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _type_error(name: str, value: object) -> InvalidParameterValue:
    hint = f" Hint: Value was of type '{_py_type(value)}'."
    return InvalidParameterValue(invalid_value(name, value, hint) + _DOCS_HINT)


def _py_type(value: object) -> str:
    return {dict: "dict", list: "list", str: "str", bool: "bool", int: "int", float: "float"}.get(
        type(value), type(value).__name__
    )


def out_of_range(name: str, value: object) -> InvalidParameterValue:
    """MLflow words a failed range check on a request field like a type error."""
    return _type_error(name, value)


def missing(name: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Missing value for required parameter '{name}'.{_DOCS_HINT}")


class Message:
    """One request message (or a nested one): typed, alias-aware field access."""

    __slots__ = ("_data", "_path", "_query")

    def __init__(
        self,
        data: Mapping[str, Any],
        query: QueryParams | None = None,
        path: Mapping[str, str] | None = None,
    ) -> None:
        self._data = data
        self._query = query
        self._path = path or {}

    def path(self, name: str) -> str:
        """A parameter of the route's path (``/logged-models/{model_id}``), never of the body."""
        return self._path[name]

    def _raw(self, name: str) -> Any:
        if self._query is not None:
            return self._query.get(name, self._query.get(_camel(name)))
        camel = _camel(name)
        if camel != name and name in self._data and camel in self._data:
            raise InvalidParameterValue(
                f"Request specifies both '{name}' and '{camel}'; provide only one of them."
            )
        value = self._data.get(name)
        return self._data.get(camel) if value is None else value

    def has(self, name: str) -> bool:
        return self._raw(name) is not None

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self._raw(name)
        if value is None or value == "":
            if required:
                raise missing(name)
            return None if value is None else ""
        if not isinstance(value, str):
            raise _type_error(name, value)
        return value

    def req_text(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self._raw(name)
        if value is None or value == "":
            if required:
                raise missing(name)
            return None
        if isinstance(value, bool):
            raise _type_error(name, value)
        if isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str):
            try:
                number = int(value.strip())
            except ValueError:
                raise _type_error(name, value) from None
        else:
            raise _type_error(name, value)
        if not _INT64[0] <= number <= _INT64[1]:
            raise _type_error(name, value)
        return number

    def number(self, name: str, *, required: bool = False) -> float | None:
        value = self._raw(name)
        if value is None or value == "":
            if required:
                raise missing(name)
            return None
        if isinstance(value, bool):
            raise _type_error(name, value)
        if isinstance(value, int | float):
            try:
                return float(value)
            except OverflowError:
                raise _type_error(name, value) from None
        if isinstance(value, str):
            if value in _FLOAT_WORDS:
                return _FLOAT_WORDS[value]
            try:
                return float(value)
            except ValueError:
                raise _type_error(name, value) from None
        raise _type_error(name, value)

    def flag(self, name: str) -> bool | None:
        value = self._raw(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise InvalidParameterValue(f"Invalid boolean value: {value}, must be 'true' or 'false'.")

    def texts(self, name: str) -> list[str]:
        if self._query is not None:
            return self._query.getlist(name) or self._query.getlist(_camel(name))
        value = self._raw(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise _type_error(name, value)
        out = []
        for item in value:
            if isinstance(item, int | float) and not isinstance(item, bool):
                item = str(item)
            if not isinstance(item, str):
                raise _type_error(name, value)
            out.append(item)
        return out

    def messages(self, name: str) -> list[Message]:
        value = None if self._query is not None else self._raw(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise _type_error(name, value)
        return [Message(v) for v in value]

    def raw_objects(self, name: str) -> list[dict[str, Any]]:
        """A repeated message field as plain dicts, for hot paths that check types themselves."""
        value = None if self._query is not None else self._raw(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise _type_error(name, value)
        return value

    def message(self, name: str) -> Message | None:
        value = None if self._query is not None else self._raw(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise _type_error(name, value)
        return Message(value)

    def enum(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        """Proto enums arrive as a name or as their 1-based number.

        Like MLflow, a value that is neither is ignored and the default applies.
        """
        value = self._raw(name)
        if isinstance(value, str) and value in allowed:
            return value
        number = value if isinstance(value, int) and not isinstance(value, bool) else None
        if isinstance(value, str) and value.isascii() and value.isdigit():
            number = int(value)
        if number is not None and 1 <= number <= len(allowed):
            return allowed[number - 1]
        return default


_decoder = msgspec.json.Decoder()

# For the depth check: every byte but brackets and quotes is dropped, and objects count as lists.
_NOT_STRUCTURE = bytes(range(256)).translate(None, b'[]{}"')
_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")
_QUOTED = re.compile(rb'"[^"]*"')


def _too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text nests arrays and objects more than ``limit`` deep.

    Only C-speed bytes operations, so a 1000-metric log-batch pays a fraction of its decode:
    strings are cut out (escapes first, then quote pairs), what is left is a bracket sequence,
    and each round strips its innermost pairs. A body the decoder will refuse anyway may be
    judged either way.
    """
    if b"\\" in body:  # drop escaped backslashes, then escaped quotes: only delimiters remain
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = body.translate(_AS_BRACKETS, _NOT_STRUCTURE)
    if len(brackets) - brackets.count(b'"') <= limit:
        return False  # fewer brackets than levels allowed
    brackets = brackets.replace(b'""', b"")  # strings without brackets (keeps quote parity)
    if b'"' in brackets:
        brackets = _QUOTED.sub(b"", brackets)
    for _ in range(limit):
        inner = brackets.replace(b"[]", b"")
        if not inner or len(inner) == len(brackets):
            return False  # all closed within the limit (or unbalanced: the decoder says so)
        brackets = inner
    return True


def _decode(body: bytes | str) -> Any:
    raw = body.encode() if isinstance(body, str) else body
    if _too_deep(raw):
        raise InvalidParameterValue(too_deep_message())
    try:
        return _decoder.decode(body)
    except RecursionError:  # unbalanced input the bracket count let through
        raise InvalidParameterValue(too_deep_message()) from None


async def read_message(request: Request) -> Message:
    """Decode the request: GET query args, or else the JSON body (empty body means ``{}``)."""
    path = request.path_params
    if request.method == "GET" and request.query_params:
        return Message({}, request.query_params, path)
    if request.method in ("POST", "PUT"):
        _require_json(request)
    body = await request.body()
    if not body.strip():
        return Message({}, path=path)
    try:
        data = _decode(body)
        if isinstance(data, str):  # legacy clients double-encode the body
            data = _decode(data)
    except msgspec.DecodeError:
        # MLflow reads an unparsable body as empty; the required-field checks then name what
        # is missing.
        return Message({}, path=path)
    if not isinstance(data, dict):
        raise InvalidParameterValue("Malformed request body: expected a JSON object.")
    return Message(data, path=path)


def query_message(request: Request) -> Message:
    """The message of a request whose body the handler streams itself: its query string (and
    the route's path parameters)."""
    return Message({}, request.query_params, request.path_params)


def _require_json(request: Request) -> None:
    content_type = request.headers.get("content-type")
    if content_type is None:
        raise InvalidParameterValue("Bad Request. Content-Type header is missing.")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise InvalidParameterValue(
            "Bad Request. Content-Type must be one of ['application/json']."
        )
