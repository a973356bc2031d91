"""The logged-models grammar, its structured order_by and its page tokens."""

from __future__ import annotations

import ast
import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from runyard.domain.search.lexer import (
    COMPARE,
    Clause,
    Tok,
    grouped_statements,
    join_clauses,
)
from runyard.domain.search.runs import check_list_comparator
from runyard.domain.search.terms import (
    ATTRIBUTE,
    METRIC,
    PARAM,
    TAG,
    Comparison,
    Entity,
    Value,
    set_repr,
)
from runyard.domain.search.tokens import MAX_OFFSET
from runyard.errors import AttributeNotFound, InvalidParameterValue

# --------------------------------------------------------------------------------------------
# LoggedModels: a grammar of its own (mlflow/utils/search_logged_model_utils.py), structured
# order_by clauses, and page tokens that echo the request they belong to.

# logged_models columns a filter or order_by may name, and MLflow's aliases for them.
LOGGED_MODEL_COLUMNS = (
    "model_id",
    "experiment_id",
    "name",
    "artifact_location",
    "creation_timestamp_ms",
    "last_updated_timestamp_ms",
    "status",
    "lifecycle_stage",
    "model_type",
    "source_run_id",
    "status_message",
)
_LOGGED_MODEL_ALIASES = {
    "creation_time": "creation_timestamp_ms",
    "creation_timestamp": "creation_timestamp_ms",
    "last_updated_timestamp": "last_updated_timestamp_ms",
}
_LOGGED_MODEL_NUMERIC = frozenset({"creation_timestamp_ms", "last_updated_timestamp_ms"})
_LOGGED_MODEL_ENTITIES: dict[str, Entity] = {
    "attributes": ATTRIBUTE,
    "metrics": METRIC,
    "params": PARAM,
    "tags": TAG,
}
_LOGGED_MODEL_ENTITY_NAMES = {entity: name for name, entity in _LOGGED_MODEL_ENTITIES.items()}
_LOGGED_MODEL_NUMERIC_OPS = ("<", "<=", ">", ">=", "=", "!=")
_LOGGED_MODEL_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
_LOGGED_MODEL_IDENTIFIER = re.compile(r"^([a-z]+)\.(.+)$")


@dataclass(frozen=True, slots=True)
class ModelOrderBy:
    """One order_by clause of a search_logged_models request, as the client sent it."""

    field_name: str
    ascending: bool = True
    dataset_name: str | None = None
    dataset_digest: str | None = None

    def as_token_entry(self) -> dict[str, object]:
        return {
            "field_name": self.field_name,
            "ascending": self.ascending,
            "dataset_name": self.dataset_name,
            "dataset_digest": self.dataset_digest,
        }


@dataclass(frozen=True, slots=True)
class ModelOrderKey:
    """A resolved order_by clause: a logged_models column, or the latest value of a metric
    (only among the metrics of ``dataset_name``/``dataset_digest`` when those are given)."""

    entity: Entity  # ATTRIBUTE or METRIC
    key: str
    ascending: bool
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass(frozen=True, slots=True)
class ModelDatasetFilter:
    """An entry of search_logged_models' ``datasets``: which metrics count."""

    name: str
    digest: str | None = None


def _model_entity(identifier: str) -> tuple[Entity, str]:
    found = _LOGGED_MODEL_IDENTIFIER.match(identifier)
    if found is None:
        key = _LOGGED_MODEL_ALIASES.get(identifier, identifier).strip("`")
        return ATTRIBUTE, key
    entity = _LOGGED_MODEL_ENTITIES.get(found.group(1))
    if entity is None:
        raise InvalidParameterValue(
            f"Invalid entity type: {found.group(1)!r}. "
            f"Expected one of {list(_LOGGED_MODEL_ENTITIES)}."
        )
    key = found.group(2).strip("`")
    if entity == ATTRIBUTE:
        # MLflow resolves aliases only for bare names (and fails on `attributes.<alias>`).
        key = _LOGGED_MODEL_ALIASES.get(key, key)
    return entity, key


def _model_value(entity: Entity, key: str, shown: str, comparator: str, raw: str) -> Value:
    numeric = entity == METRIC or (entity == ATTRIBUTE and key in _LOGGED_MODEL_NUMERIC)
    if numeric:
        try:
            return float(raw)
        except ValueError:  # MLflow answers a 500 here
            raise InvalidParameterValue(
                f"Invalid value {raw} for {shown}: expected a number."
            ) from None
    if raw.startswith("(") and raw.endswith(")"):
        try:
            parsed = ast.literal_eval(raw)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise InvalidParameterValue(f"Invalid list value {raw} for {shown}.") from None
        items = parsed if isinstance(parsed, tuple) else (parsed,)
        if not items or not all(isinstance(i, str | int | float) for i in items):
            raise InvalidParameterValue(f"Invalid list value {raw} for {shown}.")
        values = tuple(str(i) for i in items)
        check_list_comparator(entity, key, comparator, values)
        return values
    return raw.strip("'")


