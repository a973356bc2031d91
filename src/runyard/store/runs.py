"""Runs, their params and tags, and loading whole runs in a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runyard.domain.entities import (
    ACTIVE,
    RUN_NAME_TAG,
    Dataset,
    DatasetInput,
    Metric,
    ModelIO,
    Param,
    Run,
    RunInfo,
    Tag,
)
from runyard.domain.search import Comparison, OrderKey
from runyard.errors import ResourceDoesNotExist
from runyard.store import experiments as experiment_store
from runyard.store.engine import in_list, insert_ignore, upsert
from runyard.store.schema import (
    datasets,
    input_tags,
    inputs,
    latest_metrics,
    params,
    runs,
    tags,
)
from runyard.store.search_sql import select_run_ids

_INFO_COLUMNS = (
    runs.c.run_uuid,
    runs.c.name,
    runs.c.experiment_id,
    runs.c.user_id,
    runs.c.status,
    runs.c.start_time,
    runs.c.end_time,
    runs.c.artifact_uri,
    runs.c.lifecycle_stage,
)


def insert(conn: Connection, info: RunInfo, run_tags: Sequence[Tag]) -> bool:
    """Insert a run and its tags if its experiment is still active; False if it is not."""
    if conn.dialect.name == "postgresql":
        keys, values = last_per_key(run_tags)
        inserted = conn.exec_driver_sql(
            _INSERT_PG,
            {
                "run": info.run_id,
                "name": info.run_name,
                "user": info.user_id,
                "status": info.status,
                "start": info.start_time,
                "stage": info.lifecycle_stage,
                "uri": info.artifact_uri,
                "eid": info.experiment_id,
                "tk": keys,
                "tv": values,
            },
        ).scalar()
        return bool(inserted)
    conn.execute(
        runs.insert().values(
            run_uuid=info.run_id,
            name=info.run_name,
            source_type="UNKNOWN",
            source_name="",
            entry_point_name="",
            user_id=info.user_id,
            status=info.status,
            start_time=info.start_time,
            end_time=None,
            source_version="",
            lifecycle_stage=info.lifecycle_stage,
            artifact_uri=info.artifact_uri,
            experiment_id=info.experiment_id,
            deleted_time=None,
        )
    )
    set_tags(conn, info.run_id, run_tags)
    return True


# One statement: the run (only into an active experiment) and its tags.
_INSERT_PG = f"""
WITH run AS (
    INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id,
        status, start_time, end_time, source_version, lifecycle_stage, artifact_uri,
        experiment_id, deleted_time)
    SELECT %(run)s, %(name)s, 'UNKNOWN', '', '', %(user)s, %(status)s, %(start)s::bigint, NULL,
        '', %(stage)s, %(uri)s, experiment_id, NULL
    FROM experiments WHERE experiment_id = %(eid)s AND lifecycle_stage = '{ACTIVE}'
    RETURNING run_uuid
), run_tags AS (
    INSERT INTO tags (key, value, run_uuid)
    SELECT k, v, run_uuid FROM run, unnest(%(tk)s::varchar[], %(tv)s::varchar[]) AS t(k, v)
)
SELECT count(*) FROM run
"""


def update_active(
    conn: Connection, run_id: str, status: str | None, end_time: int | None, name: str | None
) -> RunInfo | None:
    """Change an active run (``None`` leaves a field alone) and return it; None if the run is
    missing or not active. A new name is mirrored into the ``mlflow.runName`` tag."""
    if conn.dialect.name == "postgresql":
        row = conn.exec_driver_sql(
            _UPDATE_ACTIVE_PG,
            {"run": run_id, "status": status, "end": end_time, "name": name},
        ).first()
        return None if row is None else _info(row)
    stage = lifecycle_stage(conn, run_id)
    if stage != ACTIVE:
        return None
    values = {"status": status, "end_time": end_time, "name": name}
    if changes := {k: v for k, v in values.items() if v is not None}:
        update(conn, run_id, **changes)
    if name is not None:
        set_tags(conn, run_id, [Tag(RUN_NAME_TAG, name)])
    return get_info(conn, run_id)


_UPDATE_ACTIVE_PG = f"""
WITH changed AS (
    UPDATE runs SET status = COALESCE(%(status)s::varchar, status),
        end_time = COALESCE(%(end)s::bigint, end_time), name = COALESCE(%(name)s::varchar, name)
    WHERE run_uuid = %(run)s AND lifecycle_stage = '{ACTIVE}'
    RETURNING run_uuid, name, experiment_id, user_id, status, start_time, end_time,
        artifact_uri, lifecycle_stage
), name_tag AS (
    INSERT INTO tags (key, value, run_uuid)
    SELECT '{RUN_NAME_TAG}', %(name)s::varchar, run_uuid FROM changed
    WHERE %(name)s::varchar IS NOT NULL
    ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value
)
SELECT * FROM changed
"""


def lifecycle_stage(conn: Connection, run_id: str) -> str | None:
    """The run's lifecycle stage, or None if there is no such run."""
    stage = conn.execute(sa.select(runs.c.lifecycle_stage).where(runs.c.run_uuid == run_id))
    return stage.scalar()


