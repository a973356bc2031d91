"""MLflow's limits and naming rules: the only place they live.

Messages reproduce MLflow's word for word, because clients and users match on them.
"""

from __future__ import annotations

import json
import math
import posixpath
import re
from collections.abc import Iterable, Sequence

from runyard.domain.entities import (
    ACTIVE_STAGES,
    MODEL_VERSION_STAGES,
    DatasetInput,
    Metric,
    Param,
    Tag,
)
from runyard.errors import InvalidParameterValue

MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_KEY_LENGTH = 250
MAX_EXPERIMENT_TAG_VAL_LENGTH = 20000
MAX_ENTITY_KEY_LENGTH = 250
MAX_EXPERIMENTS_LISTED_PER_PAGE = 50000
SEARCH_MAX_RESULTS_THRESHOLD = 50000
MAX_DATASET_NAME_SIZE = 500
MAX_DATASET_DIGEST_SIZE = 36
MAX_DATASET_SCHEMA_SIZE = 1048575
MAX_DATASET_SOURCE_SIZE = 65535
MAX_DATASET_PROFILE_SIZE = 16777215
MAX_INPUT_TAG_KEY_SIZE = 255
MAX_INPUT_TAG_VALUE_SIZE = 500
MAX_RESULTS_GET_METRIC_HISTORY = 25000
MAX_RUNS_GET_METRIC_HISTORY_BULK = 100
MAX_RESULTS_BULK_INTERVAL = 2500
ARTIFACT_LOCATION_MAX_LENGTH = 256

# Bounds of runyard's own, which MLflow does not have. Each sits far above what MLflow's client
# or UI sends and keeps every statement a request can cause cheap; each is checked before any
# SQL runs and answered 400 INVALID_PARAMETER_VALUE with a message that says what to change.
MAX_JSON_DEPTH = 64  # MLflow's deepest message (log-inputs) nests 5 levels
MAX_SEARCH_TEXT_LENGTH = 100_000  # characters of a filter string or of one order_by clause
MAX_ORDER_BY_CLAUSES = 20  # each may join a table (metrics, params, tags) into the query
MAX_DATASET_FILTERS = 100  # search_logged_models' ``datasets``, OR-ed into the metric filter
MAX_FILTER_LIST_ITEMS = 1000  # values of one ``IN (...)`` / ``NOT IN (...)`` list
MAX_SEARCH_EXPERIMENT_IDS = 10_000  # ``experiment_ids`` of one search (and its auth check)

# MLflow stores ±inf as the largest finite doubles (SqlAlchemyStore.sanitize_metric_value).
FLOAT_MAX = 1.7976931348623157e308

_NAME_RE = re.compile(r"^[/\w.\- :]*$")
_RUN_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
_BAD_CHARACTERS = (
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.),"
    " spaces ( ), colon(:) and slashes (/)."
)


def invalid_value(path: str, value: object, message: str | None = None) -> str:
    shown = _format_value(value)
    if message:
        return f"Invalid value {shown} for parameter '{path}' supplied: {message}"
    return f"Invalid value {shown} for parameter '{path}' supplied."


def _format_value(value: object) -> str:
    # MLflow shows the offending value as compact, key-sorted JSON.
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return repr(value)


def exceeds_maximum_length(path: str, limit: int) -> str:
    return f"'{path}' exceeds the maximum length of {limit} characters"


def _bad_path_message(name: str) -> str:
    return (
        "Names may be treated as files in certain cases, and must not resolve to other names"
        f" when treated as such. This name would resolve to {posixpath.normpath(name)!r}"
    )


def _path_not_unique(name: str) -> bool:
    norm = posixpath.normpath(name)
    return norm != name or norm == "." or norm.startswith("..") or norm.startswith("/")


def validate_key_name(name: str, path: str) -> None:
    """Metric, param and tag keys: a safe character set that cannot escape as a file path."""
    if not _NAME_RE.match(name):
        raise InvalidParameterValue(invalid_value(path, name, _BAD_CHARACTERS))
    if _path_not_unique(name):
        raise InvalidParameterValue(invalid_value(path, name, _bad_path_message(name)))


