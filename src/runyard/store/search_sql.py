"""Parsed search filters and orderings as one SQLAlchemy Core query over MLflow's tables.

Semantics are MLflow's SqlAlchemyStore's, made identical on SQLite and PostgreSQL:

* every filter on params, tags, metrics, datasets and the run name is an EXISTS on the
  child table's (key, run_uuid) key: a run matches ``params.p != 'x'`` only if it has ``p``;
* ``=``, ``!=``, IN and LIKE are case-sensitive, ILIKE is not. LIKE patterns follow
  PostgreSQL, on SQLite too (where they run as an equivalent GLOB): ``%`` and ``_`` are
  wildcards, a backslash makes the next character literal, and ILIKE folds non-ASCII
  letters as well (MLflow's SQLite store does neither);
* NaN metrics match only ``!=``; ordering puts NULLs (and, for metrics, NaN right before
  them) last in both directions, then ``start_time DESC`` unless ordered on, then run_uuid;
* strings sort by code point on both databases (``COLLATE "C"`` on PostgreSQL).

Each order key costs one outer join on the child table's primary key, so a query touches
each matching run once: no run x params x metrics product.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from runyard.domain.entities import RUN_NAME_TAG
from runyard.domain.search import Comparison, OrderKey, Value
from runyard.errors import InvalidParameterValue
from runyard.store.schema import (
    datasets,
    experiment_tags,
    experiments,
    input_tags,
    inputs,
    latest_metrics,
    params,
    runs,
    tags,
)

__all__ = ["compare", "select_experiment_ids", "select_run_ids", "sort_key", "tagged"]

_STAGES = {
    "ACTIVE_ONLY": ("active",),
    "DELETED_ONLY": ("deleted",),
    "ALL": ("active", "deleted"),
}
_DATASET_CONTEXT_TAG = "mlflow.data.context"
_INT64 = 2**63 - 1

_RUN_COLUMNS: dict[str, sa.Column[Any]] = {
    "run_id": runs.c.run_uuid,
    "run_name": runs.c.name,
    "status": runs.c.status,
    "user_id": runs.c.user_id,
    "artifact_uri": runs.c.artifact_uri,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
}
_EXPERIMENT_COLUMNS: dict[str, sa.Column[Any]] = {
    "name": experiments.c.name,
    "experiment_id": experiments.c.experiment_id,
    "creation_time": experiments.c.creation_time,
    "last_update_time": experiments.c.last_update_time,
}
_CHILD_TABLES = {"metric": latest_metrics, "parameter": params, "tag": tags}


# --------------------------------------------------------------------------------------------
# One expression per dialect, picked when the statement compiles: the query builders do not
# know which database will run them.


class _PostgresOr(ColumnElement[Any]):
    """``postgres`` on PostgreSQL, ``other`` on every other dialect."""

    inherit_cache = True
    _traverse_internals = [
        ("postgres", InternalTraversal.dp_clauseelement),
        ("other", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, postgres: ColumnElement[Any], other: ColumnElement[Any]) -> None:
        self.postgres = postgres
        self.other = other
        # Untyped on purpose: a Boolean type would make SQLite render "<expr> = 1" in WHERE.
        self.type = sa.types.NullType()


@compiles(_PostgresOr)
def _compile_other(element: _PostgresOr, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.other, **kw)


@compiles(_PostgresOr, "postgresql")
def _compile_postgres(element: _PostgresOr, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.postgres, **kw)


def _sort_key(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """Strings by code point, as SQLite's default BINARY collation orders them."""
    if isinstance(column.type, sa.String):
        return _PostgresOr(column.collate("C"), column)
    return column


# --------------------------------------------------------------------------------------------
# Comparisons


def _like_pattern(pattern: str, ignore_case: bool) -> tuple[str, str]:
    """The LIKE pattern in canonical PostgreSQL form, and the equivalent SQLite GLOB.

    A trailing lone backslash, an error on PostgreSQL, is taken as a literal backslash. For
    ILIKE each letter becomes a GLOB class of its case variants (``[aA]``), so SQLite folds
    case over all of Unicode as PostgreSQL does, not over ASCII only as SQLite's lower().
    """
    like: list[str] = []
    glob: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "%":
            like.append("%")
            glob.append("*")
        elif char == "_":
            like.append("_")
            glob.append("?")
        else:
            literal = next(chars, "\\") if char == "\\" else char
            like.append("\\" + literal if literal in "%_\\" else literal)
            variants = _case_variants(literal) if ignore_case else literal
            if len(variants) > 1:
                glob.append(f"[{variants}]")
            else:
                glob.append(f"[{literal}]" if literal in "*?[" else literal)
    return "".join(like), "".join(glob)