def last_per_key(items: Sequence[Tag]) -> tuple[list[str], list[str]]:
    """Keys and values with later values for the same key winning, as when MLflow applies
    them one by one."""
    last = {t.key: t.value for t in items}
    return list(last), list(last.values())


def _info(row: Any) -> RunInfo:
    return RunInfo(
        run_id=row.run_uuid,
        run_name=row.name,
        experiment_id=int(row.experiment_id),
        user_id=row.user_id,
        status=row.status,
        start_time=row.start_time,
        end_time=row.end_time,
        artifact_uri=row.artifact_uri,
        lifecycle_stage=row.lifecycle_stage,
    )


def get_info(conn: Connection, run_id: str, *, lock: bool = False) -> RunInfo:
    query = sa.select(*_INFO_COLUMNS).where(runs.c.run_uuid == run_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise ResourceDoesNotExist(f"Run with id={run_id} not found")
    return _info(row)


def load(conn: Connection, run_ids: Sequence[str]) -> list[Run]:
    """Whole runs in the order given, with a fixed number of set-based queries per chunk."""
    found: dict[str, Run] = {}
    ids = list(dict.fromkeys(run_ids))
    for start in range(0, len(ids), _CHUNK):
        found.update(_load_chunk(conn, ids[start : start + _CHUNK]))
    return [found[i] for i in run_ids if i in found]


# Bound the size of IN lists: SQLite caps bound parameters per statement.
_CHUNK = 2000


def _load_chunk(conn: Connection, ids: list[str]) -> dict[str, Run]:
    infos = {
        row.run_uuid: _info(row)
        for row in conn.execute(
            sa.select(*_INFO_COLUMNS).where(in_list(conn, runs.c.run_uuid, ids))
        )
    }
    # Rows come back in (run, key) order, so each run's lists are already sorted by key.
    run_params: dict[str, list[Param]] = defaultdict(list)
    for run_id, key, value in conn.execute(
        sa.select(params.c.run_uuid, params.c.key, params.c.value)
        .where(in_list(conn, params.c.run_uuid, ids))
        .order_by(params.c.run_uuid, params.c.key)
    ).all():
        run_params[run_id].append(Param(key, value))
    run_tags: dict[str, list[Tag]] = defaultdict(list)
    for run_id, key, value in conn.execute(
        sa.select(tags.c.run_uuid, tags.c.key, tags.c.value)
        .where(in_list(conn, tags.c.run_uuid, ids))
        .order_by(tags.c.run_uuid, tags.c.key)
    ).all():
        run_tags[run_id].append(Tag(key, value or ""))
    run_metrics: dict[str, list[Metric]] = defaultdict(list)
    lm = latest_metrics.c
    for run_id, key, value, ts, step, nan in conn.execute(
        sa.select(lm.run_uuid, lm.key, lm.value, lm.timestamp, lm.step, lm.is_nan)
        .where(in_list(conn, lm.run_uuid, ids))
        .order_by(lm.run_uuid, lm.key)
    ).all():
        run_metrics[run_id].append(Metric(key, value, ts or 0, step or 0, bool(nan)))
    dataset_inputs = _load_dataset_inputs(conn, ids)
    model_inputs, model_outputs = _load_model_io(conn, ids)
    return {
        i: Run(
            info,
            run_metrics.get(i, []),
            run_params.get(i, []),
            run_tags.get(i, []),
            dataset_inputs.get(i, []),
            model_inputs.get(i, []),
            model_outputs.get(i, []),
        )
        for i, info in infos.items()
    }


def search(
    conn: Connection,
    experiment_ids: Sequence[int],
    filters: Sequence[Comparison],
    order_by: Sequence[OrderKey],
    view_type: str,
    offset: int,
    limit: int,
) -> list[Run]:
    """One page of matching runs, in search order: an id query, then the batch load."""
    experiment_ids = [i for i in experiment_ids if experiment_store.can_exist(i)]
    query = select_run_ids(
        list(experiment_ids), list(filters), list(order_by), view_type, offset, limit
    )
    ids: list[Any] = list(conn.execute(query).scalars())
    return load(conn, [str(i) for i in ids])


def _load_dataset_inputs(conn: Connection, ids: list[str]) -> dict[str, list[DatasetInput]]:
    rows = conn.execute(
        sa.select(
            inputs.c.destination_id,
            inputs.c.input_uuid,
            datasets.c.name,
            datasets.c.digest,
            datasets.c.dataset_source_type,
            datasets.c.dataset_source,
            datasets.c.dataset_schema,
            datasets.c.dataset_profile,
        )
        .join(datasets, datasets.c.dataset_uuid == inputs.c.source_id)
        .where(
            inputs.c.destination_type == "RUN",
            inputs.c.source_type == "DATASET",
            in_list(conn, inputs.c.destination_id, ids),
        )
        .order_by(datasets.c.name, datasets.c.digest)
    ).all()
    if not rows:
        return {}
    tag_map: dict[str, list[Tag]] = defaultdict(list)
    for t in conn.execute(
        sa.select(input_tags.c.input_uuid, input_tags.c.name, input_tags.c.value).where(
            input_tags.c.input_uuid.in_([r.input_uuid for r in rows])
        )
    ):
        tag_map[t.input_uuid].append(Tag(t.name, t.value))
    result: dict[str, list[DatasetInput]] = defaultdict(list)
    for r in rows:
        dataset = Dataset(
            r.name,
            r.digest,
            r.dataset_source_type,
            r.dataset_source,
            r.dataset_schema,
            r.dataset_profile,
        )
        result[r.destination_id].append(DatasetInput(dataset, tag_map.get(r.input_uuid, [])))
    return result


def _load_model_io(
    conn: Connection, ids: list[str]
) -> tuple[dict[str, list[ModelIO]], dict[str, list[ModelIO]]]:
    """LoggedModel links: RUN_INPUT -> MODEL_INPUT and RUN_OUTPUT -> MODEL_OUTPUT rows."""
    model_inputs: dict[str, list[ModelIO]] = defaultdict(list)
    model_outputs: dict[str, list[ModelIO]] = defaultdict(list)
    rows = conn.execute(
        sa.select(
            inputs.c.source_type,
            inputs.c.source_id,
            inputs.c.destination_type,
            inputs.c.destination_id,
            inputs.c.step,
        ).where(
            sa.or_(
                sa.and_(
                    inputs.c.source_type == "RUN_OUTPUT",
                    in_list(conn, inputs.c.source_id, ids),
                    inputs.c.destination_type == "MODEL_OUTPUT",
                ),
                sa.and_(
                    inputs.c.source_type == "RUN_INPUT",
                    in_list(conn, inputs.c.source_id, ids),
                    inputs.c.destination_type == "MODEL_INPUT",
                ),
            )
        )
    ).all()
    for r in rows:
        if r.source_type == "RUN_OUTPUT":
            model_outputs[r.source_id].append(ModelIO(r.destination_id, r.step))
        else:
            model_inputs[r.source_id].append(ModelIO(r.destination_id))
    return model_inputs, model_outputs


def update(conn: Connection, run_id: str, **values: object) -> None:
    conn.execute(runs.update().where(runs.c.run_uuid == run_id).values(**values))


def set_lifecycle_for_experiment(
    conn: Connection, experiment_id: int, stage: str, deleted_time: int | None
) -> None:
    conn.execute(
        runs.update()
        .where(runs.c.experiment_id == experiment_id)
        .values(lifecycle_stage=stage, deleted_time=deleted_time)
    )


def get_params(conn: Connection, run_id: str, keys: Sequence[str]) -> dict[str, str]:
    rows = conn.execute(
        sa.select(params.c.key, params.c.value).where(
            params.c.run_uuid == run_id, params.c.key.in_(list(keys))
        )
    )
    return {r.key: r.value for r in rows}


def insert_params(conn: Connection, run_id: str, new: Sequence[Param]) -> None:
    rows = [{"key": p.key, "value": p.value, "run_uuid": run_id} for p in new]
    insert_ignore(conn, params, rows)


def set_tags(conn: Connection, run_id: str, new: Sequence[Tag]) -> None:
    keys, values = last_per_key(new)
    rows = [{"key": k, "value": v, "run_uuid": run_id} for k, v in zip(keys, values, strict=True)]
    upsert(conn, tags, rows, keys=("key", "run_uuid"))


def delete_tag(conn: Connection, run_id: str, key: str) -> bool:
    result = conn.execute(tags.delete().where(tags.c.run_uuid == run_id, tags.c.key == key))
    return bool(result.rowcount)