def _limit(entity: str, limit: int, value: str, *, truncate: bool = False) -> str:
    if len(value) <= limit:
        return value
    if truncate:
        # MLflow truncates over-long param and tag values by default (MLFLOW_TRUNCATE_LONG_VALUES).
        return value[:limit]
    raise InvalidParameterValue(exceeds_maximum_length(entity, limit))


def join_path(prefix: str, name: str) -> str:
    if not prefix:
        return name
    return f"{prefix}{name}" if name.startswith("[") else f"{prefix}.{name}"


def validate_param(param: Param, path: str = "") -> Param:
    validate_key_name(param.key, join_path(path, "key"))
    key = _limit("Param key", MAX_ENTITY_KEY_LENGTH, param.key)
    return Param(key, _limit("Param value", MAX_PARAM_VAL_LENGTH, param.value, truncate=True))


def validate_tag(tag: Tag, path: str = "") -> Tag:
    validate_key_name(tag.key, join_path(path, "key"))
    key = _limit(join_path(path, "key"), MAX_ENTITY_KEY_LENGTH, tag.key)
    value = _limit(join_path(path, "value"), MAX_TAG_VAL_LENGTH, tag.value, truncate=True)
    return Tag(key, value)


def truncate_tag(tag: Tag) -> Tag:
    """Only the value rule: for run creation, where MLflow applies no key checks."""
    return Tag(tag.key, _limit("value", MAX_TAG_VAL_LENGTH, tag.value, truncate=True))


def validate_experiment_tag(tag: Tag) -> None:
    validate_key_name(tag.key, "key")
    _limit("key", MAX_EXPERIMENT_TAG_KEY_LENGTH, tag.key)
    _limit("value", MAX_EXPERIMENT_TAG_VAL_LENGTH, tag.value)


def validate_metric(metric: Metric, path: str = "") -> None:
    if (metric.dataset_name is None) != (metric.dataset_digest is None):
        raise InvalidParameterValue(
            "Both dataset_name and dataset_digest must be provided if one is provided"
        )
    validate_key_name(metric.key, join_path(path, "name"))
    if metric.timestamp < 0:
        raise InvalidParameterValue(
            invalid_value(
                join_path(path, "timestamp"),
                metric.timestamp,
                f"metric '{metric.key}' (value={metric.value}). "
                "Timestamp must be a nonnegative long (64-bit integer) ",
            )
        )
    _limit("Metric name", MAX_ENTITY_KEY_LENGTH, metric.key)


def sanitize_metric_value(value: float) -> tuple[float, bool]:
    """Return the value to store and whether it is NaN, as MLflow stores them."""
    if math.isnan(value):
        return 0.0, True
    if math.isinf(value):
        return (FLOAT_MAX if value > 0 else -FLOAT_MAX), False
    return value, False


def validate_batch_limits(n_metrics: int, n_params: int, n_tags: int) -> None:
    _batch_limit("metrics", MAX_METRICS_PER_BATCH, n_metrics)
    _batch_limit("params", MAX_PARAMS_TAGS_PER_BATCH, n_params)
    _batch_limit("tags", MAX_PARAMS_TAGS_PER_BATCH, n_tags)
    _batch_limit("metrics, params, and tags", MAX_ENTITIES_PER_BATCH, n_metrics + n_params + n_tags)


def _batch_limit(entity: str, limit: int, length: int) -> None:
    if length > limit:
        raise InvalidParameterValue(
            f"A batch logging request can contain at most {limit} {entity}. "
            f"Got {length} {entity}. Please split up {entity} across multiple"
            " requests and try again."
        )


def validate_param_keys_unique(params: Sequence[Param]) -> None:
    seen: set[str] = set()
    dupes: list[str] = []
    for p in params:
        if p.key in seen:
            dupes.append(p.key)
        seen.add(p.key)
    if dupes:
        raise InvalidParameterValue(
            f"Duplicate parameter keys have been submitted: {dupes}. Please ensure "
            "the request contains only one param value per param key."
        )


