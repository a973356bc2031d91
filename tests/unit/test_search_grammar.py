"""The search grammar against MLflow's own parser.

The oracle is the installed ``mlflow``: ``SearchUtils.parse_search_filter`` followed by the
comparator checks ``SqlAlchemyStore`` applies while building its query (called with an unbound
session, so nothing touches a database), and the same for experiments and order_by.

Intentional divergences, each excluded from the property tests by construction:
* inputs on which MLflow fails with a 500 (duplicate order_by fields, an unparsable
  ``IN (...)`` list that is not a SyntaxError, unbalanced quotes in an order_by key,
  integers of thousands of digits, non-dict page tokens): we answer 400
  INVALID_PARAMETER_VALUE (same message where MLflow has one);
* ``=``/``LIKE``/... against a ``(...)`` list: MLflow's driver rejects it with a
  driver-specific 400 BAD_REQUEST message; we raise BAD_REQUEST with our own words;
* SQL-only syntax that MLflow's tokenizer folds into a key (``tags.a AS b``, ``tags.a::int``)
  or bare SQL keywords in malformed positions: we treat a subset of SQL keywords as keywords;
* where MLflow's message lists sqlparse's token groups ("Invalid clause(s) in filter string:
  ...") only the leading text is compared; set-valued parts of messages print in a fixed
  order (MLflow's is hash-seeded, so any order is one MLflow can print).
"""

from __future__ import annotations

import base64
import json
import logging
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from runyard.domain import search
from runyard.domain.search import Comparison, OrderKey
from runyard.errors import MlflowError

mlflow_search = pytest.importorskip("mlflow.utils.search_utils")
logging.getLogger("mlflow").setLevel(logging.ERROR)

from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.store.tracking import sqlalchemy_store as mlflow_store  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

SearchUtils = mlflow_search.SearchUtils
SearchExperimentsUtils = mlflow_search.SearchExperimentsUtils

Outcome = tuple[Any, ...]


# ------------------------------------------------------------------------------------------
# Oracles


def mlflow_run_filter(text: str) -> Outcome:
    try:
        parsed = SearchUtils.parse_search_filter(text)
        mlflow_store._get_sqlalchemy_filter_clauses(parsed, Session(), "sqlite")
    except MlflowException as exc:
        return ("err", exc.error_code, exc.message)
    out = []
    for c in parsed:
        comparator, value = c["comparator"].upper(), c["value"]
        key = SearchUtils.translate_key_alias(c["key"])  # the store does so for every type
        if c["type"] == "metric":
            value = float(value)
        if isinstance(value, tuple) and comparator not in ("IN", "NOT IN"):
            return ("err", "BAD_REQUEST", "driver rejects a list")
        out.append((c["type"], key, comparator, value))
    return ("ok", out)


def mlflow_experiment_filter(text: str) -> Outcome:
    try:
        parsed = SearchExperimentsUtils.parse_search_filter(text)
        mlflow_store._get_search_experiments_filter_clauses(parsed, "sqlite")
    except MlflowException as exc:
        return ("err", exc.error_code, exc.message)
    out = []
    for c in parsed:
        value = c["value"]
        if c["key"] == "experiment_id" and c["type"] == "attribute":
            value = tuple(int(v) for v in value) if isinstance(value, tuple) else int(value)
            if isinstance(value, tuple) and c["comparator"] not in ("IN", "NOT IN"):
                return ("err", "BAD_REQUEST", "driver rejects a list")
        out.append((c["type"], c["key"], c["comparator"], value))
    return ("ok", out)


def mlflow_run_order_by(clauses: list[str]) -> Outcome:
    try:
        _, _, joins = mlflow_store._get_orderby_clauses(clauses, Session())
    except MlflowException as exc:
        return ("err", exc.error_code, exc.message)
    out = []
    for clause in clauses:
        entity, key, ascending = SearchUtils.parse_order_by_for_search_runs(clause)
        out.append((entity, SearchUtils.translate_key_alias(key), ascending))
    return ("ok", out)


def mlflow_experiment_order_by(clauses: list[str]) -> Outcome:
    try:
        mlflow_store._get_search_experiments_order_by_clauses(clauses)
    except MlflowException as exc:
        return ("err", exc.error_code, exc.message)
    parse = SearchExperimentsUtils.parse_order_by_for_search_experiments
    return ("ok", [parse(c) for c in clauses])


def ours(fn: Any, arg: Any) -> Outcome:
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


