"""Offset page tokens, as MLflow writes them for runs and experiments."""

from __future__ import annotations

import base64
import binascii
import json
from typing import TypeVar

from runyard.domain.entities import Page
from runyard.errors import InvalidParameterValue

T = TypeVar("T")

# --------------------------------------------------------------------------------------------
# Page tokens: base64 of ``{"offset": N}``, as SearchUtils.create_page_token writes them.

MAX_OFFSET = 2**63 - 1


def page_of(found: list[T], offset: int, max_results: int) -> Page[T]:
    """Turn an over-fetched result (``max_results + 1`` rows asked for) into one page.

    A token is returned only when the extra row proves there is more, as MLflow does.
    """
    if len(found) > max_results:
        return Page(found[:max_results], encode_page_token(offset + max_results))
    return Page(found)


def encode_page_token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode("utf-8")).decode("ascii")


def decode_page_token(token: str | None) -> int:
    """The offset a page token encodes; 0 for no token."""
    if not token:
        return 0
    try:
        decoded = base64.b64decode(token)
    except (binascii.Error, ValueError):
        raise InvalidParameterValue("Invalid page token, could not base64-decode") from None
    try:
        parsed = json.loads(decoded)
    except (ValueError, RecursionError):  # RecursionError: a token nested too deep
        raise InvalidParameterValue(f"Invalid page token, decoded value={decoded!r}") from None
    offset = parsed.get("offset") if isinstance(parsed, dict) else None
    if not offset:
        raise InvalidParameterValue(f"Invalid page token, parsed value={parsed!r}")
    try:
        number = int(offset)
    except (ValueError, TypeError, OverflowError):
        raise InvalidParameterValue(f"Invalid page token, not stringable {offset}") from None
    if not 0 <= number <= MAX_OFFSET:
        # MLflow hands these to the database, which fails or ignores them per dialect.
        raise InvalidParameterValue(f"Invalid page token, parsed value={parsed!r}")
    return number