def validate_run_id(run_id: str, path: str = "run_id") -> None:
    if _RUN_ID_RE.match(run_id) is None:
        raise InvalidParameterValue(invalid_value(path, run_id))


def validate_experiment_name(name: str | None) -> str:
    if not name:
        raise InvalidParameterValue(f"Invalid experiment name: '{name or ''}'")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidParameterValue(exceeds_maximum_length("name", MAX_EXPERIMENT_NAME_LENGTH))
    return name


def parse_experiment_id(experiment_id: object) -> int:
    try:
        return int(str(experiment_id))
    except ValueError:
        raise InvalidParameterValue(
            f"Invalid experiment ID '{experiment_id}'. Experiment ID must be a valid integer."
        ) from None


def validate_artifact_location_text(location: str) -> None:
    """Before a location is resolved as a path: no NUL or other control character, which no
    file system or URI can hold (MLflow fails on them with a 500)."""
    if any(ord(ch) < 32 or ch == "\x7f" for ch in location):
        raise InvalidParameterValue(
            f"Invalid artifact location {location!r}: it contains a control character."
        )


def validate_artifact_location(location: str) -> None:
    if location.startswith("runs:"):
        raise InvalidParameterValue(
            f"Artifact location cannot be a runs:/ URI. Given: '{location}'"
        )
    if len(location) > ARTIFACT_LOCATION_MAX_LENGTH:
        raise InvalidParameterValue(
            f"Invalid artifact path length. The length of the artifact path cannot be "
            f"greater than {ARTIFACT_LOCATION_MAX_LENGTH} characters. To configure this limit, "
            "please set the MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH environment variable."
        )


def validate_dataset_inputs(inputs: Iterable[DatasetInput]) -> None:
    for item in inputs:
        d = item.dataset
        for label, value, limit in (
            ("name", d.name, MAX_DATASET_NAME_SIZE),
            ("digest", d.digest, MAX_DATASET_DIGEST_SIZE),
            ("source", d.source, MAX_DATASET_SOURCE_SIZE),
            ("schema", d.schema, MAX_DATASET_SCHEMA_SIZE),
            ("profile", d.profile, MAX_DATASET_PROFILE_SIZE),
        ):
            if value is not None and len(value) > limit:
                raise InvalidParameterValue(exceeds_maximum_length(label, limit))
        for tag in item.tags:
            if len(tag.key) > MAX_INPUT_TAG_KEY_SIZE:
                raise InvalidParameterValue(exceeds_maximum_length("key", MAX_INPUT_TAG_KEY_SIZE))
            if len(tag.value) > MAX_INPUT_TAG_VALUE_SIZE:
                raise InvalidParameterValue(
                    exceeds_maximum_length("value", MAX_INPUT_TAG_VALUE_SIZE)
                )


def validate_max_results(value: int, limit: int) -> None:
    if value < 1:
        raise InvalidParameterValue(
            f"Invalid value {value} for parameter 'max_results' supplied. It must be "
            "a positive integer"
        )
    if value > limit:
        raise InvalidParameterValue(
            f"Invalid value {value} for parameter 'max_results' supplied. It must be at "
            f"most {limit}"
        )


# --- LoggedModels ---------------------------------------------------------------------------
# MLflow checks nothing else about a LoggedModel: params and tags take any key and value (the
# columns' widths are the only limits, enforced by the database where it has them).

LOGGED_MODEL_NAME_BAD_CHARACTERS = ("/", ":", ".", "%", '"', "'")
# search_logged_models returns 50 models when max_results is absent (the proto default) and
# 100 when it is 0 (the store's default for a falsy value).
SEARCH_LOGGED_MODELS_DEFAULT_MAX_RESULTS = 50
SEARCH_LOGGED_MODELS_ZERO_MAX_RESULTS = 100
_INT32_MAX = 2**31 - 1


