import math

import mlflow.utils.validation as mlflow_validation
import pytest
from mlflow.exceptions import ERROR_CODE_TO_HTTP_STATUS

from runyard import errors
from runyard.domain import validation
from runyard.domain.entities import Metric, Param, Tag
from runyard.errors import InvalidParameterValue


def test_error_status_table_matches_installed_mlflow() -> None:
    assert errors.HTTP_STATUS == ERROR_CODE_TO_HTTP_STATUS


@pytest.mark.parametrize(
    "name",
    [
        "MAX_PARAMS_TAGS_PER_BATCH",
        "MAX_METRICS_PER_BATCH",
        "MAX_ENTITIES_PER_BATCH",
        "MAX_PARAM_VAL_LENGTH",
        "MAX_TAG_VAL_LENGTH",
        "MAX_EXPERIMENT_NAME_LENGTH",
        "MAX_EXPERIMENT_TAG_KEY_LENGTH",
        "MAX_EXPERIMENT_TAG_VAL_LENGTH",
        "MAX_ENTITY_KEY_LENGTH",
        "MAX_DATASET_NAME_SIZE",
        "MAX_DATASET_DIGEST_SIZE",
        "MAX_DATASET_SCHEMA_SIZE",
        "MAX_DATASET_SOURCE_SIZE",
        "MAX_DATASET_PROFILE_SIZE",
        "MAX_INPUT_TAG_KEY_SIZE",
        "MAX_INPUT_TAG_VALUE_SIZE",
        "MAX_EXPERIMENTS_LISTED_PER_PAGE",
    ],
)
def test_limits_match_installed_mlflow(name: str) -> None:
    assert getattr(validation, name) == getattr(mlflow_validation, name)


def test_long_param_and_tag_values_are_truncated() -> None:
    assert validation.validate_param(Param("p", "x" * 7000)).value == "x" * 6000
    assert validation.validate_tag(Tag("t", "y" * 9000)).value == "y" * 8000


@pytest.mark.parametrize("key", ["bad key!", "../x", "/abs", "a//b", ".", "x" * 251])
def test_bad_keys_are_rejected(key: str) -> None:
    with pytest.raises(InvalidParameterValue):
        validation.validate_param(Param(key, "v"))


def test_bad_character_message_is_mlflows() -> None:
    with pytest.raises(InvalidParameterValue) as info:
        validation.validate_key_name("bad key!", "key")
    assert info.value.message == (
        "Invalid value \"bad key!\" for parameter 'key' supplied: Names may only contain "
        "alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and "
        "slashes (/)."
    )


def test_metric_values_are_sanitised_as_mlflow_stores_them() -> None:
    assert validation.sanitize_metric_value(math.nan) == (0.0, True)
    assert validation.sanitize_metric_value(math.inf) == (validation.FLOAT_MAX, False)
    assert validation.sanitize_metric_value(-math.inf) == (-validation.FLOAT_MAX, False)
    assert validation.sanitize_metric_value(1.5) == (1.5, False)


def test_negative_timestamp_is_rejected() -> None:
    with pytest.raises(InvalidParameterValue, match="Timestamp must be a nonnegative"):
        validation.validate_metric(Metric("m", 1.0, -1, 0))


def test_batch_limits_use_mlflows_message() -> None:
    with pytest.raises(InvalidParameterValue) as info:
        validation.validate_batch_limits(1001, 0, 0)
    assert info.value.message == (
        "A batch logging request can contain at most 1000 metrics. Got 1001 metrics. "
        "Please split up metrics across multiple requests and try again."
    )
    with pytest.raises(InvalidParameterValue, match="at most 100 params"):
        validation.validate_batch_limits(0, 101, 0)
    with pytest.raises(InvalidParameterValue, match="at most 1000 metrics, params, and tags"):
        validation.validate_batch_limits(950, 50, 50)


def test_duplicate_param_keys() -> None:
    with pytest.raises(InvalidParameterValue, match=r"\['q'\]"):
        validation.validate_param_keys_unique([Param("q", "1"), Param("q", "2")])
