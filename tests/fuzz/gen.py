"""Small seeded generators of hostile request values: JSON, text, numbers, filters, raw bodies.

Everything draws from one ``random.Random``, so a seed gives the same sequence of cases every
time (the ids it points at come from the live fixture). What is generated is what a careless or
hostile client sends: wrong types, missing and extra fields, huge and negative numbers, the float
words, deep nesting, long strings, lone surrogates (invalid UTF-8 once encoded), and filter
strings assembled from the search grammar's own tokens so that they are nearly valid.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

FLOAT_WORDS = ["NaN", "Infinity", "-Infinity", "nan", "inf", "-inf", "1e400", "-0", "0x10"]
ODD_STRINGS = [
    "", " ", "0", "-1", "null", "true", "[]", "{}", "'", '"', "\\", "\x00", "é", "🙂", "²", "١",
    "⑦", "%", "%00", "%ff", "..", "../x", "/", "a/b", "a\\b", "x y", "\n", "\u202e", "\ud800",
]  # fmt: skip
BOUNDARY_INTS = [
    0, 1, -1, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64,
    10**30, 10**400,
]  # fmt: skip
KEYS = ["key", "k", "a.b", "a/b", "x y", "mlflow.runName", "mlflow.user", "../x", "k" * 251]
_ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyz0123456789_-. /",
    "".join(map(chr, range(32, 127))),
    "\x00\x01\x1f\x7f\t\r\n",
    "éüßñ中文字🙂😀\u0301\u200b\ufeff\u2028",
    "\ud800\udbff\udc00\udfff",  # lone surrogates: invalid UTF-8 once encoded with surrogatepass
]


class Gen:
    """A seeded source of values; ``rng`` is exposed for the callers' own choices."""

    def __init__(self, seed: str) -> None:
        self.rng = random.Random(seed)
        self.tame = False  # make plausible values (see tests/fuzz/fields.py)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, items: Sequence[T]) -> T:
        return items[self.rng.randrange(len(items))]

    def text(self, max_size: int = 24) -> str:
        alphabet = self.pick(_ALPHABETS)
        return "".join(self.rng.choices(alphabet, k=self.rng.randint(0, max_size)))

    def word(self) -> str:
        return "".join(self.rng.choices("abcdefghijklmnopqrstuvwxyz_-.", k=self.rng.randint(1, 12)))

    def hex(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def long_text(self) -> str:
        """A string from a few hundred characters to ~10 k (rarely 70 k or a megabyte)."""
        size = self.pick([300, 3_000, 9_000]) if self.chance(0.9) else self.pick([70_000, 1 << 20])
        unit = self.text(30) or "x"
        return unit * (size // len(unit) + 1)

    def integer(self) -> int:
        return int(
            self.pick(
                [
                    self.pick(BOUNDARY_INTS),
                    -self.pick(BOUNDARY_INTS),
                    self.rng.randint(-100, 100_000),
                    self.rng.randint(-(2**70), 2**70),
                ]
            )
        )

    def number(self) -> Any:
        return self.pick(
            [self.integer(), self.rng.uniform(-1e308, 1e308), self.rng.random(), 1e308, -0.0]
            + [self.pick(FLOAT_WORDS), float("nan"), float("inf"), -float("inf")]
        )

    def leaf(self) -> Any:
        kind = self.rng.randrange(9)
        if kind == 0:
            return self.pick([None, True, False])
        if kind == 1:
            return self.integer()
        if kind == 2:
            return self.number()
        if kind in (3, 4):
            return self.pick(ODD_STRINGS + FLOAT_WORDS)
        if kind == 8 and self.chance(0.3):
            return self.long_text()
        return self.text()

    def json(self, depth: int = 3) -> Any:
        """Any JSON value, a few levels deep."""
        if depth <= 0 or self.chance(0.55):
            return self.leaf()
        if self.chance(0.5):
            return [self.json(depth - 1) for _ in range(self.rng.randint(0, 4))]
        return {self.key(): self.json(depth - 1) for _ in range(self.rng.randint(0, 4))}

    def key(self) -> str:
        return self.pick(KEYS) if self.chance(0.3) else self.text(12)

    def deep(self) -> str:
        """A value nested past any sane depth (MLflow's client never nests more than 4): a
        placeholder that :func:`encode_json` writes out, as Python's encoder cannot."""
        return f"{_DEEP}{self.pick([64, 200, 970, 3000])}:{self.pick(['list', 'dict'])}"

    def many(self, item: Callable[[], Any], sizes: Sequence[int] = (0, 1, 2, 5)) -> list[Any]:
        """A list of ``item()``; rarely one far longer than a client sends (up to 2,500)."""
        size = self.pick(sizes) if not self.chance(0.04) else self.pick([200, 1_100, 2_500])
        if size > 50:  # long lists repeat a few values: the cost is in the server, not here
            few = [item() for _ in range(3)]
            return [few[i % 3] for i in range(size)]
        return [item() for _ in range(size)]


_DEEP = "\x00deep:"
_DEEP_JSON = re.compile(r'"\\u0000deep:(\d+):(list|dict)"')


def _nested(levels: int, kind: str) -> str:
    open_, close = ("[", "]") if kind == "list" else ('{"a":', "}")
    return open_ * levels + "1" + close * levels


def encode_json(value: Any) -> bytes:
    """JSON as a careless client writes it: NaN allowed, lone surrogates passed through."""
    text = json.dumps(value, allow_nan=True, ensure_ascii=False)
    text = _DEEP_JSON.sub(lambda m: _nested(int(m.group(1)), m.group(2)), text)
    return text.encode("utf-8", "surrogatepass")


# --- filter strings from the search grammar's tokens ------------------------------------------

RUN_IDENTIFIERS = [
    "metrics.a", "metric.`a b`", 'metrics."acc"', "params.p", 'param."q"', "parameters.lr",
    "tags.t", "tag.`mlflow.runName`", "attributes.status", "attribute.run_id", "attr.run_name",
    "run.user_id", "run_name", "`Run name`", "start_time", "end_time", "created", "artifact_uri",
    "datasets.name", "dataset.context", "datasets.digest", "foo.bar", "metrics.", "params",
    "attributes.nope", "lifecycle_stage", "attributes.run_id",
]  # fmt: skip
EXPERIMENT_IDENTIFIERS = [
    "name", "experiment_id", "creation_time", "last_update_time", "tags.t", "tag.`a b`",
    "attributes.name", "attribute.experiment_id", "lifecycle_stage", "foo", "metrics.a",
]  # fmt: skip
MODEL_IDENTIFIERS = [
    "name", "model_id", "status", "model_type", "source_run_id", "creation_timestamp_ms",
    "creation_time", "last_updated_timestamp", "attributes.name", "metrics.m", "params.p",
    "tags.t", "tags.`a b`", "datasets.name", "foo.bar", "lifecycle_stage",
]  # fmt: skip
REGISTERED_MODEL_IDENTIFIERS = [
    "name", "attributes.name", "tags.t", "tag.`a b`", "tags.`mlflow.prompt.is_prompt`",
    "timestamp", "last_updated_timestamp", "creation_timestamp", "version_number", "run_id",
    "foo", "tags.", "`name`",
]  # fmt: skip
MODEL_VERSION_IDENTIFIERS = [
    "name", "version_number", "run_id", "source_path", "attributes.version_number",
    "tags.t", "tag.`mlflow.prompt.is_prompt`", "creation_timestamp", "last_updated_timestamp",
    "timestamp", "current_stage", "source", "version", "foo.bar", "`version_number`",
]  # fmt: skip
COMPARATORS = ["=", "!=", ">", ">=", "<", "<=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL"]
COMPARATORS += ["IS NOT NULL", "IS", "NOT", "==", "<>", "like", "in"]
VALUES = ["'x'", '"y"', "1", "1.5", "-3", "1e400", "'%a_'", "('a', 'b')", "()", "('a')"]
VALUES += ["'fuzz-%'", "'None'", "'2'", "2147483648", "('1', 2)"]
VALUES += ["(1, 2)", "NULL", "''", "`z`", "0x10", "-", "'", "'NaN'", "NaN", "'é🙂'", "9" * 30]
GLUE = ["AND", "and", "OR", "(", ")", ",", ";", "--", "AND AND", "\n", "\t", "/*", "$$"]


def filter_string(g: Gen, identifiers: Sequence[str]) -> str:
    """A filter: token soup, or well-formed clauses with near-valid parts, rarely huge."""
    shape = g.rng.randrange(3, 9) if g.tame else g.rng.randrange(10)
    if shape < 3:
        tokens = [identifiers, COMPARATORS, VALUES, GLUE]
        return " ".join(
            g.pick(g.pick(tokens)) if g.chance(0.85) else g.text(8)
            for _ in range(g.rng.randint(0, 12))
        )

    def clause() -> str:
        return f"{g.pick(identifiers)} {g.pick(COMPARATORS)} {g.pick(VALUES)}"

    if shape == 9 and g.chance(0.3):  # very many clauses or a very long IN list
        if g.chance(0.5):
            return " AND ".join(clause() for _ in range(g.pick([200, 2_000])))
        items = ", ".join(f"'{i}'" for i in range(g.pick([1_000, 5_000, 20_000])))
        return f"{g.pick(identifiers)} IN ({items})"
    return " AND ".join(clause() for _ in range(g.rng.randint(1, 3)))


def order_by(g: Gen, identifiers: Sequence[str]) -> list[str]:
    def item() -> str:
        if g.tame:
            return g.pick(identifiers) + g.pick(["", " ASC", " DESC"])
        if g.chance(0.2):
            return g.text(15)
        return g.pick(identifiers) + g.pick(["", " ASC", " DESC", " desc", " X", " ASC DESC"])

    if g.tame:
        return [item() for _ in range(g.rng.randint(0, 2))]
    return g.many(item, (0, 1, 2, 3))


# --- raw bodies ---------------------------------------------------------------------------------

RAW_BODIES = [
    b"", b" ", b"null", b"[]", b"[1,2]", b'"x"', b"{", b"}", b'{"a":NaN}', b'{"a":1e999}',
    b"\xff\xfe", b"\xef\xbb\xbf{}", b'{"a":"\xff"}', b'{"a":1,"a":2}', b'"{\\"a\\": 1}"',
    b'{"experiment_id": "1"', b"{'a': 1}", b"\x00", b"true", b"0", b"-", b'{"":{}}',
]  # fmt: skip


def raw_body(g: Gen, structured: Callable[[], bytes]) -> bytes:
    """Bytes no well-behaved client sends: broken, deep, huge, wrongly encoded or random."""
    kind = g.rng.randrange(8)
    if kind == 0:
        return g.rng.randbytes(g.rng.randint(0, 300))
    if kind == 1:
        levels = g.pick([100, 970, 2_000, 20_000])
        open_, close = g.pick([(b"[", b"]"), (b'{"a":', b"}")])
        return open_ * levels + b"1" + close * levels
    if kind == 2:  # a structured body, cut short
        body = structured()
        return body[: g.rng.randint(0, max(0, len(body) - 1))]
    if kind == 3:  # a structured body in an encoding other than UTF-8
        return structured().decode("utf-8", "surrogatepass").encode("utf-16", "surrogatepass")
    if kind == 4:  # a structured body, double-encoded as legacy clients do
        return json.dumps(structured().decode("utf-8", "replace")).encode()
    if kind == 5:  # a number literal far beyond int64
        return b'{"max_results": 1' + b"0" * g.pick([30, 5_000]) + b"}"
    return bytes(g.pick(RAW_BODIES))
