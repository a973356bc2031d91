"""LoggedModels (MLflow 3) and their params, tags and metrics, in MLflow's tables.

Search follows MLflow's SqlAlchemyStore.search_logged_models, made identical on SQLite and
PostgreSQL the way run search is (store/search_sql.py): LIKE is case-sensitive, strings sort
by code point, and every attribute that is not a timestamp compares as text (``status`` and
``experiment_id`` are integer columns, which MLflow's PostgreSQL store cannot compare with a
filter's text at all, while its SQLite store compares them as SQLite's type affinity says).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from runyard.domain.entities import DELETED, LoggedModel, Metric, Param, Tag
from runyard.domain.search import Comparison, ModelDatasetFilter, ModelOrderKey
from runyard.store.engine import in_list, upsert
from runyard.store.schema import (
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
)
from runyard.store.search_sql import compare, sort_key

_MODELS = logged_models
_METRICS = logged_model_metrics
_PARAMS = logged_model_params
_TAGS = logged_model_tags
_NUMERIC = frozenset({"creation_timestamp_ms", "last_updated_timestamp_ms"})
_INTEGER_TEXT = frozenset({"experiment_id", "status"})


def insert(conn: Connection, model: LoggedModel) -> None:
    """A new model with its params and tags (keys unique within each)."""
    conn.execute(
        _MODELS.insert().values(
            model_id=model.model_id,
            experiment_id=model.experiment_id,
            name=model.name,
            artifact_location=model.artifact_location,
            creation_timestamp_ms=model.creation_timestamp,
            last_updated_timestamp_ms=model.last_updated_timestamp,
            status=model.status,
            lifecycle_stage=model.lifecycle_stage,
            model_type=model.model_type,
            source_run_id=model.source_run_id,
            status_message=model.status_message,
        )
    )
    insert_params(conn, model.model_id, model.experiment_id, model.params)
    if model.tags:
        conn.execute(
            _TAGS.insert(),
            [_tag_row(model.model_id, model.experiment_id, t) for t in model.tags],
        )


def experiment_of(conn: Connection, model_id: str) -> int | None:
    """The model's experiment, deleted or not; None if there is no such model."""
    found = conn.execute(sa.select(_MODELS.c.experiment_id).where(_MODELS.c.model_id == model_id))
    value = found.scalar()
    return None if value is None else int(value)


def missing(conn: Connection, model_ids: Sequence[str]) -> list[str]:
    """Those of ``model_ids`` that name no model (deleted ones exist)."""
    wanted = sorted(set(model_ids))
    found = conn.execute(
        sa.select(_MODELS.c.model_id).where(in_list(conn, _MODELS.c.model_id, wanted))
    )
    present = set(found.scalars())
    return [m for m in wanted if m not in present]


def update(conn: Connection, model_id: str, **values: object) -> bool:
    """Change columns of a model; False if there is no such model."""
    result = conn.execute(_MODELS.update().where(_MODELS.c.model_id == model_id).values(**values))
    return bool(result.rowcount)


def set_tags(conn: Connection, model_id: str, experiment_id: int, tags: Sequence[Tag]) -> None:
    """Upsert tags; a key given twice keeps its last value."""
    last = {t.key: t for t in tags}
    upsert(
        conn,
        _TAGS,
        [_tag_row(model_id, experiment_id, t) for t in last.values()],
        keys=("model_id", "tag_key"),
    )


def delete_tag(conn: Connection, model_id: str, key: str) -> bool:
    result = conn.execute(
        _TAGS.delete().where(_TAGS.c.model_id == model_id, _TAGS.c.tag_key == key)
    )
    return bool(result.rowcount)


def stored_params(conn: Connection, model_id: str, keys: Sequence[str]) -> dict[str, str]:
    """The values already logged for those of ``keys`` the model has."""
    found = conn.execute(
        sa.select(_PARAMS.c.param_key, _PARAMS.c.param_value).where(
            _PARAMS.c.model_id == model_id, _PARAMS.c.param_key.in_(list(set(keys)))
        )
    )
    return dict(found.tuples().all())