def validate_logged_model_name(name: str | None) -> None:
    if name is None:
        return
    if not name or any(c in name for c in LOGGED_MODEL_NAME_BAD_CHARACTERS):
        raise InvalidParameterValue(
            f"Invalid model name ({name!r}) provided. Model name must be a non-empty string "
            f"and cannot contain the following characters: {LOGGED_MODEL_NAME_BAD_CHARACTERS}"
        )


def logged_model_page_size(max_results: int | None) -> int:
    if max_results is None:
        return SEARCH_LOGGED_MODELS_DEFAULT_MAX_RESULTS
    if max_results == 0:
        return SEARCH_LOGGED_MODELS_ZERO_MAX_RESULTS
    if not 0 < max_results <= _INT32_MAX:
        # MLflow takes a negative value as an empty page with a nonsensical token.
        raise InvalidParameterValue(
            f"Invalid value {max_results} for parameter 'max_results' supplied. It must be "
            "a positive integer"
        )
    # MLflow takes any int32; a larger page is served in pages of the runs' largest, each
    # with a token for the next (the client's search_logged_models follows them).
    return min(max_results, SEARCH_MAX_RESULTS_THRESHOLD)


def validate_dataset_filter_names(names: Iterable[str | None]) -> None:
    if not all(names):
        raise InvalidParameterValue("`dataset_name` in the `datasets` clause must be specified.")


# --- runyard's bounds on request size --------------------------------------------------------


def too_deep_message() -> str:
    return (
        f"The request body is nested more than {MAX_JSON_DEPTH} levels deep; "
        "send a flatter JSON document."
    )


def check_search_text(what: str, text: str) -> None:
    """A filter string or order_by clause must be short enough to parse cheaply."""
    if len(text) > MAX_SEARCH_TEXT_LENGTH:
        raise InvalidParameterValue(
            f"The {what} is {len(text)} characters long; at most {MAX_SEARCH_TEXT_LENGTH} are "
            "allowed. Shorten it, or split the search into several requests."
        )


def check_count(what: str, count: int, limit: int) -> None:
    """At most ``limit`` entries of a repeated request field (or of a list inside a filter)."""
    if count > limit:
        raise InvalidParameterValue(
            f"The request has {count} {what}; at most {limit} are allowed. Send fewer, or split "
            "the request into several."
        )


def check_order_by(count: int) -> None:
    check_count("order_by entries", count, MAX_ORDER_BY_CLAUSES)


def check_experiment_ids(count: int) -> None:
    check_count("experiment_ids", count, MAX_SEARCH_EXPERIMENT_IDS)


# --- the model registry ---------------------------------------------------------------------

MAX_MODEL_REGISTRY_TAG_KEY_LENGTH = 250
MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH = 100_000
MAX_REGISTERED_MODEL_ALIAS_LENGTH = 255
# search_registered_models: 100 rows when max_results is absent (the proto default), at most
# 1000 (the handler's check); search_model_versions: 200,000 either way (the proto default is
# the maximum).
SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT = 100
SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD = 1000
SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT = 200_000
SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD = 200_000
LATEST_ALIAS = "latest"  # resolves to the highest version; never stored
PROMPT_TEXT_TAG = "mlflow.prompt.text"
_ALIAS_RE = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS_RE = re.compile(r"^[vV]\d+$")
_INT32_MIN = -(2**31)


def missing_value(path: str) -> str:
    return f"Missing value for required parameter '{path}'."


def validate_model_name(name: str | None, path: str = "name") -> str:
    """A registered model's name: not blank, no ``/`` or ``:``, and not a path that resolves
    to another name."""
    if name is None or not name.strip():
        raise InvalidParameterValue(missing_value(path))
    if "/" in name or ":" in name:
        raise InvalidParameterValue(
            f"Invalid model name '{name}'. Names cannot contain '/' or ':'."
        )
    if _path_not_unique(name):
        raise InvalidParameterValue(invalid_value("name", name, _bad_path_message(name)))
    return name