def _case_variants(char: str) -> str:
    """``char`` and the single characters that lower-case to what it lower-cases to."""
    folded = char.lower()
    found = [char]
    for variant in (folded, char.upper(), char.title()):
        if len(variant) == 1 and variant.lower() == folded and variant not in found:
            found.append(variant)
    return "".join(found)


def _like(column: ColumnElement[Any], pattern: str, ignore_case: bool) -> ColumnElement[bool]:
    like, glob = _like_pattern(pattern, ignore_case)
    postgres = column.ilike(like) if ignore_case else column.like(like)
    return _PostgresOr(postgres, column.op("GLOB", is_comparison=True)(glob))


def _bound(value: str | int | float) -> Any:
    """A bind parameter wide enough for ``value`` whatever column it meets.

    Numbers are bound as BIGINT or DOUBLE rather than as the column's type: PostgreSQL would
    otherwise cast an out-of-range id to INTEGER and fail, and SQLite cannot bind integers
    beyond 64 bits (as doubles they compare the same way).
    """
    if isinstance(value, int) and -_INT64 - 1 <= value <= _INT64:
        return sa.literal(value, sa.BigInteger())
    if isinstance(value, int | float):
        return sa.literal(float(value), sa.Double())
    return value


def _compare(column: ColumnElement[Any], comparator: str, value: Value) -> ColumnElement[bool]:
    if comparator in ("LIKE", "ILIKE"):
        return _like(column, str(value), ignore_case=comparator == "ILIKE")
    if comparator in ("IN", "NOT IN"):
        members = value if isinstance(value, tuple) else (value,)
        found = column.in_([_bound(m) for m in members if m is not None])
        return found if comparator == "IN" else sa.not_(found)
    compare = _OPERATORS.get(comparator)
    if compare is None:
        raise InvalidParameterValue(f"Invalid comparator '{comparator}'")
    if value is None or isinstance(value, tuple):  # the parser never produces these
        raise InvalidParameterValue(f"Comparator '{comparator}' needs a single value")
    return compare(column, _bound(value))


_OPERATORS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _run_filter(c: Comparison) -> ColumnElement[bool]:
    if c.entity == "attribute":
        if c.key == "run_name":
            # MLflow matches the mlflow.runName tag (runs.name is empty for old runs).
            return sa.exists().where(
                tags.c.run_uuid == runs.c.run_uuid,
                tags.c.key == RUN_NAME_TAG,
                _compare(tags.c.value, c.comparator, c.value),
            )
        return _compare(_RUN_COLUMNS[c.key], c.comparator, c.value)
    if c.entity == "dataset":
        return _dataset_filter(c)
    table = _CHILD_TABLES[c.entity]
    owned = [table.c.run_uuid == runs.c.run_uuid, table.c.key == c.key]
    if c.comparator == "IS NULL":
        return sa.not_(sa.exists().where(*owned))
    if c.comparator == "IS NOT NULL":
        return sa.exists().where(*owned)
    match = _compare(table.c.value, c.comparator, c.value)
    if table is latest_metrics:
        # NaN is stored as 0 with is_nan: it satisfies only "!=", and its 0 satisfies nothing.
        if c.comparator == "!=":
            match = sa.or_(match, table.c.is_nan == sa.true())
        else:
            match = sa.and_(match, table.c.is_nan == sa.false())
    return sa.exists().where(*owned, match)


def _dataset_filter(c: Comparison) -> ColumnElement[bool]:
    # Like MLflow: any input row pointing at the run whose source is a dataset that matches.
    query = (
        sa.exists()
        .select_from(inputs.join(datasets, inputs.c.source_id == datasets.c.dataset_uuid))
        .where(inputs.c.destination_id == runs.c.run_uuid)
    )
    if c.key == "context":
        return query.where(
            sa.exists().where(
                input_tags.c.input_uuid == inputs.c.input_uuid,
                input_tags.c.name == _DATASET_CONTEXT_TAG,
                _compare(input_tags.c.value, c.comparator, c.value),
            )
        )
    return query.where(_compare(datasets.c[c.key], c.comparator, c.value))


def _stages(view_type: str) -> tuple[str, ...]:
    try:
        return _STAGES[view_type]
    except KeyError:
        raise InvalidParameterValue(f"Invalid view type '{view_type}'") from None


# --------------------------------------------------------------------------------------------
# Queries