def insert_params(
    conn: Connection, model_id: str, experiment_id: int, params: Sequence[Param]
) -> None:
    if params:
        conn.execute(
            _PARAMS.insert(),
            [
                {
                    "model_id": model_id,
                    "experiment_id": experiment_id,
                    "param_key": p.key,
                    "param_value": p.value,
                }
                for p in params
            ],
        )


def _tag_row(model_id: str, experiment_id: int, tag: Tag) -> dict[str, Any]:
    return {
        "model_id": model_id,
        "experiment_id": experiment_id,
        "tag_key": tag.key,
        "tag_value": tag.value,
    }


# --- loading -------------------------------------------------------------------------------


def get(conn: Connection, model_id: str) -> LoggedModel | None:
    found = load(conn, [model_id])
    return found[0] if found else None


def load(conn: Connection, model_ids: Sequence[str]) -> list[LoggedModel]:
    """Whole models in the order of ``model_ids``: one query per table."""
    if not model_ids:
        return []
    rows = conn.execute(sa.select(_MODELS).where(in_list(conn, _MODELS.c.model_id, model_ids)))
    by_id = {row.model_id: row for row in rows}
    ids = [m for m in model_ids if m in by_id]
    if not ids:
        return []
    tags: dict[str, list[Tag]] = defaultdict(list)
    for model_id, key, value in conn.execute(
        sa.select(_TAGS.c.model_id, _TAGS.c.tag_key, _TAGS.c.tag_value).where(
            in_list(conn, _TAGS.c.model_id, ids)
        )
    ):
        tags[model_id].append(Tag(key, value))
    params: dict[str, list[Param]] = defaultdict(list)
    for model_id, key, value in conn.execute(
        sa.select(_PARAMS.c.model_id, _PARAMS.c.param_key, _PARAMS.c.param_value).where(
            in_list(conn, _PARAMS.c.model_id, ids)
        )
    ):
        params[model_id].append(Param(key, value))
    metrics: dict[str, list[Metric]] = defaultdict(list)
    m = _METRICS.c
    for row in conn.execute(
        sa.select(
            m.model_id,
            m.metric_name,
            m.metric_value,
            m.metric_timestamp_ms,
            m.metric_step,
            m.run_id,
            m.dataset_name,
            m.dataset_digest,
        ).where(in_list(conn, m.model_id, ids))
    ):
        metrics[row.model_id].append(
            Metric(
                key=row.metric_name,
                value=0.0 if row.metric_value is None else row.metric_value,
                timestamp=row.metric_timestamp_ms,
                step=row.metric_step,
                run_id=row.run_id,
                model_id=row.model_id,
                dataset_name=row.dataset_name,
                dataset_digest=row.dataset_digest,
            )
        )
    return [
        _entity(
            by_id[i],
            sorted(tags[i], key=lambda t: t.key),
            sorted(params[i], key=lambda p: p.key),
            sorted(metrics[i], key=_metric_order),
        )
        for i in ids
    ]


def _metric_order(m: Metric) -> tuple[str, int, int, str]:
    return (m.key, m.timestamp, m.step, m.run_id or "")


def _entity(row: Any, tags: list[Tag], params: list[Param], metrics: list[Metric]) -> LoggedModel:
    return LoggedModel(
        model_id=row.model_id,
        experiment_id=int(row.experiment_id),
        name=row.name,
        artifact_location=row.artifact_location,
        creation_timestamp=row.creation_timestamp_ms,
        last_updated_timestamp=row.last_updated_timestamp_ms,
        status=row.status,
        lifecycle_stage=row.lifecycle_stage,
        model_type=row.model_type,
        source_run_id=row.source_run_id,
        status_message=row.status_message,
        tags=tags,
        params=params,
        metrics=metrics,
    )


# --- search --------------------------------------------------------------------------------


def _attribute(key: str) -> ColumnElement[Any]:
    column: ColumnElement[Any] = _MODELS.c[key]
    return sa.cast(column, sa.String()) if key in _INTEGER_TEXT else column


def _on_datasets(datasets: Sequence[ModelDatasetFilter]) -> ColumnElement[bool]:
    # MLflow compares the digest even when a dataset comes without one: such an entry
    # matches only metrics logged without a digest.
    return sa.or_(
        *(
            sa.and_(
                _METRICS.c.dataset_name == d.name,
                _METRICS.c.dataset_digest.is_(None)
                if d.digest is None
                else _METRICS.c.dataset_digest == d.digest,
            )
            for d in datasets
        )
    )


