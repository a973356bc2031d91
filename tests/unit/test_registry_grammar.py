"""The model registry grammars against MLflow's own parser and SQL store.

The oracle is the installed ``mlflow``: ``SearchModelUtils`` / ``SearchModelVersionUtils``
``.parse_search_filter`` followed by the query ``SqlAlchemyStore`` builds from the result (the
store object is never connected; building a query touches no database). Which column an
attribute filter lands on and the value bound to it are read from that query, so the column
mapping is MLflow's, not a restatement of ours. order_by: the store's own
``_parse_search_*_order_by``, whose ORDER BY columns and directions are compared with ours.

Intentional divergences (normalised in ``assert_same``):
* inputs on which MLflow fails with a 500 (``IS [NOT] NULL``, which the registry parser
  unpacks into three tokens; an unparsable ``(...)`` list that is not a SyntaxError; unbalanced
  quotes in an order_by key; duplicate order_by fields): we answer 400 INVALID_PARAMETER_VALUE
  (same message where MLflow has one);
* ``=``/``LIKE``/... against a ``(...)`` list: MLflow's driver rejects it with a
  driver-specific 400 BAD_REQUEST; we raise BAD_REQUEST with our own words;
* "Invalid clause(s) in filter string: ..." lists sqlparse's token groups: only the leading
  text is compared; set-valued parts of messages print in a fixed order here (MLflow's is
  hash-seeded, so any order is one MLflow can print).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runyard.domain import search
from runyard.domain.search import Comparison, OrderKey
from runyard.errors import MlflowError

mlflow_search = pytest.importorskip("mlflow.utils.search_utils")
logging.getLogger("mlflow").setLevel(logging.ERROR)

import sqlalchemy as sa  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.store.model_registry.sqlalchemy_store import (  # noqa: E402
    SqlAlchemyStore as RegistryStore,
)
from sqlalchemy.sql import operators, visitors  # noqa: E402
from sqlalchemy.sql.elements import BindParameter  # noqa: E402

SearchModelUtils = mlflow_search.SearchModelUtils
SearchModelVersionUtils = mlflow_search.SearchModelVersionUtils

Outcome = tuple[Any, ...]

# Never connected: only its query-building methods are called.
_STORE = RegistryStore.__new__(RegistryStore)


# ------------------------------------------------------------------------------------------
# Oracles


def _where_terms(query: Any) -> list[Any]:
    where = query.whereclause
    return list(getattr(where, "clauses", [where]))


def _column_and_value(term: Any, table: str) -> tuple[str, Any]:
    """The column an attribute filter compares and the value bound to it, from MLflow's query."""
    elements = list(visitors.iterate(term))
    column = next(
        e for e in elements if isinstance(e, sa.Column) and getattr(e.table, "name", None) == table
    )
    bound = next(e for e in elements if isinstance(e, BindParameter))
    value = tuple(bound.value) if isinstance(bound.value, list) else bound.value
    return column.name, value


def _mlflow_filter(text: str | None, versions: bool) -> Outcome:
    table = "model_versions" if versions else "registered_models"
    try:
        if versions:
            parsed = SearchModelVersionUtils.parse_search_filter(text)
            query = _STORE._get_search_model_versions_filter_clauses(parsed, "sqlite")
        else:
            parsed = SearchModelUtils.parse_search_filter(text)
            query = _STORE._get_search_registered_model_filter_query(None, parsed, "sqlite")
    except MlflowException as exc:
        return ("err", exc.error_code, exc.message)
    except Exception as exc:  # MLflow's server answers these with a 500
        return ("crash", type(exc).__name__)
    terms = iter(_where_terms(query))  # attribute filters first, in clause order
    out = []
    for c in parsed:
        if c["type"] == "tag":
            out.append(("tag", c["key"], c["comparator"], c["value"]))
            continue
        column, value = _column_and_value(next(terms), table)
        if isinstance(value, tuple) and c["comparator"] not in ("IN", "NOT IN"):
            return ("err", "BAD_REQUEST", "driver rejects a list")
        out.append((c["type"], column, c["comparator"], value))
    return ("ok", out)