# ------------------------------------------------------------------------------------------
# Examples: every comparator, type and alias


def C(entity: str, key: str, comparator: str, value: Any) -> Comparison:  # noqa: N802
    return Comparison(entity, key, comparator, value)


ACCEPTED = [
    ("metrics.acc > 0.5", [C("metric", "acc", ">", 0.5)]),
    ("metric.acc >= 1", [C("metric", "acc", ">=", 1.0)]),
    ("metrics.acc = -1.5e-3", [C("metric", "acc", "=", -1.5e-3)]),
    ("metrics.acc != .5", [C("metric", "acc", "!=", 0.5)]),
    ("metrics.acc < 5.", [C("metric", "acc", "<", 5.0)]),
    ("metrics.acc <= 1E3", [C("metric", "acc", "<=", 1000.0)]),
    ("params.lr = '0.1'", [C("parameter", "lr", "=", "0.1")]),
    ('param.lr != "0.1"', [C("parameter", "lr", "!=", "0.1")]),
    ("parameter.lr LIKE '0.%'", [C("parameter", "lr", "LIKE", "0.%")]),
    ("parameters.lr ilike '0.%'", [C("parameter", "lr", "ILIKE", "0.%")]),
    ("params.lr IS NULL", [C("parameter", "lr", "IS NULL", None)]),
    ("params.lr is not null", [C("parameter", "lr", "IS NOT NULL", None)]),
    ("tags.t = 'x'", [C("tag", "t", "=", "x")]),
    ("tag.t IS NOT NULL", [C("tag", "t", "IS NOT NULL", None)]),
    ("tags.`mlflow.runName` = 'r'", [C("tag", "mlflow.runName", "=", "r")]),
    ("tags.\"a b\" = 'r'", [C("tag", "a b", "=", "r")]),
    ("tags.mlflow.source.type = 'LOCAL'", [C("tag", "mlflow.source.type", "=", "LOCAL")]),
    ("attributes.status = 'FINISHED'", [C("attribute", "status", "=", "FINISHED")]),
    ("attribute.user_id LIKE 'a%'", [C("attribute", "user_id", "LIKE", "a%")]),
    ("attr.artifact_uri != 'x'", [C("attribute", "artifact_uri", "!=", "x")]),
    ("run.run_name ILIKE '%x%'", [C("attribute", "run_name", "ILIKE", "%x%")]),
    ("status = 'RUNNING'", [C("attribute", "status", "=", "RUNNING")]),
    ("`run name` = 'a'", [C("attribute", "run_name", "=", "a")]),
    ("\"Run Name\" = 'a'", [C("attribute", "run_name", "=", "a")]),
    ("`Run name` = 'a'", [C("attribute", "run_name", "=", "a")]),
    ("run_id IN ('a', \"b\")", [C("attribute", "run_id", "IN", ("a", "b"))]),
    ("attributes.run_id not in ('a',)", [C("attribute", "run_id", "NOT IN", ("a",))]),
    ("start_time > 5", [C("attribute", "start_time", ">", 5)]),
    ("end_time <= 5.5", [C("attribute", "end_time", "<=", 5.5)]),
    ("created >= 0", [C("attribute", "start_time", ">=", 0)]),
    ("Created < 0", [C("attribute", "start_time", "<", 0)]),
    ("datasets.name = 'd'", [C("dataset", "name", "=", "d")]),
    ("dataset.digest IN ('a', 'b')", [C("dataset", "digest", "IN", ("a", "b"))]),
    ("datasets.context NOT IN ('eval')", [C("dataset", "context", "NOT IN", ("eval",))]),
    ("datasets.context LIKE 'tr%'", [C("dataset", "context", "LIKE", "tr%")]),
    (
        "metrics.a > 1 and params.b = 'x' AND tags.c IS NULL",
        [
            C("metric", "a", ">", 1.0),
            C("parameter", "b", "=", "x"),
            C("tag", "c", "IS NULL", None),
        ],
    ),
    ("", []),
    (None, []),
    # MLflow's tokenizer quirks, reproduced
    ("params.p = 'it''s'", [C("parameter", "p", "=", "it''s")]),
    ("metrics.a > 1 metrics.b > 2", [C("metric", "a", ">", 1.0), C("metric", "b", ">", 2.0)]),
    ("AND metrics.a > 1 AND", [C("metric", "a", ">", 1.0)]),
    ("metrics. a > 1", [C("metric", " a", ">", 1.0)]),
    ("tags.a DESC = 'x'", [C("tag", "a DESC", "=", "x")]),
    ("run_id IN ('a' 'b')", [C("attribute", "run_id", "IN", ("ab",))]),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_accepted(text: str | None, expected: list[Comparison]) -> None:
    assert search.parse_run_filter(text) == expected
    if text:
        assert_same(mlflow_run_filter(text), ours(search.parse_run_filter, text))


METRIC_SET = "{'>', '>=', '!=', '=', '<', '<='}"
PARAM_SET = "{'!=', '=', 'LIKE', 'ILIKE', 'IS NULL', 'IS NOT NULL'}"
STRING_SET = "{'!=', '=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'}"

REJECTED = [
    ("a = 1 OR b = 2", "Invalid clause(s) in filter string: 'OR'"),
    ("(metrics.a > 1)", "Invalid clause(s) in filter string: '(metrics.a > 1)'"),
    ("metrics.a > 1;", "Invalid clause(s) in filter string: ';'"),
    (
        "metrics.a > 1; metrics.b > 1",
        "Search filter contained multiple expression 'metrics.a > 1; metrics.b > 1'. "
        "Provide AND-ed expression list.",
    ),
    ("  ", "Invalid filter '  '. Could not be parsed."),
    (
        "metrics.a-b > 1",
        "Invalid comparison clause. Expected 'Identifier' found 'metrics.a-b'",
    ),
    ("metrics.acc > '1'", "Expected numeric value type for metric. Found '1'"),
    ("metrics.acc > x", "Expected numeric value type for metric. Found x"),
    (
        "params.p = 1",
        "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 1",
    ),
    ("tags.t = 1", "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1"),
    (
        "params.p = x",
        "Parameter value is either not quoted or unidentified quote types used for string "
        "value x. Use either single or double quotes.",
    ),
    ("status = 1", "Expected a quoted string value for attributes. Got value 1"),
    (
        "start_time = '1'",
        "Expected numeric value type for numeric attribute: start_time. Found '1'",
    ),
    (
        "datasets.name = 1",
        "Expected a quoted string value for dataset attributes. Got value 1",
    ),
    (
        "status IN ('a')",
        "Only ['run_id'] attributes support comparison with a list of quoted string values.",
    ),
    (
        "run_id IN ()",
        "While parsing a list in the query, expected a non-empty list of string values, "
        "but got empty list",
    ),
    (
        "run_id IN (1, 2)",
        "While parsing a list in the query, expected string value, punctuation, or "
        "whitespace, but got different type in list: (1, 2)",
    ),
    (
        "run_id IN ('a' 1)",
        "While parsing a list in the query, expected a non-empty list of string values, "
        "but got ill-formed list.",
    ),
    (
        "foo.bar = 'x'",
        "Invalid entity type 'foo'. Valid values are "
        "['metric', 'parameter', 'tag', 'attribute', 'dataset']",
    ),
    (
        "lifecycle_stage = 'active'",
        "Invalid attribute key 'lifecycle_stage' specified. Valid keys are "
        "'{'artifact_uri', 'end_time', 'run_id', 'run_name', 'start_time', 'status', "
        "'user_id', 'created', 'Created', 'run name', 'Run name', 'Run Name'}'",
    ),
    (
        "datasets.foo = 'x'",
        "Invalid dataset key 'foo' specified. Valid keys are '{'name', 'digest', 'context'}'",
    ),
    (
        "metrics.a IS NULL",
        "IS NULL / IS NOT NULL is only supported for tags and params, not for 'metric' 'a'",
    ),
    (
        "status IS NOT NULL",
        "IS NULL / IS NOT NULL is only supported for tags and params, not for 'attribute' 'status'",
    ),
    ("metrics.a == 1", f"Invalid comparator '==' not one of '{METRIC_SET}"),
    ("metrics.a LIKE 1", f"Invalid comparator 'LIKE' not one of '{METRIC_SET}"),
    ("params.a < 'x'", f"Invalid comparator '<' not one of '{PARAM_SET}'"),
    ("params.a NOT LIKE 'x'", f"Invalid comparator 'NOT LIKE' not one of '{PARAM_SET}'"),
    ("tags.a <> 'x'", f"Invalid comparator '<>' not one of '{PARAM_SET}"),
    ("status > 'x'", f"Invalid comparator '>' not one of '{STRING_SET}'"),
    ("start_time LIKE 5", f"Invalid comparator 'LIKE' not one of '{STRING_SET}"),
    ("datasets.name < 'x'", f"Invalid comparator '<' not one of '{STRING_SET}"),
    ("params.p IS NOT  NULL", "Invalid clause(s) in filter string: 'params.p', 'IS', 'NOT  NULL'"),
]


@pytest.mark.parametrize(("text", "message"), REJECTED)
def test_rejected(text: str, message: str) -> None:
    with pytest.raises(MlflowError) as info:
        search.parse_run_filter(text)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert info.value.message == message
    assert_same(mlflow_run_filter(text), ours(search.parse_run_filter, text))


@pytest.mark.parametrize("text", ["run_id = ('a')", "datasets.name LIKE ('a', 'b')"])
def test_list_with_scalar_comparator_is_bad_request(text: str) -> None:
    with pytest.raises(MlflowError) as info:
        search.parse_run_filter(text)
    assert info.value.error_code == "BAD_REQUEST"


def test_oversized_filters_fail_like_mlflow() -> None:
    deep = "run_id IN " + "(" * 101 + "'a'" + ")" * 101
    assert search.parse_run_filter("run_id IN " + "(" * 100 + "'a'" + ")" * 100)
    with pytest.raises(MlflowError, match="^Error on parsing filter"):
        search.parse_run_filter(deep)
    with pytest.raises(MlflowError, match="^Error on parsing filter"):
        search.parse_run_filter("params.p = 'a'" + " " * 10_000)
    assert search.parse_run_filter("params.p = 'a'" + " " * 9_000)


# ------------------------------------------------------------------------------------------
# order_by


ORDER_ACCEPTED = [
    (["metrics.acc"], [OrderKey("metric", "acc", True)]),
    (["metrics.acc DESC"], [OrderKey("metric", "acc", False)]),
    (
        ["params.p asc", "tags.t desc"],
        [OrderKey("parameter", "p", True), OrderKey("tag", "t", False)],
    ),
    (["metrics.`a b` DESC"], [OrderKey("metric", "a b", False)]),
    (['metrics."a b"'], [OrderKey("metric", "a b", True)]),
    (["attributes.start_time"], [OrderKey("attribute", "start_time", True)]),
    (["created DESC"], [OrderKey("attribute", "start_time", False)]),
    (
        ["run_name", "run_id"],
        [OrderKey("attribute", "run_name", True), OrderKey("attribute", "run_id", True)],
    ),
    ([], []),
]


@pytest.mark.parametrize(("clauses", "expected"), ORDER_ACCEPTED)
def test_order_by_accepted(clauses: list[str], expected: list[OrderKey]) -> None:
    assert search.parse_run_order_by(clauses) == expected
    assert_same(mlflow_run_order_by(clauses), ours(search.parse_run_order_by, clauses))


ORDER_REJECTED = [
    (
        ["metrics.a", "metric.a"],
        "INVALID_PARAMETER_VALUE",
        "`order_by` contains duplicate fields: ['metrics.a', 'metric.a']",
    ),
    (
        ["created", "start_time DESC"],
        "INVALID_PARAMETER_VALUE",
        "`order_by` contains duplicate fields: ['created', 'start_time DESC']",
    ),
    (["datasets.name"], "INVALID_PARAMETER_VALUE", "Invalid identifier type 'dataset'"),
    (
        [" metrics.a"],
        "INVALID_PARAMETER_VALUE",
        "Invalid order_by clause ' metrics.a'. Could not be parsed.",
    ),
    (
        ["metrics.a "],
        "INVALID_PARAMETER_VALUE",
        "Invalid order_by clause 'metrics.a '. Could not be parsed.",
    ),
    ([""], "INVALID_PARAMETER_VALUE", "Invalid order_by clause ''. Could not be parsed."),
    (
        ["metrics.a DESC NULLS LAST"],
        "INVALID_PARAMETER_VALUE",
        "Invalid order_by clause 'metrics.a DESC NULLS LAST'. Could not be parsed.",
    ),
    (
        ["metrics.a, metrics.b"],
        "INVALID_PARAMETER_VALUE",
        "Invalid order_by clause 'metrics.a, metrics.b'. Could not be parsed.",
    ),
    (
        ["metrics.a descending"],
        "INVALID_PARAMETER_VALUE",
        "Invalid ordering key in order_by clause 'metrics.a descending'.",
    ),
    (
        ["run name"],
        "INVALID_PARAMETER_VALUE",
        "Invalid ordering key in order_by clause 'run name'.",
    ),
    (
        ["`run name`"],
        "INVALID_PARAMETER_VALUE",
        "Invalid attribute key 'run name' specified. Valid keys are '{'artifact_uri', "
        "'end_time', 'run_id', 'run_name', 'start_time', 'status', 'user_id', 'created', "
        "'Created'}'",
    ),
    (
        ["foo.bar"],
        "INVALID_PARAMETER_VALUE",
        "Invalid entity type 'foo'. Valid values are "
        "['metric', 'parameter', 'tag', 'attribute', 'dataset']",
    ),
]


@pytest.mark.parametrize(("clauses", "code", "message"), ORDER_REJECTED)
def test_order_by_rejected(clauses: list[str], code: str, message: str) -> None:
    with pytest.raises(MlflowError) as info:
        search.parse_run_order_by(clauses)
    assert (info.value.error_code, info.value.message) == (code, message)
    assert_same(mlflow_run_order_by(clauses), ours(search.parse_run_order_by, clauses))


def test_run_search_reports_errors_in_mlflows_order() -> None:
    # syntax of the filter, then order_by, then the filter's comparators
    with pytest.raises(MlflowError, match="^Expected numeric value"):
        search.parse_run_search("metrics.a > 'x'", ["foo.bar"])
    with pytest.raises(MlflowError, match="^Invalid entity type 'foo'"):
        search.parse_run_search("metrics.a == 1", ["foo.bar"])
    with pytest.raises(MlflowError, match="^Invalid comparator '=='"):
        search.parse_run_search("metrics.a == 1", ["metrics.a"])
    assert search.parse_run_search("metrics.a > 1", ["metrics.a DESC"]) == (
        [C("metric", "a", ">", 1.0)],
        [OrderKey("metric", "a", False)],
    )


# ------------------------------------------------------------------------------------------
# Experiments


EXPERIMENT_CASES = [
    ("name = 'e'", ("ok", [("attribute", "name", "=", "e")])),
    ("attribute.name LIKE 'e%'", ("ok", [("attribute", "name", "LIKE", "e%")])),
    ("name ILIKE 'E%'", ("ok", [("attribute", "name", "ILIKE", "E%")])),
    ("experiment_id = '3'", ("ok", [("attribute", "experiment_id", "=", 3)])),
    ("experiment_id IN ('1', '2')", ("ok", [("attribute", "experiment_id", "IN", (1, 2))])),
    ("experiment_id NOT IN ('1')", ("ok", [("attribute", "experiment_id", "NOT IN", (1,))])),
    ("creation_time > 5", ("ok", [("attribute", "creation_time", ">", 5)])),
    ("last_update_time <= 5", ("ok", [("attribute", "last_update_time", "<=", 5)])),
    ("tags.t = 'x'", ("ok", [("tag", "t", "=", "x")])),
    ("tag.`a b` != 'x'", ("ok", [("tag", "a b", "!=", "x")])),
    ("tags.t IS NULL", ("ok", [("tag", "t", "IS NULL", None)])),
    ("tags.t is not null", ("ok", [("tag", "t", "IS NOT NULL", None)])),
    (
        "name like 'e'",
        ("err", "INVALID_PARAMETER_VALUE", f"Invalid comparator 'like' not one of '{STRING_SET}'"),
    ),
    ("tags.t like 'e'", ("err", "INVALID_PARAMETER_VALUE", "Invalid comparator for tag: like")),
    (
        "experiment_id in ('1')",
        ("err", "INVALID_PARAMETER_VALUE", "Invalid comparator for experiment_id: in"),
    ),
    (
        "experiment_id > '1'",
        ("err", "INVALID_PARAMETER_VALUE", "Invalid comparator for experiment_id: >"),
    ),
    (
        "experiment_id = 'abc'",
        (
            "err",
            "INVALID_PARAMETER_VALUE",
            "Invalid experiment ID 'abc'. Experiment ID must be a valid integer.",
        ),
    ),
    (
        "experiment_id = 1",
        (
            "err",
            "INVALID_PARAMETER_VALUE",
            "Expected a quoted string value for attributes. Got value 1",
        ),
    ),
    (
        "creation_time > 1.5",
        (
            "err",
            "INVALID_PARAMETER_VALUE",
            "Invalid value for numeric attribute 'creation_time': '1.5'",
        ),
    ),
    (
        "creation_time = 'x'",
        (
            "err",
            "INVALID_PARAMETER_VALUE",
            "Expected numeric value type for numeric attribute: creation_time. Found 'x'",
        ),
    ),
    (
        "creation_time LIKE 5",
        ("err", "INVALID_PARAMETER_VALUE", f"Invalid comparator 'LIKE' not one of '{STRING_SET}"),
    ),
    (
        "name IN ('e')",
        (
            "err",
            "INVALID_PARAMETER_VALUE",
            "Only ['experiment_id'] attributes support comparison with a list of quoted "
            "string values.",
        ),
    ),
    (
        "name IS NULL",
        (
            "err",
            "INVALID_PARAMETER_VALUE",
            "IS NULL / IS NOT NULL is only supported for tags, not for attribute 'name'",
        ),
    ),
    (
        "attributes.name = 'e'",
        (
            "err",
            "INVALID_PARAMETER_VALUE",
            "Invalid entity type 'attributes'. Valid entity types are ('attribute', 'tag', 'tags')",
        ),
    ),
    (
        "`tags`.a = 'x'",
        (
            "err",
            "INVALID_PARAMETER_VALUE",
            "Invalid entity type '`tags`'. Valid entity types are ('attribute', 'tag', 'tags')",
        ),
    ),
    (
        "name = 'a' OR name = 'b'",
        ("err", "INVALID_PARAMETER_VALUE", "Invalid clause(s) in filter string: OR"),
    ),
    (
        "tags.t = 1",
        (
            "err",
            "INVALID_PARAMETER_VALUE",
            "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1",
        ),
    ),
    ("experiment_id = ('1')", ("err", "BAD_REQUEST", "")),
]


@pytest.mark.parametrize(("text", "expected"), EXPERIMENT_CASES)
def test_experiment_filter(text: str, expected: Outcome) -> None:
    mine = ours(search.parse_experiment_filter, text)
    if expected[0] == "ok" or expected[1] == "INVALID_PARAMETER_VALUE":
        assert mine == expected
    else:
        assert mine[1] == expected[1]
    assert_same(mlflow_experiment_filter(text), mine)


EXPERIMENT_ORDER_CASES = [
    (
        ["name", "experiment_id DESC"],
        ("ok", [("attribute", "name", True), ("attribute", "experiment_id", False)]),
    ),
    (["last_update_time DESC"], ("ok", [("attribute", "last_update_time", False)])),
    (["attribute.creation_time"], ("ok", [("attribute", "creation_time", True)])),
    (["name", "name DESC"], ("ok", [("attribute", "name", True), ("attribute", "name", False)])),
    (["tags.a"], ("err", "INVALID_PARAMETER_VALUE", "Invalid order_by entity: tag")),
    (
        ["metrics.a"],
        (
            "err",
            "INVALID_PARAMETER_VALUE",
            "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags')",
        ),
    ),
    (
        ["Created"],
        (
            "err",
            "INVALID_PARAMETER_VALUE",
            "Invalid attribute key 'Created' specified. Valid keys are "
            "'{'name', 'experiment_id', 'creation_time', 'last_update_time'}'",
        ),
    ),
]


@pytest.mark.parametrize(("clauses", "expected"), EXPERIMENT_ORDER_CASES)
def test_experiment_order_by(clauses: list[str], expected: Outcome) -> None:
    mine = ours(search.parse_experiment_order_by, clauses)
    assert mine == expected
    assert_same(mlflow_experiment_order_by(clauses), mine)


# ------------------------------------------------------------------------------------------
# Page tokens


def test_page_token_format() -> None:
    assert search.encode_page_token(100) == "eyJvZmZzZXQiOiAxMDB9"
    assert search.encode_page_token(7) == SearchUtils.create_page_token(7).decode()
    assert search.decode_page_token(None) == 0
    assert search.decode_page_token("") == 0


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("abc", "Invalid page token, could not base64-decode"),
        (base64.b64encode(b"xyz").decode(), "Invalid page token, decoded value=b'xyz'"),
        (
            base64.b64encode(b'{"offset": 0}').decode(),
            "Invalid page token, parsed value={'offset': 0}",
        ),
        (base64.b64encode(b'{"o": 3}').decode(), "Invalid page token, parsed value={'o': 3}"),
        (base64.b64encode(b'{"offset": "x"}').decode(), "Invalid page token, not stringable x"),
    ],
)
def test_bad_page_tokens(token: str, message: str) -> None:
    with pytest.raises(MlflowError) as info:
        search.decode_page_token(token)
    assert (info.value.error_code, info.value.message) == ("INVALID_PARAMETER_VALUE", message)
    with pytest.raises(MlflowException) as theirs:
        SearchUtils.parse_start_offset_from_page_token(token)
    assert theirs.value.message == message


