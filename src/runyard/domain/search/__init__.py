"""MLflow's search grammar: filter strings, order_by clauses and page tokens, as a small AST.

MLflow parses filters with a general SQL tokenizer (sqlparse) and then inspects the token
groups it produced, so which strings it accepts is decided by that tokenizer's quirks as much
as by the documented grammar. To answer exactly as MLflow does, this package lexes with the same
token rules and folds tokens into groups (identifiers, comparisons, ...) the way that
tokenizer does, then applies MLflow's checks in MLflow's order with MLflow's messages. Known
gaps, all in malformed input, are listed in tests/unit/test_search_grammar.py.

Set-valued parts of MLflow's messages (valid keys, valid comparators) print in a hash-seeded
order there; here they print in a fixed order, which is one of the orders MLflow can print.

One module per grammar: ``lexer`` (the tokenizer's rules and groups every grammar parses with),
``terms`` (what a parsed filter is made of), ``runs``, ``experiments``, ``logged_models``,
``registry`` (registered models and model versions), and ``tokens`` (offset page tokens).
"""

from __future__ import annotations

from runyard.domain.search.experiments import parse_experiment_filter, parse_experiment_order_by
from runyard.domain.search.logged_models import (
    LOGGED_MODEL_COLUMNS,
    ModelDatasetFilter,
    ModelOrderBy,
    ModelOrderKey,
    decode_logged_model_token,
    encode_logged_model_token,
    parse_logged_model_filter,
    parse_logged_model_order_by,
)
from runyard.domain.search.registry import (
    parse_model_version_filter,
    parse_model_version_order_by,
    parse_registered_model_filter,
    parse_registered_model_order_by,
)
from runyard.domain.search.runs import parse_run_filter, parse_run_order_by, parse_run_search
from runyard.domain.search.terms import Comparison, Entity, OrderKey, Value
from runyard.domain.search.tokens import decode_page_token, encode_page_token, page_of

__all__ = [
    "LOGGED_MODEL_COLUMNS",
    "Comparison",
    "Entity",
    "ModelDatasetFilter",
    "ModelOrderBy",
    "ModelOrderKey",
    "OrderKey",
    "Value",
    "decode_logged_model_token",
    "decode_page_token",
    "encode_logged_model_token",
    "encode_page_token",
    "page_of",
    "parse_experiment_filter",
    "parse_experiment_order_by",
    "parse_logged_model_filter",
    "parse_logged_model_order_by",
    "parse_model_version_filter",
    "parse_model_version_order_by",
    "parse_registered_model_filter",
    "parse_registered_model_order_by",
    "parse_run_filter",
    "parse_run_order_by",
    "parse_run_search",
]