def mlflow_model_filter(text: str | None) -> Outcome:
    return _mlflow_filter(text, versions=False)


def mlflow_version_filter(text: str | None) -> Outcome:
    return _mlflow_filter(text, versions=True)


def _order_terms(terms: list[Any]) -> Outcome:
    out = []
    for term in terms:
        assert term.modifier in (operators.asc_op, operators.desc_op)
        out.append(("attribute", term.element.key, term.modifier is operators.asc_op))
    return ("ok", out)


def mlflow_model_order_by(clauses: list[str]) -> Outcome:
    try:
        terms = RegistryStore._parse_search_registered_models_order_by(clauses)
    except MlflowException as exc:
        return ("err", exc.error_code, exc.message)
    except Exception as exc:
        return ("crash", type(exc).__name__)
    return _order_terms(terms)


def mlflow_version_order_by(clauses: list[str]) -> Outcome:
    # search_model_versions substitutes its default for an empty order_by before parsing.
    try:
        terms = RegistryStore._parse_search_model_versions_order_by(
            clauses or MLFLOW_DEFAULT_VERSION_ORDER
        )
    except MlflowException as exc:
        return ("err", exc.error_code, exc.message)
    except Exception as exc:
        return ("crash", type(exc).__name__)
    return _order_terms(terms)


class _Captured(Exception):
    pass


def _default_version_order() -> list[str]:
    """The order_by search_model_versions passes on when the request has none."""
    seen: list[list[str]] = []

    def capture(order_by_list: list[str]) -> None:
        seen.append(list(order_by_list))
        raise _Captured

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RegistryStore, "_parse_search_model_versions_order_by", staticmethod(capture))
        # The filter is turned into a query first, which only asks for the dialect's name.
        engine = SimpleNamespace(dialect=SimpleNamespace(name="sqlite"))
        patch.setattr(_STORE, "engine", engine, raising=False)
        with pytest.raises(_Captured):
            _STORE.search_model_versions(order_by=[])
    return seen[0]


MLFLOW_DEFAULT_VERSION_ORDER = _default_version_order()


def ours(fn: Callable[[Any], list[Any]], arg: Any) -> Outcome:
    try:
        result = fn(arg)
    except MlflowError as exc:
        return ("err", exc.error_code, exc.message)
    if result and isinstance(result[0], OrderKey):
        return ("ok", [(k.entity, k.key, k.ascending) for k in result])
    return ("ok", [(c.entity, c.key, c.comparator, c.value) for c in result])


def _sorted_sets(message: str) -> str:
    return re.sub(
        r"\{([^{}]*)\}", lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", message
    )


def assert_same(theirs: Outcome, mine: Outcome) -> None:
    if theirs[0] == "crash":  # intentional: a 400 where MLflow answers 500
        assert mine[:2] == ("err", "INVALID_PARAMETER_VALUE"), (theirs, mine)
        return
    if theirs[0] == "ok" or mine[0] == "ok":
        assert mine == theirs
        return
    if theirs[1] == "INTERNAL_ERROR" and theirs[2].startswith("`order_by` contains duplicate"):
        theirs = ("err", "INVALID_PARAMETER_VALUE", theirs[2])  # intentional: 400, not 500
    assert mine[1] == theirs[1], (theirs, mine)
    if theirs[1] == "BAD_REQUEST":
        return
    if theirs[2].startswith("Invalid clause(s) in filter string:"):
        assert mine[2].startswith("Invalid clause(s) in filter string:"), (theirs, mine)
        return
    assert _sorted_sets(mine[2]) == _sorted_sets(theirs[2])


def C(entity: str, key: str, comparator: str, value: Any) -> Comparison:  # noqa: N802
    return Comparison(entity, key, comparator, value)


def K(key: str, ascending: bool) -> OrderKey:  # noqa: N802
    return OrderKey("attribute", key, ascending)


# ------------------------------------------------------------------------------------------
# Registered models: filters