def select_run_ids(
    experiment_ids: Sequence[int],
    filters: Sequence[Comparison],
    order_by: Sequence[OrderKey],
    view_type: str,
    offset: int,
    limit: int,
) -> sa.Select[tuple[str]]:
    """``runs.run_uuid`` of one page of a search_runs, in MLflow's order."""
    source: sa.FromClause = runs
    ordering: list[ColumnElement[Any]] = []
    for position, key in enumerate(order_by):
        if key.entity == "attribute":
            value: ColumnElement[Any] = _RUN_COLUMNS[key.key]
            rank = sa.case((value.is_(None), 1), else_=0)
        else:
            child = _CHILD_TABLES[key.entity].alias(f"order_{position}")
            source = source.outerjoin(
                child, sa.and_(child.c.run_uuid == runs.c.run_uuid, child.c.key == key.key)
            )
            value = child.c.value
            if key.entity == "metric":
                rank = sa.case((child.c.is_nan == sa.true(), 1), (value.is_(None), 2), else_=0)
            else:
                rank = sa.case((value.is_(None), 1), else_=0)
        sort = _sort_key(value)
        ordering += [rank, sort.asc() if key.ascending else sort.desc()]
    if not any(k.entity == "attribute" and k.key == "start_time" for k in order_by):
        ordering.append(runs.c.start_time.desc().nulls_last())
    ordering.append(_sort_key(runs.c.run_uuid).asc())

    return (
        sa.select(runs.c.run_uuid)
        .select_from(source)
        .where(
            runs.c.experiment_id.in_([_bound(i) for i in experiment_ids]),
            runs.c.lifecycle_stage.in_(_stages(view_type)),
            *(_run_filter(c) for c in filters),
        )
        .order_by(*ordering)
        .offset(offset)
        .limit(limit)
    )


def _experiment_filter(c: Comparison) -> ColumnElement[bool]:
    if c.entity == "attribute":
        return _compare(_EXPERIMENT_COLUMNS[c.key], c.comparator, c.value)
    owned = [
        experiment_tags.c.experiment_id == experiments.c.experiment_id,
        experiment_tags.c.key == c.key,
    ]
    if c.comparator == "IS NULL":
        return sa.not_(sa.exists().where(*owned))
    if c.comparator == "IS NOT NULL":
        return sa.exists().where(*owned)
    return sa.exists().where(*owned, _compare(experiment_tags.c.value, c.comparator, c.value))


_DEFAULT_EXPERIMENT_ORDER = (
    OrderKey("attribute", "creation_time", ascending=False),
    OrderKey("attribute", "experiment_id", ascending=True),
)


def select_experiment_ids(
    filters: Sequence[Comparison],
    order_by: Sequence[OrderKey],
    view_type: str,
    offset: int,
    limit: int,
) -> sa.Select[tuple[int]]:
    """``experiments.experiment_id`` of one page of a search_experiments, in MLflow's order.

    No order_by means ``creation_time DESC, experiment_id ASC``; otherwise ``experiment_id
    DESC`` breaks ties unless ordered on. NULLs sort as the smallest values (SQLite's rule,
    made explicit so PostgreSQL agrees).
    """
    keys = list(order_by or _DEFAULT_EXPERIMENT_ORDER)
    if not any(k.key == "experiment_id" for k in keys):
        keys.append(OrderKey("attribute", "experiment_id", ascending=False))
    ordering = []
    for key in keys:
        sort = _sort_key(_EXPERIMENT_COLUMNS[key.key])
        ordering.append(sort.asc().nulls_first() if key.ascending else sort.desc().nulls_last())
    return (
        sa.select(experiments.c.experiment_id)
        .where(
            experiments.c.lifecycle_stage.in_(_stages(view_type)),
            *(_experiment_filter(c) for c in filters),
        )
        .order_by(*ordering)
        .offset(offset)
        .limit(limit)
    )


# The LoggedModel and registry searches (store/logged_models.py, registered_models.py,
# model_versions.py) compare and sort by the same rules.
compare = _compare
sort_key = _sort_key


def tagged(
    tags: sa.Table,
    owner: sa.Table,
    keys: Sequence[str],
    key: str,
    value: ColumnElement[bool],
) -> ColumnElement[bool]:
    """EXISTS a row of ``tags`` for the ``owner`` row (the same ``keys`` columns) with the
    tag ``key`` whose value meets ``value``: a registry filter on a tag, or the prompt mark."""
    return sa.exists().where(*(tags.c[k] == owner.c[k] for k in keys), tags.c.key == key, value)
