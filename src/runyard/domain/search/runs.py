"""The runs grammar: search-runs filters and order_by."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from runyard.domain.search.lexer import (
    FLOAT,
    IDENT,
    INT,
    PAREN,
    STRING,
    Tok,
    grouped_statements,
    identifier_text,
    integer,
    parse_list,
    quoted_value,
    split_clauses,
    strip_quotes,
    trim_backticks,
)
from runyard.domain.search.terms import (
    ATTRIBUTE,
    DATASET,
    ENTITY_ALIASES,
    METRIC,
    METRIC_COMPARATORS,
    PARAM,
    STRING_ATTRIBUTE_COMPARATORS,
    TAG,
    Comparison,
    Entity,
    OrderKey,
    Value,
    set_repr,
)
from runyard.errors import BadRequest, InvalidParameterValue, MlflowError

# Facts from mlflow/utils/search_utils.py.

_ENTITY_LIST = "['metric', 'parameter', 'tag', 'attribute', 'dataset']"

_RUN_NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time", "created", "Created"})
_RUN_ORDER_ATTRIBUTES = (
    "artifact_uri",
    "end_time",
    "run_id",
    "run_name",
    "start_time",
    "status",
    "user_id",
    "created",
    "Created",
)
_RUN_SEARCH_ATTRIBUTES = (*_RUN_ORDER_ATTRIBUTES, "run name", "Run name", "Run Name")
_KEY_ALIASES = {
    "created": "start_time",
    "Created": "start_time",
    "run name": "run_name",
    "Run name": "run_name",
    "Run Name": "run_name",
}
_DATASET_KEYS = ("name", "digest", "context")

_PARAM_COMPARATORS = ("!=", "=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL")
_DATASET_COMPARATORS = STRING_ATTRIBUTE_COMPARATORS


# --------------------------------------------------------------------------------------------
# Runs.


def _run_identifier(identifier: str, valid_attributes: Sequence[str]) -> tuple[Entity, str]:
    entity_text, dot, key = identifier.partition(".")
    if not dot:
        entity_text, key = "attribute", identifier
    entity_text = trim_backticks(entity_text)
    entity = ENTITY_ALIASES.get(entity_text)
    if entity is None:
        raise InvalidParameterValue(
            f"Invalid entity type '{entity_text}'. Valid values are {_ENTITY_LIST}"
        )
    key = trim_backticks(strip_quotes(key))
    if entity == ATTRIBUTE and key not in valid_attributes:
        raise InvalidParameterValue(
            f"Invalid attribute key '{key}' specified. "
            f"Valid keys are '{set_repr(valid_attributes)}'"
        )
    if entity == DATASET and key not in _DATASET_KEYS:
        raise InvalidParameterValue(
            f"Invalid dataset key '{key}' specified. Valid keys are '{set_repr(_DATASET_KEYS)}'"
        )
    return entity, key


def numeric_attribute(raw: str, tok: Tok, key: str) -> Value:
    if tok.kind == INT:
        return integer(raw)
    if tok.kind == FLOAT:
        return float(raw)
    raise InvalidParameterValue(
        f"Expected numeric value type for numeric attribute: {key}. Found {raw}"
    )


def _run_value(text: str, entity: str, key: str, tok: Tok) -> Value:
    raw = text[tok.start : tok.end]
    if entity == METRIC:
        if tok.kind not in (INT, FLOAT):
            raise InvalidParameterValue(f"Expected numeric value type for metric. Found {raw}")
        return float(raw)
    if entity in (PARAM, TAG):
        if tok.kind in (STRING, IDENT):
            return quoted_value(raw)
        raise InvalidParameterValue(
            f"Expected a quoted string value for {entity} (e.g. 'my-value'). Got value {raw}"
        )
    if entity == ATTRIBUTE:
        if key in _RUN_NUMERIC_ATTRIBUTES:
            return numeric_attribute(raw, tok, key)
        if tok.kind in (STRING, IDENT):
            return quoted_value(raw)
        if tok.kind == PAREN:
            if key != "run_id":
                raise InvalidParameterValue(
                    "Only ['run_id'] attributes support comparison with a list of quoted "
                    "string values."
                )
            return parse_list(raw)
        raise InvalidParameterValue(
            f"Expected a quoted string value for attributes. Got value {raw}"
        )
    if tok.kind in (STRING, IDENT):
        return quoted_value(raw)
    if tok.kind == PAREN:
        return parse_list(raw)
    raise InvalidParameterValue(
        f"Expected a quoted string value for dataset attributes. Got value {raw}"
    )


def _parse_run_syntax(filter_string: str | None) -> list[Comparison]:
    """SearchUtils.parse_search_filter: syntax and value types, comparators as written."""
    if not filter_string:
        return []
    text = filter_string
    parsed: list[Comparison] = []
    for clause in split_clauses(text, quote_invalid=True):
        entity, key = _run_identifier(identifier_text(text, clause), _RUN_SEARCH_ATTRIBUTES)
        if clause.right is None:
            if entity not in (TAG, PARAM):
                raise InvalidParameterValue(
                    "IS NULL / IS NOT NULL is only supported for tags and params, "
                    f"not for '{entity}' '{key}'"
                )
            parsed.append(Comparison(entity, key, clause.comparator, None))
        else:
            value = _run_value(text, entity, key, clause.right)
            parsed.append(Comparison(entity, key, clause.comparator, value))
    return parsed


def comparator_error(comparator: str, allowed: Sequence[str], closed: bool) -> MlflowError:
    # Some of MLflow's messages lack the closing quote; reproduced as they are.
    tail = "'" if closed else ""
    return InvalidParameterValue(
        f"Invalid comparator '{comparator}' not one of '{set_repr(allowed)}{tail}"
    )


def _check_run_comparator(raw: Comparison) -> Comparison:
    """The comparator checks SqlAlchemyStore applies after parsing, in its order."""
    comparator = raw.comparator.upper()
    key = _KEY_ALIASES.get(raw.key, raw.key)  # for every entity type, as MLflow does
    if raw.entity == ATTRIBUTE:
        if key in _RUN_NUMERIC_ATTRIBUTES:
            if comparator not in METRIC_COMPARATORS:
                # MLflow lists the string comparators here.
                raise comparator_error(comparator, STRING_ATTRIBUTE_COMPARATORS, closed=False)
        elif comparator not in STRING_ATTRIBUTE_COMPARATORS:
            raise comparator_error(comparator, STRING_ATTRIBUTE_COMPARATORS, closed=True)
    elif raw.entity == METRIC:
        if comparator not in METRIC_COMPARATORS:
            raise comparator_error(comparator, METRIC_COMPARATORS, closed=False)
    elif raw.entity == PARAM:
        if comparator not in _PARAM_COMPARATORS:
            raise comparator_error(comparator, _PARAM_COMPARATORS, closed=True)
    elif raw.entity == TAG:
        if comparator not in _PARAM_COMPARATORS:
            raise comparator_error(comparator, _PARAM_COMPARATORS, closed=False)
    elif comparator not in _DATASET_COMPARATORS:
        raise comparator_error(comparator, _DATASET_COMPARATORS, closed=False)
    check_list_comparator(raw.entity, key, comparator, raw.value)
    return Comparison(raw.entity, key, comparator, raw.value)


def check_list_comparator(entity: str, key: str, comparator: str, value: Value) -> None:
    # MLflow passes a list compared with =, LIKE, ... to the driver, which rejects it (400
    # BAD_REQUEST carrying the driver's message); same code and status here, plainer words.
    if isinstance(value, tuple) and comparator not in ("IN", "NOT IN"):
        raise BadRequest(
            f"Cannot compare {entity} '{key}' with a list of values using '{comparator}'; "
            "use IN or NOT IN."
        )


def parse_run_filter(filter_string: str | None) -> list[Comparison]:
    """Parse and validate a search_runs filter exactly as MLflow's SQL store does."""
    return [_check_run_comparator(c) for c in _parse_run_syntax(filter_string)]


