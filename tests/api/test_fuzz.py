"""Property tests: whatever a client sends, the answer is MLflow-style JSON and never a 500.

Bodies are random JSON (random keys, nested values, wrong types, huge integers, float words,
unicode) mixed with the real field names of each endpoint, so that generated requests get past
the first checks and reach validation, the services and the database. Filter strings are built
from the search grammar's tokens plus junk.

These describe runyard's contract; MLflow itself answers some of these inputs with an HTML 500,
so they are skipped in reference mode.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.httpapi import REFERENCE, Api, expected_status

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(REFERENCE, reason="runyard-specific robustness contract"),
]

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=False,
)

TS = 1_700_000_000_000


@pytest.fixture(scope="module")
def target(api: Api) -> Iterator[dict[str, str]]:
    """One experiment and run that generated requests may point at."""
    exp = api.experiment("fuzz")
    yield {"experiment_id": exp, "run_id": api.run(exp)}


def check(response: httpx.Response) -> None:
    """The property: < 500, a JSON object body, and MLflow's error shape on failures."""
    assert response.status_code < 500, (response.status_code, response.text[:2000])
    assert response.headers.get("content-type", "").startswith("application/json"), response.text
    body = response.json()
    assert isinstance(body, dict), body
    if response.status_code >= 400:
        assert isinstance(body.get("error_code"), str), body
        assert isinstance(body.get("message"), str), body
        assert response.status_code == expected_status(body["error_code"]), body
    else:
        assert response.status_code == 200


# --- strategies --------------------------------------------------------------------------------

FLOAT_WORDS = ["NaN", "Infinity", "-Infinity", "nan", "inf", "-inf", "1e400", "-0", "0x10"]
ODD_STRINGS = [
    "",
    " ",
    "0",
    "-1",
    "null",
    "true",
    "[]",
    "{}",
    "'",
    '"',
    "\\",
    "\x00",
    "é",
    "🙂",
    "²",
    "١",
    "⑦",
]

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**31, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**30, -1, 0]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(FLOAT_WORDS + ODD_STRINGS),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=9000),
)
json_values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=16,
)
keys = st.one_of(
    st.sampled_from(["key", "k", "a.b", "a/b", "x y", "mlflow.runName", "../x", "k" * 251]),
    st.text(max_size=20),
)


def _pick(real: str) -> st.SearchStrategy[Any]:
    """A placeholder for an id of the live target, or anything at all."""
    return st.one_of(st.just(f"<{real}>"), json_values)


