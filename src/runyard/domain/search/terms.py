"""What a parsed filter and order_by are made of, and the facts the grammars share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Entity = Literal["metric", "parameter", "tag", "attribute", "dataset"]  # MLflow's names
Value = str | int | float | tuple[str, ...] | tuple[int, ...] | None

METRIC: Entity = "metric"
PARAM: Entity = "parameter"
TAG: Entity = "tag"
ATTRIBUTE: Entity = "attribute"
DATASET: Entity = "dataset"


@dataclass(frozen=True, slots=True)
class Comparison:
    """One AND-ed clause of a filter.

    In run filters ``key`` has MLflow's aliases resolved (``created`` -> ``start_time``, ``run
    name`` -> ``run_name``; MLflow does so whatever the entity) and ``comparator`` is
    upper-case. ``value`` is a float for metrics, an int or float for numeric attributes, an
    int (tuple of ints) for ``experiment_id``, a tuple of strings for other IN / NOT IN, None
    for IS [NOT] NULL, otherwise a string.
    """

    entity: Entity
    key: str
    comparator: str
    value: Value


@dataclass(frozen=True, slots=True)
class OrderKey:
    entity: Entity
    key: str
    ascending: bool


# Facts from mlflow/utils/search_utils.py shared by the grammars.

ENTITY_ALIASES: dict[str, Entity] = {
    "metric": METRIC,
    "metrics": METRIC,
    "parameter": PARAM,
    "parameters": PARAM,
    "param": PARAM,
    "params": PARAM,
    "tag": TAG,
    "tags": TAG,
    "attribute": ATTRIBUTE,
    "attr": ATTRIBUTE,
    "attributes": ATTRIBUTE,
    "run": ATTRIBUTE,
    "dataset": DATASET,
    "datasets": DATASET,
}

METRIC_COMPARATORS = (">", ">=", "!=", "=", "<", "<=")
STRING_ATTRIBUTE_COMPARATORS = ("!=", "=", "LIKE", "ILIKE", "IN", "NOT IN")


def set_repr(items: Iterable[str]) -> str:
    """A Python set literal, as MLflow's messages print ``{...}``."""
    return "{" + ", ".join(repr(item) for item in items) + "}"
