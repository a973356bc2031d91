"""The model registry grammars: search_registered_models and search_model_versions.

MLflow parses these filters with ``SearchModelUtils`` / ``SearchModelVersionUtils`` and then
checks comparators while its SQL store builds the query; order_by clauses are parsed by the
store with its own key tables. Both halves are reproduced here, checks in MLflow's order and
with MLflow's messages.

Keys are returned as runyard's column names (``store/schema.py``), so the store maps them to
columns directly; entity is ``"attribute"`` (a column) or ``"tag"`` (a tag key):

==============================  =======================  ===================================
MLflow key                      registered_models        model_versions
==============================  =======================  ===================================
``name``                        filter, order_by: name   filter, order_by: name
``version_number``              --                       filter, order_by: version
``run_id``                      --                       filter: run_id
``source_path``                 --                       filter: source
``creation_timestamp``          --                       order_by: creation_time
``last_updated_timestamp``      order_by:                order_by: last_updated_time
                                last_updated_time
``timestamp``                   order_by:                --
                                last_updated_time
``tags.<k>`` / ``tag.<k>``      filter: tag ``k``        filter: tag ``k``
==============================  =======================  ===================================

Filters: comparisons AND-ed, comparators upper-case. Attributes take ``=``, ``!=``, ``LIKE``,
``ILIKE`` and ``IN`` / ``NOT IN`` with a list (``name``; also ``run_id`` for versions);
``version_number`` takes ``=  != < <= > >=`` and its value is always an int (MLflow accepts
``'3'`` as 3). Tags take ``=``, ``!=``, ``LIKE``, ``ILIKE`` and a quoted string; MLflow's SQL
store rejects ``IS [NOT] NULL``. A filter on the tag ``mlflow.prompt.is_prompt`` is parsed
like any other: what it means (prompts are hidden unless asked for) is the store's business.

order_by: the returned list is the complete ORDER BY, MLflow's tie-breakers included
(``name`` ascending, and for versions ``version`` descending; versions default to
``last_updated_timestamp DESC``). Two clauses naming the same column are refused.
"""

from __future__ import annotations

from collections.abc import Sequence