def entity(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Any subset of the given fields, sometimes with extra junk keys, sometimes not a dict."""
    body = st.fixed_dictionaries({}, optional=fields)
    with_junk = st.tuples(body, st.dictionaries(st.text(max_size=10), json_values, max_size=2)).map(
        lambda pair: {**pair[1], **pair[0]}
    )
    return st.one_of(body, body, with_junk, json_values)


metric_fields = {
    "key": keys,
    "value": st.one_of(st.floats(), st.sampled_from(FLOAT_WORDS), json_values),
    "timestamp": st.one_of(st.integers(min_value=-10, max_value=2**64), json_values),
    "step": st.one_of(st.integers(min_value=-(2**64), max_value=2**64), json_values),
    "model_id": json_values,
    "dataset_name": json_values,
    "dataset_digest": json_values,
}
kv_fields = {"key": keys, "value": st.one_of(st.text(max_size=30), json_values)}


def _listish(item: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(item, max_size=6), json_values)


ENDPOINTS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "/runs/log-batch": {
        "run_id": _pick("run_id"),
        "run_uuid": _pick("run_id"),
        "metrics": _listish(entity(metric_fields)),
        "params": _listish(entity(kv_fields)),
        "tags": _listish(entity(kv_fields)),
    },
    "/runs/log-metric": {
        "run_id": _pick("run_id"),
        "runId": _pick("run_id"),
        "run_uuid": _pick("run_id"),
        **metric_fields,
    },
    "/runs/create": {
        "experiment_id": _pick("experiment_id"),
        "experimentId": _pick("experiment_id"),
        "user_id": json_values,
        "run_name": json_values,
        "start_time": st.one_of(st.integers(min_value=-(2**64), max_value=2**64), json_values),
        "tags": _listish(entity(kv_fields)),
    },
    "/runs/search": {
        "experiment_ids": st.one_of(st.lists(_pick("experiment_id"), max_size=3), json_values),
        "filter": json_values,
        "run_view_type": st.one_of(
            st.sampled_from(["ACTIVE_ONLY", "DELETED_ONLY", "ALL", 1, 2, 3, 0, 4, "all"]),
            json_values,
        ),
        "max_results": st.one_of(st.integers(min_value=-5, max_value=60000), json_values),
        "order_by": st.one_of(st.lists(st.text(max_size=20), max_size=3), json_values),
        "page_token": json_values,
    },
    "/experiments/search": {
        "max_results": st.one_of(st.integers(min_value=-5, max_value=60000), json_values),
        "filter": json_values,
        "view_type": st.one_of(st.sampled_from(["ACTIVE_ONLY", "ALL", 3, 7]), json_values),
        "order_by": st.one_of(st.lists(st.text(max_size=20), max_size=3), json_values),
        "page_token": json_values,
    },
}


def _resolve(value: Any, target: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
        return target.get(value[1:-1], value)
    if isinstance(value, list):
        return [_resolve(v, target) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, target) for k, v in value.items()}
    return value


def _post_json(api: Api, path: str, body: Any) -> httpx.Response:
    raw = json.dumps(body, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return api.request("POST", path, content=raw, headers={"Content-Type": "application/json"})


# --- random bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_random_bodies_never_crash(api: Api, target: dict[str, str], path: str) -> None:
    @FUZZ
    @given(body=entity(ENDPOINTS[path]))
    def run(body: Any) -> None:
        check(_post_json(api, path, _resolve(body, target)))

    run()


raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
    json_values.map(lambda v: json.dumps(json.dumps(v)).encode()),  # double-encoded
    st.sampled_from([b"", b"null", b"[]", b"[1,2]", b'"x"', b"{", b'{"a":NaN}', b"\xff\xfe"]),
)


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_raw_bodies_never_crash(api: Api, path: str) -> None:
    @FUZZ
    @given(raw=raw_bodies)
    def run(raw: bytes) -> None:
        check(api.request("POST", path, content=raw, headers={"Content-Type": "application/json"}))

    run()


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/runs/get", ["run_id", "run_uuid"]),
        ("/metrics/get-history", ["run_id", "metric_key", "max_results", "page_token"]),
        ("/experiments/get", ["experiment_id"]),
        ("/experiments/get-by-name", ["experiment_name"]),
        ("/experiments/search", ["max_results", "filter", "view_type", "order_by", "page_token"]),
    ],
)
def test_random_query_strings_never_crash(
    api: Api, target: dict[str, str], path: str, fields: list[str]
) -> None:
    text = st.one_of(
        st.sampled_from([target["run_id"], target["experiment_id"], *FLOAT_WORDS, *ODD_STRINGS]),
        st.text(max_size=30),
        st.integers().map(str),
    )

    @FUZZ
    @given(params=st.lists(st.tuples(st.sampled_from([*fields, "junk"]), text), max_size=6))
    def run(params: list[tuple[str, str]]) -> None:
        safe = [
            (k, v.encode("utf-8", "surrogatepass").decode("utf-8", "replace")) for k, v in params
        ]
        check(api.request("GET", path, params=safe))

    run()


# --- random filter strings ---------------------------------------------------------------------

RUN_IDENTIFIERS = [
    "metrics.a",
    "metric.`a b`",
    'metrics."acc"',
    "params.p",
    'param."q"',
    "parameters.lr",
    "tags.t",
    "tag.`mlflow.runName`",
    "attributes.status",
    "attribute.run_id",
    "attr.run_name",
    "run.user_id",
    "run_name",
    "`Run name`",
    "start_time",
    "end_time",
    "created",
    "artifact_uri",
    "datasets.name",
    "dataset.context",
    "datasets.digest",
    "foo.bar",
    "metrics.",
    "params",
    "attributes.nope",
    "lifecycle_stage",
]
COMPARATORS = ["=", "!=", ">", ">=", "<", "<=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL"]
COMPARATORS += ["IS NOT NULL", "IS", "NOT", "==", "<>", "like", "in"]
VALUES = ["'x'", '"y"', "1", "1.5", "-3", "1e400", "'%a_'", "('a', 'b')", "()", "('a')"]
VALUES += ["(1, 2)", "NULL", "''", "`z`", "0x10", "-", "'", "'NaN'", "NaN", "'é🙂'", "9" * 30]
GLUE = ["AND", "and", "OR", "(", ")", ",", ";", "--", "AND AND", "\n", "\t"]


def filters(identifiers: list[str]) -> st.SearchStrategy[str]:
    token = st.one_of(
        st.sampled_from(identifiers),
        st.sampled_from(COMPARATORS),
        st.sampled_from(VALUES),
        st.sampled_from(GLUE),
        st.text(max_size=8),
    )
    soup = st.lists(token, max_size=12).map(" ".join)
    clause = st.tuples(
        st.sampled_from(identifiers), st.sampled_from(COMPARATORS), st.sampled_from(VALUES)
    ).map(" ".join)
    structured = st.lists(clause, min_size=1, max_size=3).map(" AND ".join)
    return st.one_of(soup, structured, structured)


def orderings(identifiers: list[str]) -> st.SearchStrategy[list[str]]:
    item = st.one_of(
        st.tuples(
            st.sampled_from(identifiers), st.sampled_from(["", " ASC", " DESC", " desc", " X"])
        ).map("".join),
        st.text(max_size=15),
    )
    return st.lists(item, max_size=3)


def test_random_run_filters_never_crash(api: Api, target: dict[str, str]) -> None:
    @FUZZ
    @given(filter_string=filters(RUN_IDENTIFIERS), order_by=orderings(RUN_IDENTIFIERS))
    def run(filter_string: str, order_by: list[str]) -> None:
        body = {
            "experiment_ids": [target["experiment_id"]],
            "filter": filter_string,
            "order_by": order_by,
            "max_results": 5,
        }
        check(_post_json(api, "/runs/search", body))

    run()


def test_random_run_filters_alone_never_crash(api: Api, target: dict[str, str]) -> None:
    @FUZZ
    @given(filter_string=filters(RUN_IDENTIFIERS))
    def run(filter_string: str) -> None:
        body = {"experiment_ids": [target["experiment_id"]], "filter": filter_string}
        check(_post_json(api, "/runs/search", body))

    run()


EXPERIMENT_IDENTIFIERS = [
    "name",
    "experiment_id",
    "creation_time",
    "last_update_time",
    "tags.t",
    "tag.`a b`",
    "attributes.name",
    "lifecycle_stage",
    "foo",
    "metrics.a",
]


def test_random_experiment_filters_never_crash(api: Api) -> None:
    @FUZZ
    @given(
        filter_string=filters(EXPERIMENT_IDENTIFIERS),
        order_by=orderings(EXPERIMENT_IDENTIFIERS),
    )
    def run(filter_string: str, order_by: list[str]) -> None:
        body = {"filter": filter_string, "order_by": order_by, "max_results": 5}
        check(_post_json(api, "/experiments/search", body))

    run()
