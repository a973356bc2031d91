"""Entity limits and name rules, with MLflow's exact error codes and messages.

Expected messages were taken from ``mlflow/utils/validation.py`` and
``mlflow/store/tracking/sqlalchemy_store.py`` of the pinned mlflow and checked against a live
``mlflow server`` (``RUNYARD_TEST_REFERENCE=mlflow``).
"""

from __future__ import annotations

import pytest

from tests.api.httpapi import Api

pytestmark = pytest.mark.integration

TS = 1_700_000_000_000
BAD_CHARS = (
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), "
    "colon(:) and slashes (/)."
)
BAD_PATH = (
    "Names may be treated as files in certain cases, and must not resolve to other names when "
    "treated as such. This name would resolve to "
)
INVALID = "INVALID_PARAMETER_VALUE"


def _metric(key: str, value: float = 1.0, step: int = 0) -> dict[str, object]:
    return {"key": key, "value": value, "timestamp": TS, "step": step}


def _batch_limit(what: str, limit: int, got: int) -> str:
    return (
        f"A batch logging request can contain at most {limit} {what}. Got {got} {what}. "
        f"Please split up {what} across multiple requests and try again."
    )


# --- log-batch sizes ---------------------------------------------------------------------------


def test_batch_with_1001_metrics(api: Api, run_id: str) -> None:
    metrics = [_metric(f"m{i}") for i in range(1001)]
    r = api.post("/runs/log-batch", {"run_id": run_id, "metrics": metrics})
    api.error(r, INVALID, _batch_limit("metrics", 1000, 1001))
    assert api.run_data(run_id)["metrics"] == {}


def test_batch_with_1000_metrics_is_accepted(api: Api, run_id: str) -> None:
    metrics = [_metric(f"m{i}", float(i)) for i in range(1000)]
    api.ok(api.post("/runs/log-batch", {"run_id": run_id, "metrics": metrics}))
    got = api.run_data(run_id)["metrics"]
    assert len(got) == 1000
    assert got["m999"] == 999.0


def test_batch_with_101_params(api: Api, run_id: str) -> None:
    params = [{"key": f"p{i}", "value": "v"} for i in range(101)]
    r = api.post("/runs/log-batch", {"run_id": run_id, "params": params})
    api.error(r, INVALID, _batch_limit("params", 100, 101))
    assert api.run_data(run_id)["params"] == {}


def test_batch_with_101_tags(api: Api, run_id: str) -> None:
    tags = [{"key": f"t{i}", "value": "v"} for i in range(101)]
    r = api.post("/runs/log-batch", {"run_id": run_id, "tags": tags})
    api.error(r, INVALID, _batch_limit("tags", 100, 101))
    assert "t0" not in api.run_data(run_id)["tags"]


def test_batch_with_1001_entities_in_total(api: Api, run_id: str) -> None:
    body = {
        "run_id": run_id,
        "metrics": [_metric(f"m{i}") for i in range(901)],
        "params": [{"key": f"p{i}", "value": "v"} for i in range(100)],
    }
    r = api.post("/runs/log-batch", body)
    api.error(r, INVALID, _batch_limit("metrics, params, and tags", 1000, 1001))


# --- key length and characters -----------------------------------------------------------------

LONG_KEY = "k" * 251


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "/runs/log-metric",
            {"key": LONG_KEY, "value": 1, "timestamp": TS},
            "'Metric name' exceeds the maximum length of 250 characters",
        ),
        (
            "/runs/log-parameter",
            {"key": LONG_KEY, "value": "1"},
            "'Param key' exceeds the maximum length of 250 characters",
        ),
        (
            "/runs/set-tag",
            {"key": LONG_KEY, "value": "1"},
            "'key' exceeds the maximum length of 250 characters",
        ),
        (
            "/runs/log-batch",
            {"metrics": [_metric(LONG_KEY)]},
            "'Metric name' exceeds the maximum length of 250 characters",
        ),
        (
            "/runs/log-batch",
            {"params": [{"key": LONG_KEY, "value": "1"}]},
            "'Param key' exceeds the maximum length of 250 characters",
        ),
        (
            "/runs/log-batch",
            {"tags": [{"key": LONG_KEY, "value": "1"}]},
            "'tags[0].key' exceeds the maximum length of 250 characters",
        ),
    ],
    ids=["metric", "param", "tag", "batch-metric", "batch-param", "batch-tag"],
)
def test_key_of_251_characters(
    api: Api, run_id: str, path: str, body: dict[str, object], message: str
) -> None:
    api.error(api.post(path, {"run_id": run_id, **body}), INVALID, message)
    data = api.run_data(run_id)
    assert LONG_KEY not in data["metrics"]
    assert LONG_KEY not in data["params"]
    assert LONG_KEY not in data["tags"]