@given(st.integers(min_value=1, max_value=2**63 - 1))
def test_page_token_round_trip(offset: int) -> None:
    token = search.encode_page_token(offset)
    assert search.decode_page_token(token) == offset
    assert SearchUtils.parse_start_offset_from_page_token(token) == offset
    assert search.decode_page_token(SearchUtils.create_page_token(offset).decode()) == offset


@given(st.text(max_size=40))
def test_arbitrary_page_tokens_fail_cleanly(token: str) -> None:
    try:
        search.decode_page_token(token)
    except MlflowError as exc:
        assert exc.error_code == "INVALID_PARAMETER_VALUE"


# ------------------------------------------------------------------------------------------
# Generated filters


def _joined(parts: list[str], seps: list[str]) -> str:
    out = parts[0]
    for sep, part in zip(seps, parts[1:], strict=False):
        out += sep + part
    return out


WS = st.sampled_from(["", " ", " ", "  ", "\t", "\n"])
WS1 = st.sampled_from([" ", " ", " ", "  ", "\t", "\n "])
PREFIXES = st.sampled_from(
    [
        "metrics",
        "metric",
        "params",
        "param",
        "parameter",
        "parameters",
        "tags",
        "tag",
        "attributes",
        "attribute",
        "attr",
        "run",
        "datasets",
        "dataset",
        "`metrics`",
        "`tags`",
        "Metrics",
        "foo",
        "experiment",
        '"params"',
        "`attribute`",
    ]
)
PLAIN_KEYS = st.sampled_from(
    [
        "acc",
        "a",
        "lr",
        "loss_1",
        "_x",
        "A1",
        "1a",
        "a.b",
        "mlflow.runName",
        "select",
        "and",
        "in",
        "from",
        "as",
        "status",
        "name",
        "digest",
        "context",
        "run_id",
        "start_time",
        "user_id",
        "end_time",
        "created",
        "Created",
        "é",
        "x-y",
        "1",
        "1_0",
        "*",
        "desc",
    ]
)
KEY_TEXT = st.text(alphabet=st.sampled_from("abcXYZ019 _-.:/%éß"), min_size=0, max_size=6)
KEYS = st.one_of(
    PLAIN_KEYS,
    KEY_TEXT.map(lambda k: f"`{k}`"),
    KEY_TEXT.map(lambda k: f'"{k}"'),
    KEY_TEXT.map(lambda k: f"'{k}'"),
)
BARE = st.sampled_from(
    [
        "run_id",
        "run_name",
        "status",
        "user_id",
        "artifact_uri",
        "start_time",
        "end_time",
        "created",
        "Created",
        "`run name`",
        '"Run Name"',
        "`Run name`",
        "lifecycle_stage",
        "experiment_id",
        "name",
        "foo",
        "run name",
    ]
)
IDENTIFIERS = st.one_of(
    st.builds(
        lambda p, w1, w2, k: f"{p}{w1}.{w2}{k}", PREFIXES, st.just("") | WS, st.just("") | WS, KEYS
    ).filter(lambda s: not s.startswith("foo")),
    st.builds(lambda p, k: f"{p}.{k}", PREFIXES, KEYS),
    st.builds(lambda p, k: f"{p}.{k}", PREFIXES, KEYS),
    BARE,
)
COMPARATORS = st.sampled_from(
    [
        "=",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "==",
        "<>",
        "LIKE",
        "like",
        "ILIKE",
        "Ilike",
        "NOT LIKE",
        "RLIKE",
        "~",
    ]
)
STRING_BODY = st.text(alphabet=st.sampled_from("abAB01 %_.,;()-é"), max_size=6)
NUMBERS = st.sampled_from(
    ["1", "-1", "0", "1.5", "-2.25", ".5", "5.", "1e3", "1E-3", "1.5e+3", "1e", "0x1F", "1x", "- 1"]
)
VALUES = st.one_of(
    STRING_BODY.map(lambda s: f"'{s}'"),
    STRING_BODY.map(lambda s: f'"{s}"'),
    NUMBERS,
    st.sampled_from(["x", "NULL", "`x`", "'a' 'b'", "'it''s'", "TRUE"]),
)
LIST_ITEMS = st.one_of(
    STRING_BODY.map(lambda s: f"'{s}'"), STRING_BODY.map(lambda s: f'"{s}"'), NUMBERS
)
LISTS = st.builds(
    lambda items, trailing, w: (
        "(" + w + (", ".join(items)) + ("," if trailing and items else "") + ")"
    ),
    st.lists(LIST_ITEMS, max_size=3),
    st.booleans(),
    WS,
)
CLAUSES = st.one_of(
    st.builds(
        lambda i, w1, c, w2, v: f"{i}{w1}{c}{w2}{v}", IDENTIFIERS, WS, COMPARATORS, WS, VALUES
    ),
    st.builds(
        lambda i, w1, c, w2, v: f"{i}{w1}{c}{w2}{v}",
        IDENTIFIERS,
        WS1,
        st.sampled_from(["IN", "in", "NOT IN", "not  in", "Not In", "=", "LIKE"]),
        WS,
        LISTS,
    ),
    st.builds(
        lambda i, w, n: f"{i}{w}{n}",
        IDENTIFIERS,
        WS1,
        st.sampled_from(
            [
                "IS NULL",
                "is null",
                "IS  NULL",
                "IS NOT NULL",
                "is not null",
                "IS NOT  NULL",
                "IS 'x'",
            ]
        ),
    ),
)
SEPARATORS = st.one_of(
    st.builds(
        lambda a, j, b: a + j + b,
        WS1,
        st.sampled_from(["AND", "and", "AnD", "OR", "AND AND", ","]),
        WS1,
    ),
    WS1,
    st.sampled_from(["AND", ";", ", "]),
)