from runyard.domain.search.experiments import attribute_or_tag
from runyard.domain.search.lexer import (
    FLOAT,
    IDENT,
    INT,
    KEYWORD,
    ORDER,
    PAREN,
    STRING,
    WS,
    Tok,
    grouped_statements,
    identifier_text,
    parse_list,
    quoted_value,
    split_clauses,
)
from runyard.domain.search.runs import check_list_comparator, numeric_attribute, order_by_token
from runyard.domain.search.terms import (
    ATTRIBUTE,
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

# Facts from mlflow/utils/search_utils.py and mlflow/store/model_registry/sqlalchemy_store.py.

_MODEL_FILTER_KEYS = ("name",)
_VERSION_FILTER_KEYS = ("name", "version_number", "run_id", "source_path")
_VERSION_LIST_KEYS = ("name", "run_id")
_VERSION_NUMERIC_KEYS = ("version_number", "creation_timestamp", "last_updated_timestamp")
_TAG_COMPARATORS = ("=", "!=", "LIKE", "ILIKE")

_MODEL_ORDER_COLUMNS = {
    "name": "name",
    "timestamp": "last_updated_time",
    "last_updated_timestamp": "last_updated_time",
}
_MODEL_ORDER_KEYS_SHOWN = ("name", "timestamp")  # the keys MLflow's message recommends
_VERSION_ORDER_COLUMNS = {
    "name": "name",
    "version_number": "version",
    "creation_timestamp": "creation_time",
    "last_updated_timestamp": "last_updated_time",
}
_VERSION_ORDER_KEYS = tuple(_VERSION_ORDER_COLUMNS)
_VERSION_DEFAULT_ORDER = ("last_updated_timestamp DESC", "name ASC", "version_number DESC")
_VERSION_FILTER_COLUMNS = {"version_number": "version", "source_path": "source"}


# --------------------------------------------------------------------------------------------
# Filters.


def _filter_identifier(identifier: str, valid_attributes: Sequence[str]) -> tuple[Entity, str]:
    """The registry's identifier rule: unlike experiments', an attribute key is checked as
    written, before its quotes or backticks are stripped."""
    return attribute_or_tag(identifier, valid_attributes, check_stripped=False)


def _tag_value(raw: str, tok: Tok) -> str:
    if tok.kind in (STRING, IDENT):
        return quoted_value(raw)
    raise InvalidParameterValue(
        f"Expected a quoted string value for tag (e.g. 'my-value'). Got value {raw}"
    )


def _not_a_string(raw: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        "Expected a quoted string value or a list of quoted string values for attributes. "
        f"Got value {raw}"
    )


def _model_value(text: str, entity: Entity, tok: Tok) -> Value:
    raw = text[tok.start : tok.end]
    if entity == TAG:
        return _tag_value(raw, tok)
    if tok.kind in (STRING, IDENT):
        return quoted_value(raw)
    if tok.kind == PAREN:  # the one attribute, name, takes lists
        return parse_list(raw)
    raise _not_a_string(raw)


def _version_value(text: str, entity: Entity, key: str, tok: Tok) -> Value:
    raw = text[tok.start : tok.end]
    if entity == TAG:
        return _tag_value(raw, tok)
    if tok.kind in (STRING, IDENT):
        return quoted_value(raw)
    if tok.kind == PAREN:
        if key not in _VERSION_LIST_KEYS:
            raise InvalidParameterValue(
                f"Only {sorted(_VERSION_LIST_KEYS)} attributes support comparison with a list "
                "of quoted string values."
            )
        return parse_list(raw)
    if tok.kind in (INT, FLOAT):
        if key not in _VERSION_NUMERIC_KEYS:
            raise InvalidParameterValue(
                f"Only the '{set_repr(_VERSION_NUMERIC_KEYS)}' attributes support comparison "
                "with numeric values."
            )
        return numeric_attribute(raw, tok, key)
    raise _not_a_string(raw)


def _parse_clauses(
    filter_string: str | None, valid_attributes: Sequence[str], versions: bool
) -> list[Comparison]:
    """The parse half (SearchModel[Version]Utils.parse_search_filter): syntax, keys, values."""
    if not filter_string:
        return []
    text = filter_string
    parsed: list[Comparison] = []
    for clause in split_clauses(text, quote_invalid=False):
        identifier = identifier_text(text, clause)
        if clause.right is None:
            # MLflow's registry parser fails with a 500 on these (it unpacks three tokens
            # from a two-token clause): refused as the caller's mistake instead.
            raise InvalidParameterValue(
                f"Invalid comparison clause '{identifier} {clause.comparator}': "
                "IS NULL / IS NOT NULL is not supported in model registry searches."
            )
        entity, key = _filter_identifier(identifier, valid_attributes)
        comparator = clause.comparator.upper()
        if versions:
            value = _version_value(text, entity, key, clause.right)
        else:
            value = _model_value(text, entity, clause.right)
        parsed.append(Comparison(entity, key, comparator, value))
    return parsed


def _check_tag(raw: Comparison) -> Comparison:
    if raw.comparator not in _TAG_COMPARATORS:
        raise InvalidParameterValue(f"Invalid comparator for tag: {raw.comparator}")
    return raw


def _check_model_comparison(raw: Comparison) -> Comparison:
    """What SqlAlchemyStore checks while it builds a registered-model query."""
    if raw.entity == TAG:
        return _check_tag(raw)
    if raw.comparator not in STRING_ATTRIBUTE_COMPARATORS:
        raise InvalidParameterValue(f"Invalid comparator for attribute: {raw.comparator}")
    check_list_comparator(raw.entity, raw.key, raw.comparator, raw.value)
    return raw


def _check_version_comparison(raw: Comparison) -> Comparison:
    """What SqlAlchemyStore checks while it builds a model-version query."""
    if raw.entity == TAG:
        return _check_tag(raw)
    key, comparator, value = raw.key, raw.comparator, raw.value
    if key == "version_number":
        if comparator not in METRIC_COMPARATORS:
            raise InvalidParameterValue(f"Invalid comparator for attribute {key}: {comparator}")
        invalid = InvalidParameterValue(f"Invalid value for numeric attribute '{key}': {value!r}")
        if not isinstance(value, int | str):  # a float: MLflow refuses 3.0 as well
            raise invalid
        try:
            value = int(value)  # Python's rules, as MLflow's: ' 3', '+3' and '3_0' count
        except ValueError:
            raise invalid from None
    elif comparator not in STRING_ATTRIBUTE_COMPARATORS or (
        comparator in ("IN", "NOT IN") and key not in _VERSION_LIST_KEYS
    ):
        raise InvalidParameterValue(f"Invalid comparator for attribute: {comparator}")
    check_list_comparator(raw.entity, key, comparator, value)
    return Comparison(ATTRIBUTE, _VERSION_FILTER_COLUMNS.get(key, key), comparator, value)


def parse_registered_model_filter(filter_string: str | None) -> list[Comparison]:
    """Parse and check a search_registered_models filter as MLflow's SQL store does."""
    parsed = _parse_clauses(filter_string, _MODEL_FILTER_KEYS, versions=False)
    return [_check_model_comparison(c) for c in parsed]


def parse_model_version_filter(filter_string: str | None) -> list[Comparison]:
    """Parse and check a search_model_versions filter as MLflow's SQL store does."""
    parsed = _parse_clauses(filter_string, _VERSION_FILTER_KEYS, versions=True)
    return [_check_version_comparison(c) for c in parsed]


# --------------------------------------------------------------------------------------------
# order_by.


def _order_by_text(clause: str) -> tuple[str, bool]:
    """SearchUtils._parse_order_by_string: the key as written and the direction.

    On top of what runs accept, a bare lower-case ``timestamp`` (optionally followed by
    ASC/DESC) is taken as the key ``timestamp``: the tokenizer does not make that word an
    identifier, so MLflow tests for it separately, spelled exactly so.
    """
    statements = grouped_statements(clause, "order_by clause")
    if len(statements) == 1:
        tokens = statements[0]
        first, last = tokens[0], tokens[-1]
        if first.kind == KEYWORD and clause[first.start : first.end] == "timestamp":
            if len(tokens) == 1:
                return "timestamp", True
            if last.kind == ORDER and all(t.kind == WS for t in tokens[1:-1]):
                direction = clause[last.start : last.end].lower()
                if direction in ("asc", "desc"):
                    return "timestamp", direction == "asc"
                # ``NULLS FIRST`` and the like: more than two words, MLflow cannot parse it
    return order_by_token(clause)


def _duplicate(clauses: Sequence[str]) -> InvalidParameterValue:
    # MLflow answers this with INTERNAL_ERROR (500), which clients retry; it is the caller's
    # mistake, so runyard says so with a 400, as for runs.
    return InvalidParameterValue(f"`order_by` contains duplicate fields: {list(clauses)!r}")


def parse_registered_model_order_by(clauses: Sequence[str]) -> list[OrderKey]:
    """The ORDER BY of a search_registered_models request, tie-breaker included."""
    keys: list[OrderKey] = []
    seen: set[str] = set()
    for clause in clauses:
        token, ascending = _order_by_text(clause)
        token = token.strip()
        column = _MODEL_ORDER_COLUMNS.get(token)
        if column is None:
            raise InvalidParameterValue(
                f"Invalid order by key '{token}' specified. "
                f"Valid keys are '{set_repr(_MODEL_ORDER_KEYS_SHOWN)}'"
            )
        if column in seen:  # ``timestamp`` and ``last_updated_timestamp`` are one column
            raise _duplicate(clauses)
        seen.add(column)
        keys.append(OrderKey(ATTRIBUTE, column, ascending))
    if "name" not in seen:
        keys.append(OrderKey(ATTRIBUTE, "name", True))
    return keys


def parse_model_version_order_by(clauses: Sequence[str]) -> list[OrderKey]:
    """The ORDER BY of a search_model_versions request, default and tie-breakers included.

    MLflow reads order_by keys with the experiments' identifier rule and then looks only at the
    key, so ``tags.name`` orders by the name column like ``name`` does.
    """
    clauses = list(clauses) or list(_VERSION_DEFAULT_ORDER)
    keys: list[OrderKey] = []
    seen: set[str] = set()
    for clause in clauses:
        token, ascending = _order_by_text(clause)
        _, key = attribute_or_tag(token.strip(), _VERSION_ORDER_KEYS)
        column = _VERSION_ORDER_COLUMNS.get(key)
        if column is None:  # a tag whose key is not one of the columns
            raise InvalidParameterValue(
                f"Invalid order by key '{key}' specified. "
                f"Valid keys are {set_repr(_VERSION_ORDER_KEYS)}"
            )
        if column in seen:
            raise _duplicate(clauses)
        seen.add(column)
        keys.append(OrderKey(ATTRIBUTE, column, ascending))
    if "name" not in seen:
        keys.append(OrderKey(ATTRIBUTE, "name", True))
    if "version" not in seen:
        keys.append(OrderKey(ATTRIBUTE, "version", False))
    return keys