def _filter(c: Comparison, datasets: Sequence[ModelDatasetFilter]) -> ColumnElement[bool]:
    if c.entity == "attribute":
        return compare(_attribute(c.key), c.comparator, c.value)
    if c.entity == "metric":
        owned = [
            _METRICS.c.model_id == _MODELS.c.model_id,
            _METRICS.c.metric_name == c.key,
            compare(_METRICS.c.metric_value, c.comparator, c.value),
        ]
        if datasets:
            owned.append(_on_datasets(datasets))
        return sa.exists().where(*owned)
    if c.entity == "parameter":
        return sa.exists().where(
            _PARAMS.c.model_id == _MODELS.c.model_id,
            _PARAMS.c.param_key == c.key,
            compare(_PARAMS.c.param_value, c.comparator, c.value),
        )
    return sa.exists().where(
        _TAGS.c.model_id == _MODELS.c.model_id,
        _TAGS.c.tag_key == c.key,
        compare(_TAGS.c.tag_value, c.comparator, c.value),
    )


def _latest_metric(position: int, key: ModelOrderKey) -> sa.Subquery:
    """Per model, the value of metric ``key.key`` with the latest timestamp, then step (then
    the smallest run id), among the metrics of the requested dataset."""
    m = _METRICS.c
    conditions = [m.metric_name == key.key]
    if key.dataset_name:
        conditions.append(m.dataset_name == key.dataset_name)
    if key.dataset_digest:
        conditions.append(m.dataset_digest == key.dataset_digest)
    ranked = (
        sa.select(
            m.model_id,
            m.metric_value,
            sa.func.row_number()
            .over(
                partition_by=[m.model_id, m.metric_name],
                order_by=[m.metric_timestamp_ms.desc(), m.metric_step.desc(), m.run_id.asc()],
            )
            .label("rank"),
        )
        .where(*conditions)
        .subquery(f"ranked_{position}")
    )
    return (
        sa.select(ranked.c.model_id, ranked.c.metric_value)
        .where(ranked.c.rank == 1)
        .subquery(f"order_{position}")
    )


def search_ids(
    conn: Connection,
    experiment_ids: Sequence[int],
    filters: Sequence[Comparison],
    datasets: Sequence[ModelDatasetFilter],
    order_by: Sequence[ModelOrderKey],
    offset: int,
    limit: int,
) -> list[str]:
    """Ids of one page of a search_logged_models, in MLflow's order."""
    source: sa.FromClause = _MODELS
    ordering: list[ColumnElement[Any]] = []
    for position, key in enumerate(order_by):
        if key.entity == "attribute":
            value: ColumnElement[Any] = _MODELS.c[key.key]
        else:
            latest = _latest_metric(position, key)
            source = source.outerjoin(latest, latest.c.model_id == _MODELS.c.model_id)
            value = latest.c.metric_value
        sort = sort_key(value)
        ordering += [
            sa.case((value.is_(None), 1), else_=0),
            sort.asc() if key.ascending else sort.desc(),
        ]
    attributes = {k.key for k in order_by if k.entity == "attribute"}
    if "creation_timestamp_ms" not in attributes:
        ordering.append(_MODELS.c.creation_timestamp_ms.desc())
    if "model_id" not in attributes:
        ordering.append(sort_key(_MODELS.c.model_id).asc())

    conditions = [_filter(c, datasets) for c in filters]
    if datasets and not any(c.entity == "metric" for c in filters):
        conditions.append(
            sa.exists().where(_METRICS.c.model_id == _MODELS.c.model_id, _on_datasets(datasets))
        )
    query = (
        sa.select(_MODELS.c.model_id)
        .select_from(source)
        .where(
            _MODELS.c.lifecycle_stage != DELETED,
            _MODELS.c.experiment_id.in_(list(experiment_ids)),
            *conditions,
        )
        .order_by(*ordering)
        .offset(offset)
        .limit(limit)
    )
    return list(conn.execute(query).scalars())