def validate_new_model_name(new_name: str | None) -> str:
    return validate_model_name(new_name, "new_name")


def parse_model_version(version: object) -> int:
    """A version as MLflow reads it (``int()`` of the text: `` 3`` and ``+3`` count)."""
    try:
        return int(str(version))
    except ValueError:
        raise InvalidParameterValue(
            f"Parameter 'version' must be an integer, got '{version}'."
        ) from None


def version_can_exist(version: int) -> bool:
    """Whether ``version`` fits the column: one that does not names no version (a 404, not a
    database error)."""
    return _INT32_MIN <= version <= _INT32_MAX


def validate_registered_model_tag(tag: Tag) -> None:
    validate_key_name(tag.key, "key")
    _limit("key", MAX_MODEL_REGISTRY_TAG_KEY_LENGTH, tag.key)
    _limit("value", MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH, tag.value)


def validate_model_version_tag(tag: Tag) -> None:
    validate_key_name(tag.key, "key")
    _limit("key", MAX_MODEL_REGISTRY_TAG_KEY_LENGTH, tag.key)
    if tag.key == PROMPT_TEXT_TAG and len(tag.value) > MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH:
        raise InvalidParameterValue(
            f"Prompt text exceeds max length of {MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH} characters."
        )
    _limit("value", MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH, tag.value)


def validate_alias_name(alias: str | None) -> str:
    if not alias:
        raise InvalidParameterValue("Registered model alias name cannot be empty.")
    if not _ALIAS_RE.match(alias):
        raise InvalidParameterValue(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, "
            "underscores (_), and dashes (-)."
        )
    _limit("Registered model alias name", MAX_REGISTERED_MODEL_ALIAS_LENGTH, alias)
    return alias


def validate_alias_not_reserved(alias: str) -> None:
    """``latest`` and ``v<N>`` name versions already: they cannot be set as aliases."""
    if alias.lower() == LATEST_ALIAS:
        raise InvalidParameterValue("'latest' alias name (case insensitive) is reserved.")
    if _VERSION_ALIAS_RE.match(alias):
        raise InvalidParameterValue(f"Version alias name '{alias}' is reserved.")


def canonical_stage(stage: str) -> str:
    """A stage's canonical spelling (stages are case-insensitive)."""
    for known in MODEL_VERSION_STAGES:
        if known.lower() == stage.lower():
            return known
    raise InvalidParameterValue(
        f"Invalid Model Version stage: {stage}. Value must be one of "
        f"{', '.join(MODEL_VERSION_STAGES)}."
    )


def check_archive_existing(stage: str, archive_existing_versions: bool) -> None:
    if archive_existing_versions and canonical_stage(stage) not in ACTIVE_STAGES:
        # MLflow answers this with INTERNAL_ERROR (500); it is the caller's mistake: a 400.
        raise InvalidParameterValue(
            "Model version transition cannot archive existing model versions because "
            f"'{stage}' is not an Active stage. Valid stages are {list(ACTIVE_STAGES)}"
        )


def registered_model_page_size(max_results: int | None) -> int:
    """The rows of a search_registered_models page. MLflow answers 0 with an empty page (and
    a token when anything matches) and a negative value with a database-dependent mess:
    runyard takes 0 as MLflow does and refuses a negative value."""
    if max_results is None:
        return SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT
    if max_results < 0:
        raise InvalidParameterValue(
            f"Invalid value for max_results. It must be a positive integer, but got {max_results}"
        )
    return max_results


def model_version_page_size(max_results: int | None) -> int:
    if max_results is None:
        return SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT
    if max_results < 1:
        raise InvalidParameterValue(
            f"Invalid value for max_results. It must be a positive integer, but got {max_results}"
        )
    if max_results > SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD:
        raise InvalidParameterValue(
            "Invalid value for request parameter max_results. It must be at most "
            f"{SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD}, but got value {max_results}"
        )
    return max_results
