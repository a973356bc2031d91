"""The request codec's JSON depth limit: exact at the limit, blind to brackets inside strings,
and cheap for a client-shaped 1000-metric log-batch body."""

from __future__ import annotations

import json
import random
import timeit

import msgspec
import pytest

from runyard.api.request import _decode, _too_deep
from runyard.domain.validation import MAX_JSON_DEPTH
from runyard.errors import InvalidParameterValue

N = MAX_JSON_DEPTH


def _lists(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def _mixed(depth: int) -> bytes:
    """Objects and arrays in turn, with brackets, quotes and backslashes inside strings."""
    text = "1"
    for level in range(depth):
        text = f'{{"k": {text}, "s": "]}}[{{"}}' if level % 2 else f'["x\\\\", {text}, "\\""]'
    return text.encode()


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@pytest.mark.parametrize("make", [_lists, _objects, _mixed])
def test_depth_at_the_limit_is_accepted_and_one_more_is_not(make):
    assert _depth(json.loads(make(N))) == N
    assert not _too_deep(make(N))
    assert _too_deep(make(N + 1))
    assert _depth(_decode(make(N))) == N
    with pytest.raises(InvalidParameterValue, match=f"more than {N} levels deep"):
        _decode(make(N + 1))


def test_brackets_inside_strings_do_not_count():
    hidden = b'["' + b"[" * 1000 + b'"]'
    assert not _too_deep(hidden)
    escaped = b'["\\"' + b"[" * 1000 + b'\\"", "\\\\"]'
    assert not _too_deep(escaped)
    # ... nor can strings full of closing brackets hide real depth
    sneaky = b'["]]]]",' * (N + 1) + b"1" + b"]" * (N + 1)
    assert _too_deep(sneaky)


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 100_000, _lists(5000)])
def test_far_too_deep_is_a_400_not_a_recursion_error(body):
    with pytest.raises(InvalidParameterValue, match=f"more than {N} levels deep"):
        _decode(body)


def test_double_encoded_bodies_are_checked_too():
    with pytest.raises(InvalidParameterValue, match="levels deep"):
        _decode(_decode(json.dumps(_lists(N + 1).decode()).encode()))


def test_cheap_for_a_1000_metric_log_batch():
    rng = random.Random(0)
    metrics = [
        {"key": f"loss_{i % 10}", "value": rng.random(), "timestamp": 1_700_000_000_000 + i,
         "step": i}
        for i in range(1000)
    ]  # fmt: skip
    body = json.dumps({"run_id": "a" * 32, "metrics": metrics, "params": [], "tags": []}).encode()
    decoder = msgspec.json.Decoder()
    decode = min(timeit.repeat(lambda: decoder.decode(body), number=50, repeat=5))
    check = min(timeit.repeat(lambda: _too_deep(body), number=50, repeat=5))
    assert not _too_deep(body)
    assert check < decode, (check, decode)