@st.composite
def filters(draw: st.DrawFn) -> str:
    clauses = draw(st.lists(CLAUSES, min_size=1, max_size=3))
    seps = [draw(SEPARATORS) for _ in clauses[1:]]
    text = _joined(clauses, seps)
    if draw(st.integers(0, 9)) == 0:
        text = "(" + text + ")"
    if draw(st.integers(0, 9)) == 0:
        text = draw(st.sampled_from(["AND ", " ", "and "])) + text
    if draw(st.integers(0, 9)) == 0:
        text += draw(st.sampled_from([" AND", ";", " ", " -- c", " foo"]))
    return text


SLOW = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SLOW
@given(filters())
@example("params.a = 'x' params.b IS NULL")
@example("run_id IN ('a') params.b IS NULL")
def test_generated_run_filters_match_mlflow(text: str) -> None:
    assert_same(mlflow_run_filter(text), ours(search.parse_run_filter, text))


@SLOW
@given(filters())
def test_generated_experiment_filters_match_mlflow(text: str) -> None:
    assert_same(mlflow_experiment_filter(text), ours(search.parse_experiment_filter, text))


@SLOW
@given(st.one_of(filters(), st.text(max_size=30)))
def test_any_text_fails_only_with_mlflow_errors(text: str) -> None:
    for parse in (search.parse_run_filter, search.parse_experiment_filter):
        try:
            parse(text)
        except MlflowError as exc:
            assert exc.error_code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST")


ORDER_CLAUSES = st.builds(
    lambda i, d: i + d,
    IDENTIFIERS,
    st.sampled_from(["", " ASC", " desc", " DESC", "  Desc", " DESC NULLS LAST", " up", " ", ",x"]),
)


@SLOW
@given(st.lists(ORDER_CLAUSES, max_size=3))
def test_generated_order_by_match_mlflow(clauses: list[str]) -> None:
    assert_same(mlflow_run_order_by(clauses), ours(search.parse_run_order_by, clauses))
    assert_same(
        mlflow_experiment_order_by(clauses), ours(search.parse_experiment_order_by, clauses)
    )


def test_json_page_token_with_string_offset() -> None:
    token = base64.b64encode(json.dumps({"offset": "12"}).encode()).decode()
    assert search.decode_page_token(token) == 12


def test_integers_too_long_for_python_become_floats() -> None:
    # MLflow fails with a 500 here (int() refuses thousands of digits).
    (clause,) = search.parse_run_filter("start_time > " + "9" * 5000)
    assert clause.value == float("inf")
