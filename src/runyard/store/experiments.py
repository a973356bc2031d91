"""Experiments and their tags."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from runyard.domain.entities import Experiment, Tag
from runyard.domain.search import Comparison, OrderKey
from runyard.errors import ResourceAlreadyExists, ResourceDoesNotExist
from runyard.store.engine import upsert
from runyard.store.schema import experiment_tags, experiments
from runyard.store.search_sql import select_experiment_ids

WORKSPACE = "default"


def can_exist(experiment_id: int) -> bool:
    """experiment_id is a 32-bit INTEGER column: larger ids cannot exist, and binding them
    would be a database error rather than "not found"."""
    return -(2**31) <= experiment_id < 2**31


_COLUMNS = (
    experiments.c.experiment_id,
    experiments.c.name,
    experiments.c.artifact_location,
    experiments.c.lifecycle_stage,
    experiments.c.creation_time,
    experiments.c.last_update_time,
)


def insert(
    conn: Connection, name: str, artifact_location: str | None, tags: Sequence[Tag], now: int
) -> int:
    """Insert an experiment and return its id; a taken name (in any lifecycle stage) is an error."""
    try:
        with conn.begin_nested():
            result = conn.execute(
                experiments.insert().values(
                    name=name,
                    artifact_location=artifact_location,
                    lifecycle_stage="active",
                    creation_time=now,
                    last_update_time=now,
                    workspace=WORKSPACE,
                )
            )
    except IntegrityError as exc:
        raise ResourceAlreadyExists(
            f"Experiment(name={name}) already exists. Error: {exc.orig}"
        ) from exc
    pk = result.inserted_primary_key
    assert pk is not None
    experiment_id = int(pk[0])
    if tags:
        set_tags(conn, experiment_id, tags)
    return experiment_id


def set_artifact_location(conn: Connection, experiment_id: int, location: str) -> None:
    conn.execute(
        experiments.update()
        .where(experiments.c.experiment_id == experiment_id)
        .values(artifact_location=location)
    )


def _to_entity(row: Any, tags: list[Tag]) -> Experiment:
    return Experiment(
        experiment_id=int(row.experiment_id),
        name=row.name,
        artifact_location=row.artifact_location,
        lifecycle_stage=row.lifecycle_stage,
        creation_time=row.creation_time,
        last_update_time=row.last_update_time,
        tags=tags,
    )


def load(conn: Connection, ids: Sequence[int]) -> list[Experiment]:
    """Experiments with their tags, in the order of ``ids`` (missing ids are skipped)."""
    ids = [i for i in ids if can_exist(i)]
    if not ids:
        return []
    rows = conn.execute(sa.select(*_COLUMNS).where(experiments.c.experiment_id.in_(ids))).all()
    tag_rows = conn.execute(
        sa.select(experiment_tags.c.experiment_id, experiment_tags.c.key, experiment_tags.c.value)
        .where(experiment_tags.c.experiment_id.in_(ids))
        .order_by(experiment_tags.c.key)
    ).all()
    tags: dict[int, list[Tag]] = defaultdict(list)
    for t in tag_rows:
        tags[int(t.experiment_id)].append(Tag(t.key, t.value or ""))
    by_id = {int(r.experiment_id): _to_entity(r, tags[int(r.experiment_id)]) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def get(conn: Connection, experiment_id: int) -> Experiment:
    found = load(conn, [experiment_id])
    if not found:
        raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
    return found[0]


def get_by_name(conn: Connection, name: str) -> Experiment | None:
    row = conn.execute(
        sa.select(experiments.c.experiment_id).where(
            experiments.c.name == name, experiments.c.workspace == WORKSPACE
        )
    ).first()
    return get(conn, int(row.experiment_id)) if row else None


def lifecycle_stage(conn: Connection, experiment_id: int) -> str:
    return stage_and_location(conn, experiment_id)[0]


def stage_and_location(conn: Connection, experiment_id: int) -> tuple[str, str]:
    """An experiment's lifecycle stage and artifact location, without loading its tags."""
    row = (
        None
        if not can_exist(experiment_id)
        else conn.execute(
            sa.select(experiments.c.lifecycle_stage, experiments.c.artifact_location).where(
                experiments.c.experiment_id == experiment_id
            )
        ).first()
    )
    if row is None:
        raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
    return str(row[0]), row[1] or ""


def update(conn: Connection, experiment_id: int, now: int, **values: object) -> None:
    try:
        with conn.begin_nested():
            conn.execute(
                experiments.update()
                .where(experiments.c.experiment_id == experiment_id)
                .values(last_update_time=now, **values)
            )
    except IntegrityError as exc:
        raise ResourceAlreadyExists(
            f"Experiment(name={values.get('name')}) already exists. Error: {exc.orig}"
        ) from exc


def set_tags(conn: Connection, experiment_id: int, tags: Sequence[Tag]) -> None:
    rows = [{"key": t.key, "experiment_id": experiment_id, "value": t.value} for t in tags]
    upsert(conn, experiment_tags, rows, keys=("key", "experiment_id"))


def delete_tag(conn: Connection, experiment_id: int, key: str) -> bool:
    result = conn.execute(
        experiment_tags.delete().where(
            experiment_tags.c.experiment_id == experiment_id, experiment_tags.c.key == key
        )
    )
    return bool(result.rowcount)


def search(
    conn: Connection,
    filters: Sequence[Comparison],
    order_by: Sequence[OrderKey],
    view_type: str,
    offset: int,
    limit: int,
) -> list[Experiment]:
    """One page of matching experiments with their tags, in search order."""
    query = select_experiment_ids(list(filters), list(order_by), view_type, offset, limit)
    ids: list[Any] = list(conn.execute(query).scalars())
    return load(conn, [int(i) for i in ids])