MODEL_ACCEPTED: list[tuple[str | None, list[Comparison]]] = [
    (None, []),
    ("", []),
    ("name = 'm'", [C("attribute", "name", "=", "m")]),
    ('name != "m"', [C("attribute", "name", "!=", "m")]),
    ("attribute.name LIKE 'm%'", [C("attribute", "name", "LIKE", "m%")]),
    ("name ilike '%M'", [C("attribute", "name", "ILIKE", "%M")]),
    ("name IN ('a', 'b')", [C("attribute", "name", "IN", ("a", "b"))]),
    ("name not in ('a')", [C("attribute", "name", "NOT IN", ("a",))]),
    ("tags.t = 'v'", [C("tag", "t", "=", "v")]),
    ("tag.t != 'v'", [C("tag", "t", "!=", "v")]),
    ("tags.`a b` LIKE 'v%'", [C("tag", "a b", "LIKE", "v%")]),
    ("tags.\"a.b\" ILIKE 'v'", [C("tag", "a.b", "ILIKE", "v")]),
    (
        "tags.`mlflow.prompt.is_prompt` = 'true'",
        [C("tag", "mlflow.prompt.is_prompt", "=", "true")],
    ),
    (
        "name = 'm' AND tags.t = 'v' and tags.u != 'w'",
        [C("attribute", "name", "=", "m"), C("tag", "t", "=", "v"), C("tag", "u", "!=", "w")],
    ),
]


@pytest.mark.parametrize(("text", "expected"), MODEL_ACCEPTED)
def test_registered_model_filters_accepted(text: str | None, expected: list[Comparison]) -> None:
    assert search.parse_registered_model_filter(text) == expected
    assert_same(mlflow_model_filter(text), ours(search.parse_registered_model_filter, text))


MODEL_NAME_KEYS = "{'name'}"
REGISTRY_ENTITIES = "('attribute', 'tag', 'tags')"

MODEL_REFUSED = [
    (
        "`name` = 'm'",
        f"Invalid attribute key '`name`' specified. Valid keys are '{MODEL_NAME_KEYS}'",
    ),
    (
        "creation_timestamp > 1",
        f"Invalid attribute key 'creation_timestamp' specified. Valid keys are '{MODEL_NAME_KEYS}'",
    ),
    (
        "attributes.name = 'm'",
        f"Invalid entity type 'attributes'. Valid entity types are {REGISTRY_ENTITIES}",
    ),
    ("params.p = 'm'", f"Invalid entity type 'params'. Valid entity types are {REGISTRY_ENTITIES}"),
    ("name > 'm'", "Invalid comparator for attribute: >"),
    ("name RLIKE 'm'", "Invalid comparator for attribute: RLIKE"),
    ("tags.t > 'v'", "Invalid comparator for tag: >"),
    ("tags.t NOT LIKE 'v'", "Invalid comparator for tag: NOT LIKE"),
    (
        "tags.t IN ('v')",
        "Expected a quoted string value for tag (e.g. 'my-value'). Got value ('v')",
    ),
    (
        "name = 1",
        "Expected a quoted string value or a list of quoted string values for attributes. "
        "Got value 1",
    ),
    (
        "name = m",
        "Parameter value is either not quoted or unidentified quote types used for string "
        "value m. Use either single or double quotes.",
    ),
    ("name = 'a' OR name = 'b'", "Invalid clause(s) in filter string: OR"),
    (
        "name IN ()",
        "While parsing a list in the query, expected a non-empty list of string values, "
        "but got empty list",
    ),
    (
        "name IN ('a', 1)",
        "While parsing a list in the query, expected string value, punctuation, or "
        "whitespace, but got different type in list: ('a', 1)",
    ),
    (
        "name = 'a'; name = 'b'",
        "Search filter contained multiple expression \"name = 'a'; name = 'b'\". "
        "Provide AND-ed expression list.",
    ),
    ("'m' = name", "Invalid comparison clause. Expected 'Identifier' found ''m''"),
    # MLflow: a 500 (ValueError); runyard: a 400 that says why.
    (
        "tags.t IS NULL",
        "Invalid comparison clause 'tags.t IS NULL': IS NULL / IS NOT NULL is not supported "
        "in model registry searches.",
    ),
]


