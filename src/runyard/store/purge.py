"""The SQL of ``runyard gc``: finding deleted runs and experiments, and removing every row of them.

What goes with a run (``purge_runs``): its metrics, latest_metrics, params and tags; the input
links whose run end is the run (dataset → run, run → logged model) with their input_tags; the
entity_associations naming it; the logged_model_metrics recorded under it (their foreign key
cascades on the run). ``issues.source_run_id`` is set to NULL, which is what its foreign key
says (``ON DELETE SET NULL``); the issue itself stays.

What goes with an experiment (``purge_experiment``, once its runs are gone): its tags; its
traces with their tags, request metadata, metrics, assessments, spans and span metrics; its
logged models with their params, tags and metrics, and the input links to them; its datasets
and the input links from them; its scorers, scorer versions and online scoring configs; its
review queues with their items, label schemas and users; its label schemas and issues; the
trace/assessment/span-cost rollups and the rollup rebuild queue (no foreign key, but MLflow's
gc removes them too, so a reused id never inherits aggregates); entity_associations naming the
experiment, its traces or its models; runyard's own permission grants on it (when auth has
created that table), so an experiment that gets the same id later (SQLite reuses the highest
one) inherits nobody's access. Gateway endpoints that tracked usage into it keep existing with
``experiment_id`` NULL (their foreign key's ``ON DELETE SET NULL``).

Left alone, as MLflow leaves them (no foreign key, and the rows belong to something else):
registry ``model_versions.run_id``, logged models of surviving experiments whose source run is
purged (``source_run_id`` keeps the id), ``assessments.run_id`` on traces of surviving
experiments, evaluation datasets an experiment was associated with.

Every statement is set-based (one ``DELETE ... WHERE key IN (...)`` per table per batch), in
child-first order so that foreign keys hold on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runyard.domain.entities import DELETED
from runyard.store.auth_schema import experiment_permissions
from runyard.store.engine import in_list
from runyard.store.schema import (
    assessments,
    datasets,
    endpoints,
    entity_associations,
    experiment_tags,
    experiments,
    guardrails,
    input_tags,
    inputs,
    issues,
    label_schemas,
    latest_metrics,
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
    metrics,
    online_scoring_configs,
    params,
    review_queue_items,
    review_queue_label_schemas,
    review_queue_users,
    review_queues,
    runs,
    scorer_versions,
    scorers,
    span_metrics,
    spans,
    sql_assessment_daily_rollups,
    sql_span_cost_daily_rollups,
    sql_trace_metric_daily_rollups,
    sql_trace_rollup_rebuild_queue,
    tags,
    trace_info,
    trace_metrics,
    trace_request_metadata,
    trace_tags,
)

# The vertex types of ``inputs`` rows whose id is a run, a dataset or a logged model.
RUN_AS_SOURCE = ("RUN_INPUT", "RUN_OUTPUT")  # run → logged model links
RUN_AS_DESTINATION = ("RUN",)  # dataset → run links
MODEL_AS_DESTINATION = ("MODEL_INPUT", "MODEL_OUTPUT")
DATASET_AS_SOURCE = ("DATASET",)

# ``entity_associations`` type names (MLflow's EntityAssociationType).
ASSOC_RUN, ASSOC_EXPERIMENT, ASSOC_MODEL, ASSOC_TRACE = "run", "experiment", "model", "trace"


@dataclass(frozen=True, slots=True)
class RunState:
    run_id: str
    experiment_id: int
    lifecycle_stage: str
    deleted_time: int | None
    artifact_uri: str | None


@dataclass(frozen=True, slots=True)
class ExperimentState:
    experiment_id: int
    name: str
    lifecycle_stage: str
    last_update_time: int | None
    artifact_location: str | None


_RUN_COLUMNS = (
    runs.c.run_uuid,
    runs.c.experiment_id,
    runs.c.lifecycle_stage,
    runs.c.deleted_time,
    runs.c.artifact_uri,
)
_EXPERIMENT_COLUMNS = (
    experiments.c.experiment_id,
    experiments.c.name,
    experiments.c.lifecycle_stage,
    experiments.c.last_update_time,
    experiments.c.artifact_location,
)


def _run_state(row: Any) -> RunState:
    return RunState(row[0], row[1], row[2], row[3], row[4])


def _experiment_state(row: Any) -> ExperimentState:
    return ExperimentState(row[0], row[1], row[2], row[3], row[4])


def _old_enough(column: sa.ColumnElement[Any], cutoff: int | None) -> sa.ColumnElement[bool]:
    # No cutoff: every deleted entity, even one whose deletion time is unknown (NULL).
    return sa.true() if cutoff is None else column <= cutoff


# --- planning ---------------------------------------------------------------------------------


def deleted_experiments(conn: Connection, cutoff: int | None) -> list[ExperimentState]:
    """Deleted experiments last updated (deleted) at or before ``cutoff``, by id."""
    query = (
        sa.select(*_EXPERIMENT_COLUMNS)
        .where(
            experiments.c.lifecycle_stage == DELETED,
            _old_enough(experiments.c.last_update_time, cutoff),
        )
        .order_by(experiments.c.experiment_id)
    )
    return [_experiment_state(row) for row in conn.execute(query)]


def experiments_by_id(conn: Connection, ids: Sequence[int]) -> list[ExperimentState]:
    if not ids:
        return []
    query = sa.select(*_EXPERIMENT_COLUMNS).where(in_list(conn, experiments.c.experiment_id, ids))
    return [_experiment_state(row) for row in conn.execute(query)]


def deleted_runs(conn: Connection, cutoff: int | None, outside: Sequence[int]) -> list[str]:
    """Deleted runs deleted at or before ``cutoff`` that are not in the experiments ``outside``."""
    query = sa.select(runs.c.run_uuid).where(
        runs.c.lifecycle_stage == DELETED, _old_enough(runs.c.deleted_time, cutoff)
    )
    if outside:
        query = query.where(sa.not_(in_list(conn, runs.c.experiment_id, outside)))
    return list(conn.execute(query.order_by(runs.c.run_uuid)).scalars())


def runs_by_id(conn: Connection, ids: Sequence[str]) -> list[RunState]:
    if not ids:
        return []
    query = sa.select(*_RUN_COLUMNS).where(in_list(conn, runs.c.run_uuid, ids))
    return [_run_state(row) for row in conn.execute(query)]


def run_counts(conn: Connection, experiment_ids: Sequence[int]) -> dict[int, int]:
    """How many runs (in any lifecycle stage) each experiment holds."""
    if not experiment_ids:
        return {}
    query = (
        sa.select(runs.c.experiment_id, sa.func.count())
        .where(in_list(conn, runs.c.experiment_id, experiment_ids))
        .group_by(runs.c.experiment_id)
    )
    counts = {eid: 0 for eid in experiment_ids}
    counts.update({row[0]: row[1] for row in conn.execute(query)})
    return counts


def guardrails_using_scorers_of(conn: Connection, experiment_ids: Sequence[int]) -> list[str]:
    """Gateway guardrails that run a scorer of these experiments: their foreign key to the
    scorer version has no ON DELETE rule, so the experiment cannot go while they exist."""
    if not experiment_ids:
        return []
    owned = sa.select(scorers.c.scorer_id).where(
        in_list(conn, scorers.c.experiment_id, experiment_ids)
    )
    query = sa.select(guardrails.c.name).where(guardrails.c.scorer_id.in_(owned))
    return sorted(conn.execute(query).scalars())


# --- locking what a transaction is about to remove --------------------------------------------


def lock_runs(conn: Connection, ids: Sequence[str]) -> list[RunState]:
    """The runs' current state, locked until the transaction ends (PostgreSQL: FOR UPDATE, so a
    concurrent restore waits; SQLite: the write transaction already excludes other writers)."""
    if not ids:
        return []
    query = sa.select(*_RUN_COLUMNS).where(in_list(conn, runs.c.run_uuid, ids)).with_for_update()
    return [_run_state(row) for row in conn.execute(query)]


def lock_experiment(conn: Connection, experiment_id: int) -> ExperimentState | None:
    query = (
        sa.select(*_EXPERIMENT_COLUMNS)
        .where(experiments.c.experiment_id == experiment_id)
        .with_for_update()
    )
    row = conn.execute(query).first()
    return None if row is None else _experiment_state(row)


def next_runs_of_experiment(conn: Connection, experiment_id: int, limit: int) -> list[RunState]:
    query = (
        sa.select(*_RUN_COLUMNS)
        .where(runs.c.experiment_id == experiment_id)
        .order_by(runs.c.run_uuid)
        .limit(limit)
        .with_for_update()
    )
    return [_run_state(row) for row in conn.execute(query)]


def models_of_experiment(conn: Connection, experiment_id: int) -> list[tuple[str, str]]:
    """(model_id, artifact_location) of every logged model of the experiment."""
    query = (
        sa.select(logged_models.c.model_id, logged_models.c.artifact_location)
        .where(logged_models.c.experiment_id == experiment_id)
        .order_by(logged_models.c.model_id)
    )
    return [(row[0], row[1]) for row in conn.execute(query)]


# --- removing ---------------------------------------------------------------------------------


def _delete_links(conn: Connection, linked: sa.ColumnElement[bool]) -> None:
    """Remove ``inputs`` rows matching ``linked`` and their input_tags."""
    doomed = sa.select(inputs.c.input_uuid).where(linked)
    conn.execute(input_tags.delete().where(input_tags.c.input_uuid.in_(doomed)))
    conn.execute(inputs.delete().where(linked))


def _associations(
    conn: Connection, kind: str, ids: Sequence[str] | sa.Select[Any]
) -> sa.ColumnElement[bool]:
    """entity_associations rows with an end of type ``kind`` whose id is in ``ids``."""
    ea = entity_associations.c

    def among(column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        return column.in_(ids) if isinstance(ids, sa.Select) else in_list(conn, column, ids)

    return sa.or_(
        sa.and_(ea.source_type == kind, among(ea.source_id)),
        sa.and_(ea.destination_type == kind, among(ea.destination_id)),
    )


def purge_runs(conn: Connection, run_ids: Sequence[str]) -> None:
    """Remove the runs and every row that belongs to them (see the module docstring)."""
    if not run_ids:
        return
    ids = list(run_ids)
    i = inputs.c
    _delete_links(
        conn,
        sa.or_(
            sa.and_(
                i.destination_type.in_(RUN_AS_DESTINATION), in_list(conn, i.destination_id, ids)
            ),
            sa.and_(i.source_type.in_(RUN_AS_SOURCE), in_list(conn, i.source_id, ids)),
        ),
    )
    conn.execute(entity_associations.delete().where(_associations(conn, ASSOC_RUN, ids)))
    conn.execute(
        logged_model_metrics.delete().where(in_list(conn, logged_model_metrics.c.run_id, ids))
    )
    conn.execute(
        issues.update().where(in_list(conn, issues.c.source_run_id, ids)).values(source_run_id=None)
    )
    for table in (metrics, latest_metrics, params, tags):
        conn.execute(table.delete().where(in_list(conn, table.c.run_uuid, ids)))
    conn.execute(runs.delete().where(in_list(conn, runs.c.run_uuid, ids)))


def purge_experiment(conn: Connection, experiment_id: int) -> None:
    """Remove an experiment that has no runs left, and every row that belongs to it."""
    eid = experiment_id
    _purge_traces(conn, eid)
    _purge_logged_models(conn, eid)
    datasets_of = sa.select(datasets.c.dataset_uuid).where(datasets.c.experiment_id == eid)
    _delete_links(
        conn,
        sa.and_(inputs.c.source_type.in_(DATASET_AS_SOURCE), inputs.c.source_id.in_(datasets_of)),
    )
    conn.execute(datasets.delete().where(datasets.c.experiment_id == eid))
    _purge_scorers(conn, eid)
    queues = sa.select(review_queues.c.queue_id).where(review_queues.c.experiment_id == eid)
    for table in (review_queue_items, review_queue_label_schemas, review_queue_users):
        conn.execute(table.delete().where(table.c.queue_id.in_(queues)))
    for table in (
        review_queues,
        label_schemas,
        issues,
        sql_trace_rollup_rebuild_queue,
        sql_trace_metric_daily_rollups,
        sql_span_cost_daily_rollups,
        sql_assessment_daily_rollups,
    ):
        conn.execute(table.delete().where(table.c.experiment_id == eid))
    conn.execute(
        endpoints.update().where(endpoints.c.experiment_id == eid).values(experiment_id=None)
    )
    conn.execute(
        entity_associations.delete().where(_associations(conn, ASSOC_EXPERIMENT, [str(eid)]))
    )
    if sa.inspect(conn).has_table(experiment_permissions.name):
        grants = experiment_permissions.c
        conn.execute(experiment_permissions.delete().where(grants.experiment_id == eid))
    conn.execute(experiment_tags.delete().where(experiment_tags.c.experiment_id == eid))
    conn.execute(experiments.delete().where(experiments.c.experiment_id == eid))


def _purge_traces(conn: Connection, eid: int) -> None:
    traces = sa.select(trace_info.c.request_id).where(trace_info.c.experiment_id == eid)
    conn.execute(span_metrics.delete().where(span_metrics.c.trace_id.in_(traces)))
    conn.execute(
        spans.delete().where(sa.or_(spans.c.trace_id.in_(traces), spans.c.experiment_id == eid))
    )
    conn.execute(assessments.delete().where(assessments.c.trace_id.in_(traces)))
    for table in (trace_tags, trace_request_metadata, trace_metrics):
        conn.execute(table.delete().where(table.c.request_id.in_(traces)))
    conn.execute(entity_associations.delete().where(_associations(conn, ASSOC_TRACE, traces)))
    conn.execute(trace_info.delete().where(trace_info.c.experiment_id == eid))


def _purge_logged_models(conn: Connection, eid: int) -> None:
    models = sa.select(logged_models.c.model_id).where(logged_models.c.experiment_id == eid)
    _delete_links(
        conn,
        sa.and_(
            inputs.c.destination_type.in_(MODEL_AS_DESTINATION),
            inputs.c.destination_id.in_(models),
        ),
    )
    conn.execute(entity_associations.delete().where(_associations(conn, ASSOC_MODEL, models)))
    for table in (logged_model_metrics, logged_model_params, logged_model_tags):
        conn.execute(
            table.delete().where(sa.or_(table.c.model_id.in_(models), table.c.experiment_id == eid))
        )
    conn.execute(logged_models.delete().where(logged_models.c.experiment_id == eid))


def _purge_scorers(conn: Connection, eid: int) -> None:
    owned = sa.select(scorers.c.scorer_id).where(scorers.c.experiment_id == eid)
    conn.execute(
        online_scoring_configs.delete().where(
            sa.or_(
                online_scoring_configs.c.scorer_id.in_(owned),
                online_scoring_configs.c.experiment_id == eid,
            )
        )
    )
    conn.execute(scorer_versions.delete().where(scorer_versions.c.scorer_id.in_(owned)))
    conn.execute(scorers.delete().where(scorers.c.experiment_id == eid))