def order_by_token(clause: str) -> tuple[str, bool]:
    """SearchUtils._parse_order_by_string: the identifier text and the direction."""
    statements = grouped_statements(clause, "order_by clause")
    cannot = InvalidParameterValue(f"Invalid order_by clause '{clause}'. Could not be parsed.")
    if len(statements) != 1:
        raise cannot
    grouped = statements[0]
    if len(grouped) != 1 or grouped[0].kind != IDENT:
        raise cannot
    value = clause[grouped[0].start : grouped[0].end]
    try:
        words = shlex.split(value.replace("`", '"'))
    except ValueError:  # unbalanced quotes: MLflow fails with a 500 here
        raise cannot from None
    if len(words) > 2:
        raise cannot
    if len(words) == 2:
        direction = words[1].lower()
        if direction not in ("asc", "desc"):
            raise InvalidParameterValue(f"Invalid ordering key in order_by clause '{clause}'.")
        return words[0], direction == "asc"
    return value, True


def parse_run_order_by(clauses: Sequence[str]) -> list[OrderKey]:
    """Parse search_runs order_by clauses (``<identifier> [ASC|DESC]``)."""
    keys: list[OrderKey] = []
    seen: set[tuple[str, str]] = set()
    for clause in clauses:
        token, ascending = order_by_token(clause)
        entity, key = _run_identifier(token.strip(), _RUN_ORDER_ATTRIBUTES)
        key = _KEY_ALIASES.get(key, key)  # for every entity type, as MLflow does
        if entity == DATASET:
            raise InvalidParameterValue(f"Invalid identifier type '{entity}'")
        if (entity, key) in seen:
            # MLflow answers this with INTERNAL_ERROR (500), which the client retries seven
            # times; it is the caller's mistake, so runyard says so with a 400.
            raise InvalidParameterValue(f"`order_by` contains duplicate fields: {list(clauses)!r}")
        seen.add((entity, key))
        keys.append(OrderKey(entity, key, ascending))
    return keys


def parse_run_search(
    filter_string: str | None, order_by: Sequence[str]
) -> tuple[list[Comparison], list[OrderKey]]:
    """Both halves of a search_runs request, failing on the error MLflow reports first.

    MLflow checks the filter's syntax, then the order_by clauses, then the filter's
    comparators; calling the two parsers one after the other differs only in which of two
    errors a doubly-wrong request reports.
    """
    raw = _parse_run_syntax(filter_string)
    ordering = parse_run_order_by(order_by)
    return [_check_run_comparator(c) for c in raw], ordering