def test_key_of_250_characters_is_accepted(api: Api, run_id: str) -> None:
    key = "k" * 250
    api.ok(api.post("/runs/log-parameter", {"run_id": run_id, "key": key, "value": "1"}))
    api.ok(api.post("/runs/set-tag", {"run_id": run_id, "key": key, "value": "1"}))
    api.ok(
        api.post("/runs/log-metric", {"run_id": run_id, "key": key, "value": 1, "timestamp": TS})
    )
    data = api.run_data(run_id)
    assert data["params"][key] == "1"
    assert data["tags"][key] == "1"
    assert data["metrics"][key] == 1.0


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/runs/log-metric", {"key": "{key}", "value": 1, "timestamp": TS}, "name"),
        ("/runs/log-parameter", {"key": "{key}", "value": "1"}, "key"),
        ("/runs/set-tag", {"key": "{key}", "value": "1"}, "key"),
        ("/runs/log-batch", {"metrics": [_metric("{key}")]}, "metrics[0].name"),
        (
            "/runs/log-batch",
            {"params": [{"key": "ok", "value": "1"}, {"key": "{key}", "value": "1"}]},
            "params[1].key",
        ),
        ("/runs/log-batch", {"tags": [{"key": "{key}", "value": "1"}]}, "tags[0].key"),
    ],
    ids=["metric", "param", "tag", "batch-metric", "batch-param", "batch-tag"],
)
@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("bad key!", BAD_CHARS),
        ("semi;colon", BAD_CHARS),
        ("../x", BAD_PATH + "'../x'"),
        ("a/../b", BAD_PATH + "'b'"),
        ("/abs", BAD_PATH + "'/abs'"),
        (".", BAD_PATH + "'.'"),
        ("a//b", BAD_PATH + "'a/b'"),
    ],
    ids=["bang", "semicolon", "dotdot", "inner-dotdot", "absolute", "dot", "double-slash"],
)
def test_bad_keys(
    api: Api, run_id: str, path: str, body: dict[str, object], field: str, key: str, rule: str
) -> None:
    filled = _fill(body, key)
    quoted = '"' + key + '"'
    message = f"Invalid value {quoted} for parameter '{field}' supplied: {rule}"
    api.error(api.post(path, {"run_id": run_id, **filled}), INVALID, message)
    data = api.run_data(run_id)
    assert data["params"] == {}
    assert data["metrics"] == {}
    assert key not in data["tags"]


def _fill(value: object, key: str) -> object:
    if value == "{key}":
        return key
    if isinstance(value, dict):
        return {k: _fill(v, key) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, key) for v in value]
    return value


def test_allowed_key_characters(api: Api, run_id: str) -> None:
    key = "Aa0_-. :/x"
    api.ok(api.post("/runs/log-parameter", {"run_id": run_id, "key": key, "value": "1"}))
    assert api.run_data(run_id)["params"] == {key: "1"}


# --- long values are truncated, not rejected ---------------------------------------------------


def test_param_value_of_6001_characters_is_truncated(api: Api, run_id: str) -> None:
    value = "a" * 5999 + "bc"
    api.ok(api.post("/runs/log-parameter", {"run_id": run_id, "key": "long", "value": value}))
    api.ok(
        api.post(
            "/runs/log-batch", {"run_id": run_id, "params": [{"key": "long2", "value": value}]}
        )
    )
    params = api.run_data(run_id)["params"]
    assert params["long"] == value[:6000]
    assert params["long2"] == value[:6000]
    # Re-logging the long value compares against the truncated one, so it is not a change.
    api.ok(api.post("/runs/log-parameter", {"run_id": run_id, "key": "long", "value": value}))


