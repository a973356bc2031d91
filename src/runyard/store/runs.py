"""Runs, their params and tags, and loading whole runs in a fixed number of queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runyard.domain.entities import (
    ACTIVE,
    RUN_NAME_TAG,
    RunInfo,
    Tag,
)
from runyard.errors import ResourceDoesNotExist
from runyard.store.engine import upsert
from runyard.store.schema import (
    runs,
    tags,
)

INFO_COLUMNS = (
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
        return None if row is None else info_from_row(row)
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


def info_from_row(row: Any) -> RunInfo:
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
    query = sa.select(*INFO_COLUMNS).where(runs.c.run_uuid == run_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise ResourceDoesNotExist(f"Run with id={run_id} not found")
    return info_from_row(row)


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


def set_tags(conn: Connection, run_id: str, new: Sequence[Tag]) -> None:
    keys, values = last_per_key(new)
    rows = [{"key": k, "value": v, "run_uuid": run_id} for k, v in zip(keys, values, strict=True)]
    upsert(conn, tags, rows, keys=("key", "run_uuid"))


def delete_tag(conn: Connection, run_id: str, key: str) -> bool:
    result = conn.execute(tags.delete().where(tags.c.run_uuid == run_id, tags.c.key == key))
    return bool(result.rowcount)
