"""The experiments grammar: search-experiments filters and order_by."""

from __future__ import annotations

from collections.abc import Sequence

from runyard.domain.search.lexer import (
    IDENT,
    PAREN,
    STRING,
    Tok,
    identifier_text,
    parse_list,
    quoted_value,
    split_clauses,
    strip_quotes,
    trim_backticks,
)
from runyard.domain.search.runs import (
    check_list_comparator,
    comparator_error,
    numeric_attribute,
    order_by_token,
)
from runyard.domain.search.terms import (
    ATTRIBUTE,
    ENTITY_ALIASES,
    METRIC_COMPARATORS,
    STRING_ATTRIBUTE_COMPARATORS,
    TAG,
    Comparison,
    Entity,
    OrderKey,
    Value,
    set_repr,
)
from runyard.errors import InvalidParameterValue

_EXPERIMENT_ATTRIBUTES = ("name", "experiment_id", "creation_time", "last_update_time")
_EXPERIMENT_NUMERIC_ATTRIBUTES = frozenset({"creation_time", "last_update_time"})
ATTRIBUTE_OR_TAG_ENTITIES = ("attribute", "tag", "tags")


# --------------------------------------------------------------------------------------------
# Experiments.


def attribute_or_tag(
    identifier: str, valid_attributes: Sequence[str], *, check_stripped: bool = True
) -> tuple[Entity, str]:
    """MLflow's identifier rule for experiments and the registry: a bare attribute, or one
    of ``ATTRIBUTE_OR_TAG_ENTITIES`` and a dot. ``check_stripped``: experiments check an
    attribute key once its quotes and backticks are stripped, the registry's filters as it was
    written. The key comes back stripped."""
    entity_text, dot, key = identifier.partition(".")
    if not dot:
        entity, key = ATTRIBUTE, identifier
    elif entity_text not in ATTRIBUTE_OR_TAG_ENTITIES:
        raise InvalidParameterValue(
            f"Invalid entity type '{entity_text}'. "
            f"Valid entity types are {ATTRIBUTE_OR_TAG_ENTITIES!r}"
        )
    else:
        entity = ENTITY_ALIASES[entity_text]
    stripped = trim_backticks(strip_quotes(key))
    checked = stripped if check_stripped else key
    if entity == ATTRIBUTE and checked not in valid_attributes:
        raise InvalidParameterValue(
            f"Invalid attribute key '{checked}' specified. "
            f"Valid keys are '{set_repr(valid_attributes)}'"
        )
    return entity, stripped


def _experiment_value(text: str, entity: str, key: str, tok: Tok) -> Value:
    raw = text[tok.start : tok.end]
    if entity == TAG:
        if tok.kind in (STRING, IDENT):
            return quoted_value(raw)
        raise InvalidParameterValue(
            f"Expected a quoted string value for tag (e.g. 'my-value'). Got value {raw}"
        )
    if key in _EXPERIMENT_NUMERIC_ATTRIBUTES:
        return numeric_attribute(raw, tok, key)
    if tok.kind in (STRING, IDENT):
        return quoted_value(raw)
    if tok.kind == PAREN:
        if key != "experiment_id":
            raise InvalidParameterValue(
                "Only ['experiment_id'] attributes support comparison with a list of quoted "
                "string values."
            )
        return parse_list(raw)
    raise InvalidParameterValue(f"Expected a quoted string value for attributes. Got value {raw}")


def _experiment_id(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidParameterValue(
            f"Invalid experiment ID '{value}'. Experiment ID must be a valid integer."
        ) from None


def _check_experiment_comparison(raw: Comparison) -> Comparison:
    """SqlAlchemyStore's experiment filter checks. Comparators are NOT upper-cased there."""
    comparator, key, value = raw.comparator, raw.key, raw.value
    if raw.entity == TAG:
        if comparator not in ("IS NULL", "IS NOT NULL", "=", "!=", "LIKE", "ILIKE"):
            raise InvalidParameterValue(f"Invalid comparator for tag: {comparator}")
        return raw
    if key == "experiment_id":
        if comparator not in ("=", "!=", "IN", "NOT IN"):
            raise InvalidParameterValue(f"Invalid comparator for experiment_id: {comparator}")
        if isinstance(value, tuple):
            ids: Value = tuple(_experiment_id(str(v)) for v in value)
        else:
            ids = _experiment_id(str(value))
        check_list_comparator(ATTRIBUTE, key, comparator, ids)
        return Comparison(ATTRIBUTE, key, comparator, ids)
    if key in _EXPERIMENT_NUMERIC_ATTRIBUTES:
        if comparator not in METRIC_COMPARATORS:
            raise comparator_error(comparator, STRING_ATTRIBUTE_COMPARATORS, closed=False)
        if isinstance(value, float):
            raise InvalidParameterValue(
                f"Invalid value for numeric attribute '{key}': {str(value)!r}"
            )
        return raw
    if comparator not in STRING_ATTRIBUTE_COMPARATORS:
        raise comparator_error(comparator, STRING_ATTRIBUTE_COMPARATORS, closed=True)
    if comparator not in ("=", "!=", "LIKE", "ILIKE"):
        raise InvalidParameterValue(f"Invalid comparator for string attribute: {comparator}")
    return raw


def parse_experiment_filter(filter_string: str | None) -> list[Comparison]:
    """Parse and validate a search_experiments filter exactly as MLflow's SQL store does."""
    if not filter_string:
        return []
    text = filter_string
    parsed: list[Comparison] = []
    for clause in split_clauses(text, quote_invalid=False):
        identifier = identifier_text(text, clause)
        entity, key = attribute_or_tag(identifier, _EXPERIMENT_ATTRIBUTES)
        if clause.right is None:
            if entity != TAG:
                raise InvalidParameterValue(
                    f"IS NULL / IS NOT NULL is only supported for tags, not for attribute '{key}'"
                )
            parsed.append(Comparison(entity, key, clause.comparator, None))
        else:
            value = _experiment_value(text, entity, key, clause.right)
            parsed.append(Comparison(entity, key, clause.comparator, value))
    return [_check_experiment_comparison(c) for c in parsed]


def parse_experiment_order_by(clauses: Sequence[str]) -> list[OrderKey]:
    """Parse search_experiments order_by clauses; ``[]`` means MLflow's default order."""
    keys: list[OrderKey] = []
    for clause in clauses:
        token, ascending = order_by_token(clause)
        entity, key = attribute_or_tag(token.strip(), _EXPERIMENT_ATTRIBUTES)
        if entity != ATTRIBUTE:
            raise InvalidParameterValue(f"Invalid order_by entity: {entity}")
        keys.append(OrderKey(entity, key, ascending))
    return keys