def test_tag_value_of_8001_characters_is_truncated(api: Api, run_id: str) -> None:
    value = "t" * 7999 + "uv"
    api.ok(api.post("/runs/set-tag", {"run_id": run_id, "key": "long", "value": value}))
    api.ok(
        api.post("/runs/log-batch", {"run_id": run_id, "tags": [{"key": "long2", "value": value}]})
    )
    tags = api.run_data(run_id)["tags"]
    assert tags["long"] == value[:8000]
    assert tags["long2"] == value[:8000]


# --- params are immutable ----------------------------------------------------------------------


def test_changing_a_param_with_log_parameter(api: Api, run_id: str) -> None:
    api.ok(api.post("/runs/log-parameter", {"run_id": run_id, "key": "p", "value": "1"}))
    api.ok(api.post("/runs/log-parameter", {"run_id": run_id, "key": "p", "value": "1"}))
    r = api.post("/runs/log-parameter", {"run_id": run_id, "key": "p", "value": "2"})
    api.error(
        r,
        INVALID,
        "Changing param values is not allowed. Param with key='p' was already logged with "
        f"value='1' for run ID='{run_id}'. Attempted logging new value '2'.",
    )
    assert api.run_data(run_id)["params"] == {"p": "1"}


def test_changing_a_param_with_log_batch(api: Api, run_id: str) -> None:
    api.ok(api.post("/runs/log-parameter", {"run_id": run_id, "key": "p", "value": "1"}))
    api.ok(api.post("/runs/log-parameter", {"run_id": run_id, "key": "q", "value": "x"}))
    r = api.post(
        "/runs/log-batch",
        {
            "run_id": run_id,
            "params": [
                {"key": "p", "value": "3"},
                {"key": "new", "value": "n"},
                {"key": "q", "value": "y"},
            ],
        },
    )
    api.error(
        r,
        INVALID,
        "Changing param values is not allowed. Params were already logged="
        "'[{'key': 'p', 'old_value': '1', 'new_value': '3'}, "
        "{'key': 'q', 'old_value': 'x', 'new_value': 'y'}]'"
        f" for run ID='{run_id}'.",
    )
    assert api.run_data(run_id)["params"] == {"p": "1", "q": "x"}


def test_relogging_the_same_params_in_a_batch_is_accepted(api: Api, run_id: str) -> None:
    params = [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]
    api.ok(api.post("/runs/log-batch", {"run_id": run_id, "params": params}))
    more = [*params, {"key": "c", "value": "3"}]
    api.ok(api.post("/runs/log-batch", {"run_id": run_id, "params": more}))
    assert api.run_data(run_id)["params"] == {"a": "1", "b": "2", "c": "3"}


def test_duplicate_param_keys_in_one_batch(api: Api, run_id: str) -> None:
    params = [
        {"key": "q", "value": "1"},
        {"key": "q", "value": "2"},
        {"key": "r", "value": "1"},
        {"key": "r", "value": "1"},
        {"key": "s", "value": "1"},
    ]
    r = api.post("/runs/log-batch", {"run_id": run_id, "params": params})
    api.error(
        r,
        INVALID,
        "Duplicate parameter keys have been submitted: ['q', 'r']. Please ensure the request "
        "contains only one param value per param key.",
    )
    assert api.run_data(run_id)["params"] == {}


def test_metric_timestamp_must_not_be_negative(api: Api, run_id: str) -> None:
    r = api.post("/runs/log-metric", {"run_id": run_id, "key": "m", "value": 1, "timestamp": -5})
    api.error(
        r,
        INVALID,
        "Invalid value -5 for parameter 'timestamp' supplied: metric 'm' (value=1.0). "
        "Timestamp must be a nonnegative long (64-bit integer) ",
    )