def _model_comparison(text: str, left: Tok, comparator: str, right: Tok) -> Comparison:
    entity, key = _model_entity(text[left.start : left.end])
    shown = f"{_LOGGED_MODEL_ENTITY_NAMES[entity]}.{key}"
    numeric = entity == METRIC or (entity == ATTRIBUTE and key in _LOGGED_MODEL_NUMERIC)
    allowed = _LOGGED_MODEL_NUMERIC_OPS if numeric else _LOGGED_MODEL_STRING_OPS
    op = comparator.upper()
    if op not in allowed:
        raise InvalidParameterValue(
            f"Invalid comparison operator for {shown}: {op!r}. Expected one of {allowed}."
        )
    if entity == ATTRIBUTE and key not in LOGGED_MODEL_COLUMNS:
        # MLflow fails with a 500 when it builds the query.
        raise InvalidParameterValue(
            f"Invalid attribute key '{key}' specified. "
            f"Valid keys are '{set_repr(LOGGED_MODEL_COLUMNS)}'"
        )
    value = _model_value(entity, key, shown, op, text[right.start : right.end])
    return Comparison(entity, key, op, value)


def parse_logged_model_filter(filter_string: str | None) -> list[Comparison]:
    """Parse a search_logged_models filter as MLflow does.

    Comparisons are AND-ed; ``value`` is a float for metrics and the two timestamps, a tuple
    of strings for a parenthesised list, else the text with single quotes stripped (MLflow
    keeps double quotes and accepts unquoted words). Every attribute compares as text.
    """
    if not filter_string:
        return []
    text = filter_string
    statements = grouped_statements(text, "filter")
    if len(statements) != 1:
        raise InvalidParameterValue(
            f"Invalid filter string: {text!r}. Expected a single SQL expression."
        )
    parsed: list[Comparison] = []
    for item in join_clauses(text, statements[0]):
        if isinstance(item, Clause):
            left = text[item.left.start : item.left.end]
            if item.right is None:
                raise InvalidParameterValue(
                    f"Invalid comparison: {left}{item.comparator}. "
                    "Expected a comparison with 3 tokens."
                )
            parsed.append(_model_comparison(text, item.left, item.comparator, item.right))
        elif item.kind == COMPARE:
            left_tok, op, right_tok = item.parts
            parsed.append(_model_comparison(text, left_tok, text[op.start : op.end], right_tok))
        elif item.norm != "AND":
            raise InvalidParameterValue(
                f"Invalid filter string: {text!r}. Expected a list of comparisons separated by "
                "'AND' (e.g. 'metrics.loss > 0.1 AND params.lr = 0.01')."
            )
    return parsed


def parse_logged_model_order_by(clauses: Sequence[ModelOrderBy]) -> list[ModelOrderKey]:
    keys: list[ModelOrderKey] = []
    for clause in clauses:
        field_name = clause.field_name
        if "." not in field_name:
            name = _LOGGED_MODEL_ALIASES.get(field_name, field_name)
            if name not in LOGGED_MODEL_COLUMNS:
                raise AttributeNotFound(f"Invalid order by field name: {field_name}")
            keys.append(ModelOrderKey(ATTRIBUTE, name, clause.ascending))
            continue
        entity, name = field_name.split(".", 1)
        if entity != "metrics":
            raise InvalidParameterValue(
                f"Invalid order by field name: {field_name}. Only metrics are supported."
            )
        keys.append(
            ModelOrderKey(
                METRIC, name, clause.ascending, clause.dataset_name, clause.dataset_digest
            )
        )
    return keys


def encode_logged_model_token(
    experiment_ids: Sequence[str],
    filter_string: str | None,
    order_by: Sequence[ModelOrderBy],
    offset: int,
) -> str:
    """MLflow's LoggedModel page token: the request it continues, and the offset."""
    echoed = {
        "experiment_ids": list(experiment_ids),
        "filter_string": filter_string,
        "order_by": [o.as_token_entry() for o in order_by] or None,
        "offset": offset,
    }
    return base64.b64encode(json.dumps(echoed).encode("utf-8")).decode("utf-8")


def decode_logged_model_token(
    token: str | None,
    experiment_ids: Sequence[str],
    filter_string: str | None,
    order_by: Sequence[ModelOrderBy],
) -> int:
    """The offset of a LoggedModel page token, which must echo this very request."""
    if not token:
        return 0
    try:
        parsed = json.loads(base64.b64decode(token.encode("utf-8")).decode("utf-8"))
    except (ValueError, binascii.Error, RecursionError) as exc:  # JSON, base64, UTF-8, depth
        raise InvalidParameterValue(f"Invalid page token: {token}. {exc}") from None
    if not isinstance(parsed, dict):
        raise InvalidParameterValue(f"Invalid page token: {token}.")
    found_ids = parsed.get("experiment_ids")
    if found_ids != list(experiment_ids):
        raise InvalidParameterValue(
            "Experiment IDs in the page token do not match the requested experiment IDs. "
            f"Expected: {list(experiment_ids)}. Found: {found_ids}"
        )
    found_filter = parsed.get("filter_string") or None
    if found_filter != filter_string:
        raise InvalidParameterValue(
            "Filter string in the page token does not match the requested filter string. "
            f"Expected: {filter_string}. Found: {found_filter}"
        )
    wanted_order = [o.as_token_entry() for o in order_by] or None
    found_order = parsed.get("order_by") or None
    if found_order != wanted_order:
        raise InvalidParameterValue(
            "Order by in the page token does not match the requested order by. "
            f"Expected: {wanted_order}. Found: {found_order}"
        )
    offset = parsed.get("offset") or 0
    if type(offset) is not int or not 0 <= offset <= MAX_OFFSET:
        raise InvalidParameterValue(f"Invalid page token: {token}. Bad offset {offset!r}.")
    return offset