@pytest.mark.parametrize(("text", "message"), MODEL_REFUSED)
def test_registered_model_filters_refused(text: str, message: str) -> None:
    with pytest.raises(MlflowError) as info:
        search.parse_registered_model_filter(text)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert info.value.message == message
    assert_same(mlflow_model_filter(text), ours(search.parse_registered_model_filter, text))


@pytest.mark.parametrize("text", ["name = ('a', 'b')", "name LIKE ('a')"])
def test_registered_model_list_with_scalar_comparator_is_bad_request(text: str) -> None:
    with pytest.raises(MlflowError) as info:
        search.parse_registered_model_filter(text)
    assert info.value.error_code == "BAD_REQUEST"
    assert mlflow_model_filter(text)[:2] == ("err", "BAD_REQUEST")


def test_syntax_errors_come_before_comparator_errors() -> None:
    # MLflow parses every clause before its store checks any comparator.
    text = "name > 'm' AND name = 1"
    assert ours(search.parse_registered_model_filter, text)[2].startswith("Expected a quoted")
    assert_same(mlflow_model_filter(text), ours(search.parse_registered_model_filter, text))


# ------------------------------------------------------------------------------------------
# Model versions: filters


VERSION_ACCEPTED: list[tuple[str | None, list[Comparison]]] = [
    (None, []),
    ("name = 'm'", [C("attribute", "name", "=", "m")]),
    ("version_number = 3", [C("attribute", "version", "=", 3)]),
    ("version_number > 3", [C("attribute", "version", ">", 3)]),
    ("version_number <= '3'", [C("attribute", "version", "<=", 3)]),
    ("version_number != -1", [C("attribute", "version", "!=", -1)]),
    ("run_id = 'r1'", [C("attribute", "run_id", "=", "r1")]),
    ("run_id IN ('a', 'b')", [C("attribute", "run_id", "IN", ("a", "b"))]),
    ("run_id NOT IN ('a')", [C("attribute", "run_id", "NOT IN", ("a",))]),
    ("name IN ('a')", [C("attribute", "name", "IN", ("a",))]),
    ("source_path = 's3://b/k'", [C("attribute", "source", "=", "s3://b/k")]),
    ("source_path LIKE '%k'", [C("attribute", "source", "LIKE", "%k")]),
    ("attribute.source_path ILIKE '%K'", [C("attribute", "source", "ILIKE", "%K")]),
    ("tags.t = 'v'", [C("tag", "t", "=", "v")]),
    (
        "name = 'm' AND version_number >= 2 AND tag.t LIKE 'v%'",
        [
            C("attribute", "name", "=", "m"),
            C("attribute", "version", ">=", 2),
            C("tag", "t", "LIKE", "v%"),
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), VERSION_ACCEPTED)
def test_model_version_filters_accepted(text: str | None, expected: list[Comparison]) -> None:
    assert search.parse_model_version_filter(text) == expected
    assert_same(mlflow_version_filter(text), ours(search.parse_model_version_filter, text))


VERSION_KEYS = "{'name', 'version_number', 'run_id', 'source_path'}"
NUMERIC_KEYS = "{'version_number', 'creation_timestamp', 'last_updated_timestamp'}"

VERSION_REFUSED = [
    ("version_number = 3.0", "Invalid value for numeric attribute 'version_number': 3.0"),
    ("version_number = 'x'", "Invalid value for numeric attribute 'version_number': 'x'"),
    ("version_number LIKE '3'", "Invalid comparator for attribute version_number: LIKE"),
    (
        "version_number IN (1, 2)",
        "Only ['name', 'run_id'] attributes support comparison with a list of quoted string "
        "values.",
    ),
    (
        "source_path IN ('a')",
        "Only ['name', 'run_id'] attributes support comparison with a list of quoted string "
        "values.",
    ),
    (
        "run_id = 3",
        f"Only the '{NUMERIC_KEYS}' attributes support comparison with numeric values.",
    ),
    ("run_id > 'a'", "Invalid comparator for attribute: >"),
    (
        "creation_timestamp > 0",
        f"Invalid attribute key 'creation_timestamp' specified. Valid keys are '{VERSION_KEYS}'",
    ),
    ("tags.t < 'v'", "Invalid comparator for tag: <"),
    (
        "version_number = 0x1",
        "Invalid clause(s) in filter string: version_number, =, 0x1",
    ),
    (
        "tags.t IS NOT NULL",
        "Invalid comparison clause 'tags.t IS NOT NULL': IS NULL / IS NOT NULL is not "
        "supported in model registry searches.",
    ),
]


@pytest.mark.parametrize(("text", "message"), VERSION_REFUSED)
def test_model_version_filters_refused(text: str, message: str) -> None:
    with pytest.raises(MlflowError) as info:
        search.parse_model_version_filter(text)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert info.value.message == message
    assert_same(mlflow_version_filter(text), ours(search.parse_model_version_filter, text))


@pytest.mark.parametrize("text", ["run_id = ('a', 'b')", "name != ('a')"])
def test_model_version_list_with_scalar_comparator_is_bad_request(text: str) -> None:
    with pytest.raises(MlflowError) as info:
        search.parse_model_version_filter(text)
    assert info.value.error_code == "BAD_REQUEST"
    assert mlflow_version_filter(text)[:2] == ("err", "BAD_REQUEST")


def test_huge_version_numbers_are_a_400() -> None:
    # MLflow: int() of 5,000 digits raises ValueError, a 500.
    text = "version_number > " + "9" * 5000
    with pytest.raises(MlflowError) as info:
        search.parse_model_version_filter(text)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert mlflow_version_filter(text)[0] == "crash"


# ------------------------------------------------------------------------------------------
# order_by


MODEL_ORDER_ACCEPTED: list[tuple[list[str], list[OrderKey]]] = [
    ([], [K("name", True)]),
    (["name"], [K("name", True)]),
    (["name DESC"], [K("name", False)]),
    (["`name` asc"], [K("name", True)]),
    (["timestamp"], [K("last_updated_time", True), K("name", True)]),
    (["timestamp desc"], [K("last_updated_time", False), K("name", True)]),
    (["timestamp  DESC"], [K("last_updated_time", False), K("name", True)]),
    (["last_updated_timestamp DESC"], [K("last_updated_time", False), K("name", True)]),
    (["name DESC", "timestamp ASC"], [K("name", False), K("last_updated_time", True)]),
]


@pytest.mark.parametrize(("clauses", "expected"), MODEL_ORDER_ACCEPTED)
def test_registered_model_order_by_accepted(clauses: list[str], expected: list[OrderKey]) -> None:
    assert search.parse_registered_model_order_by(clauses) == expected
    assert_same(
        mlflow_model_order_by(clauses), ours(search.parse_registered_model_order_by, clauses)
    )


MODEL_ORDER_KEYS = "{'name', 'timestamp'}"

MODEL_ORDER_REFUSED = [
    (
        ["creation_timestamp"],
        f"Invalid order by key 'creation_timestamp' specified. Valid keys are '{MODEL_ORDER_KEYS}'",
    ),
    (
        ["attribute.name"],
        f"Invalid order by key 'attribute.name' specified. Valid keys are '{MODEL_ORDER_KEYS}'",
    ),
    (["tags.t"], f"Invalid order by key 'tags.t' specified. Valid keys are '{MODEL_ORDER_KEYS}'"),
    (["`name`"], f"Invalid order by key '`name`' specified. Valid keys are '{MODEL_ORDER_KEYS}'"),
    (["TIMESTAMP"], "Invalid order_by clause 'TIMESTAMP'. Could not be parsed."),
    (
        ["timestamp DESC NULLS LAST"],
        "Invalid order_by clause 'timestamp DESC NULLS LAST'. Could not be parsed.",
    ),
    ([""], "Invalid order_by clause ''. Could not be parsed."),
    (["name up"], "Invalid ordering key in order_by clause 'name up'."),
    (
        ["timestamp", "last_updated_timestamp DESC"],
        "`order_by` contains duplicate fields: ['timestamp', 'last_updated_timestamp DESC']",
    ),
]


@pytest.mark.parametrize(("clauses", "message"), MODEL_ORDER_REFUSED)
def test_registered_model_order_by_refused(clauses: list[str], message: str) -> None:
    with pytest.raises(MlflowError) as info:
        search.parse_registered_model_order_by(clauses)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert info.value.message == message
    assert_same(
        mlflow_model_order_by(clauses), ours(search.parse_registered_model_order_by, clauses)
    )


def test_model_version_default_order_is_mlflows() -> None:
    assert MLFLOW_DEFAULT_VERSION_ORDER == [
        "last_updated_timestamp DESC",
        "name ASC",
        "version_number DESC",
    ]
    assert search.parse_model_version_order_by([]) == search.parse_model_version_order_by(
        MLFLOW_DEFAULT_VERSION_ORDER
    )


VERSION_ORDER_ACCEPTED: list[tuple[list[str], list[OrderKey]]] = [
    ([], [K("last_updated_time", False), K("name", True), K("version", False)]),
    (["name"], [K("name", True), K("version", False)]),
    (["version_number ASC"], [K("version", True), K("name", True)]),
    (
        ["creation_timestamp DESC"],
        [K("creation_time", False), K("name", True), K("version", False)],
    ),
    (
        ["last_updated_timestamp", "version_number DESC", "name DESC"],
        [K("last_updated_time", True), K("version", False), K("name", False)],
    ),
    (["attribute.version_number"], [K("version", True), K("name", True)]),
    # MLflow reads the key of a tag as a column: ``tags.name`` orders by the name.
    (["tags.name DESC"], [K("name", False), K("version", False)]),
]


@pytest.mark.parametrize(("clauses", "expected"), VERSION_ORDER_ACCEPTED)
def test_model_version_order_by_accepted(clauses: list[str], expected: list[OrderKey]) -> None:
    assert search.parse_model_version_order_by(clauses) == expected
    assert_same(
        mlflow_version_order_by(clauses), ours(search.parse_model_version_order_by, clauses)
    )


VERSION_ORDER_KEYS = "{'name', 'version_number', 'creation_timestamp', 'last_updated_timestamp'}"

VERSION_ORDER_REFUSED = [
    (
        ["timestamp"],
        f"Invalid attribute key 'timestamp' specified. Valid keys are '{VERSION_ORDER_KEYS}'",
    ),
    (
        ["run_id DESC"],
        f"Invalid attribute key 'run_id' specified. Valid keys are '{VERSION_ORDER_KEYS}'",
    ),
    (["tags.t"], f"Invalid order by key 't' specified. Valid keys are {VERSION_ORDER_KEYS}"),
    (
        ["params.p"],
        f"Invalid entity type 'params'. Valid entity types are {REGISTRY_ENTITIES}",
    ),
    (
        ["version_number sideways"],
        "Invalid ordering key in order_by clause 'version_number sideways'.",
    ),
    (
        ["name", "tags.name DESC"],
        "`order_by` contains duplicate fields: ['name', 'tags.name DESC']",
    ),
]


@pytest.mark.parametrize(("clauses", "message"), VERSION_ORDER_REFUSED)
def test_model_version_order_by_refused(clauses: list[str], message: str) -> None:
    with pytest.raises(MlflowError) as info:
        search.parse_model_version_order_by(clauses)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert info.value.message == message
    assert_same(
        mlflow_version_order_by(clauses), ours(search.parse_model_version_order_by, clauses)
    )


def test_unbalanced_quotes_in_order_by_are_a_400() -> None:
    clauses = ['"name DESC']
    for theirs, parse in (
        (mlflow_model_order_by, search.parse_registered_model_order_by),
        (mlflow_version_order_by, search.parse_model_version_order_by),
    ):
        mine = ours(parse, clauses)
        assert mine[:2] == ("err", "INVALID_PARAMETER_VALUE")
        assert_same(theirs(clauses), mine)


# ------------------------------------------------------------------------------------------
# Generated input


WS = st.sampled_from([" ", " ", "  ", "\t", "\n"])
KEYS = st.sampled_from(
    [
        "name",
        "attribute.name",
        "attributes.name",
        "`name`",
        '"name"',
        "version_number",
        "attribute.version_number",
        "run_id",
        "source_path",
        "creation_timestamp",
        "last_updated_timestamp",
        "timestamp",
        "version",
        "source",
        "tags.t",
        "tag.t",
        "tags.`a b`",
        'tags."a.b"',
        "tags.mlflow.prompt.is_prompt",
        "tags.name",
        "`tags`.t",
        "params.p",
        "metrics.m",
        "foo",
        "Name",
    ]
)
COMPARATORS = st.sampled_from(
    ["=", "!=", "<", "<=", ">", ">=", "==", "<>", "LIKE", "like", "ILIKE", "NOT LIKE", "RLIKE"]
)
VALUES = st.sampled_from(
    [
        "'a'",
        '"a"',
        "'3'",
        "' 3'",
        "'x'",
        "''",
        "'a%'",
        "3",
        "-1",
        "3.0",
        "1e3",
        "0x1F",
        "x",
        "NULL",
        "TRUE",
        "`a`",
    ]
)
LISTS = st.sampled_from(["('a')", "('a', 'b')", "('a',)", "()", "(1, 2)", "('a', 1)", "(x)"])
COMPARISONS = st.builds(lambda k, w, c, v: f"{k}{w}{c}{w}{v}", KEYS, WS, COMPARATORS, VALUES)
LIST_COMPARISONS = st.builds(
    lambda k, w, c, v: f"{k}{w}{c}{w}{v}",
    KEYS,
    WS,
    st.sampled_from(["IN", "in", "NOT IN", "not in", "=", "LIKE"]),
    LISTS,
)
NULL_TESTS = st.builds(lambda k, n: f"{k} {n}", KEYS, st.sampled_from(["IS NULL", "IS NOT NULL"]))
# Mostly plain comparisons: a NULL test (a 500 in MLflow) anywhere decides the outcome.
CLAUSES = st.one_of(COMPARISONS, COMPARISONS, COMPARISONS, LIST_COMPARISONS, NULL_TESTS)
SEPARATORS = st.sampled_from([" AND ", " and ", " OR ", " ", ", ", "; "])


@st.composite
def filters(draw: st.DrawFn) -> str:
    clauses = draw(st.lists(CLAUSES, min_size=1, max_size=3))
    text = clauses[0]
    for clause in clauses[1:]:
        text += draw(SEPARATORS) + clause
    return text


SLOW = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SLOW
@given(filters())
def test_generated_registered_model_filters_match_mlflow(text: str) -> None:
    assert_same(mlflow_model_filter(text), ours(search.parse_registered_model_filter, text))


@SLOW
@given(filters())
def test_generated_model_version_filters_match_mlflow(text: str) -> None:
    assert_same(mlflow_version_filter(text), ours(search.parse_model_version_filter, text))


ORDER_KEYS = st.sampled_from(
    [
        "name",
        "`name`",
        '"name"',
        "timestamp",
        "Timestamp",
        "TIMESTAMP",
        "last_updated_timestamp",
        "creation_timestamp",
        "version_number",
        "attribute.version_number",
        "attribute.name",
        "tags.name",
        "tag.creation_timestamp",
        "tags.t",
        "params.p",
        "run_id",
        "`last_updated_timestamp`",
    ]
)
ORDER_CLAUSES = st.builds(
    lambda k, d: k + d,
    ORDER_KEYS,
    st.sampled_from(
        ["", " ASC", " desc", "  DESC", " DESC NULLS LAST", " nulls first", " up", " "]
    ),
)


@SLOW
@given(st.lists(ORDER_CLAUSES, max_size=3))
def test_generated_order_by_match_mlflow(clauses: list[str]) -> None:
    assert_same(
        mlflow_model_order_by(clauses), ours(search.parse_registered_model_order_by, clauses)
    )
    assert_same(
        mlflow_version_order_by(clauses), ours(search.parse_model_version_order_by, clauses)
    )
