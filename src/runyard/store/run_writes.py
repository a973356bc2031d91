"""Logging to a run: params, metrics and tags together, guarded by the run's state.

Every write RPC on a run (log-param, log-metric, set-tag, log-batch) comes here. The guard and
the writes are one unit: nothing is written unless the run exists, is active and no param would
change value. What the guard found is returned, and the service turns it into MLflow's error.

Metrics that name a LoggedModel (``model_id``) are also recorded in logged_model_metrics,
with their dataset, as MLflow's SqlAlchemyStore does; only for models that exist (the caller
reports unknown ones first).

PostgreSQL does it all in one statement (data-modifying CTEs are atomic and see one snapshot),
so a write costs one round trip and needs no BEGIN/COMMIT. SQLite runs the same steps as a few
statements inside the caller's write transaction, where a round trip costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runyard.domain.entities import ACTIVE, Metric, Param, Tag
from runyard.store import metrics as metric_store
from runyard.store import runs as run_store
from runyard.store.schema import params, runs


@dataclass(frozen=True)
class Guard:
    """What the run looked like when the write was attempted."""

    lifecycle_stage: str | None  # None: no such run
    stored_params: dict[str, str] = field(default_factory=dict)  # only keys whose value differs

    @property
    def written(self) -> bool:
        return self.lifecycle_stage == ACTIVE and not self.stored_params


def log(
    conn: Connection,
    run_id: str,
    new_params: Sequence[Param] = (),
    new_metrics: Sequence[Metric] = (),
    new_tags: Sequence[Tag] = (),
    run_name: str | None = None,
) -> Guard:
    """Write all of it if the run is active and no param changes value; otherwise nothing.

    ``new_metrics`` hold sanitised values; ``new_params`` have unique keys; ``run_name`` (the
    value of an ``mlflow.runName`` tag among ``new_tags``) also renames the run.
    """
    if conn.dialect.name == "postgresql":
        return _log_pg(conn, run_id, new_params, new_metrics, new_tags, run_name)
    return _log_sqlite(conn, run_id, new_params, new_metrics, new_tags, run_name)


_LOG_PG = f"""
WITH run AS (
    SELECT lifecycle_stage, experiment_id FROM runs WHERE run_uuid = %(run)s FOR SHARE
), new_params AS (
    SELECT * FROM unnest(%(pk)s::varchar[], %(pv)s::varchar[]) AS n(key, value)
), clash AS (
    SELECT p.key, p.value FROM params p JOIN new_params n ON n.key = p.key
    WHERE p.run_uuid = %(run)s AND p.value <> n.value
), go AS (
    SELECT 1 FROM run WHERE lifecycle_stage = '{ACTIVE}' AND NOT EXISTS (SELECT 1 FROM clash)
), put_params AS (
    INSERT INTO params (key, value, run_uuid)
    SELECT key, value, %(run)s FROM go, new_params
    ON CONFLICT DO NOTHING
), put_metrics AS (
    INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid)
    SELECT k, v, t, s, n, %(run)s FROM go, unnest(%(mk)s::varchar[], %(mv)s::float8[],
        %(mt)s::bigint[], %(ms)s::bigint[], %(mn)s::boolean[]) AS m(k, v, t, s, n)
    ON CONFLICT DO NOTHING
), put_latest AS (
    INSERT INTO latest_metrics AS lm (key, value, timestamp, step, is_nan, run_uuid)
    SELECT k, v, t, s, n, %(run)s FROM go, unnest(%(lk)s::varchar[], %(lv)s::float8[],
        %(lt)s::bigint[], %(ls)s::bigint[], %(ln)s::boolean[]) AS m(k, v, t, s, n)
    ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value,
        timestamp = excluded.timestamp, step = excluded.step, is_nan = excluded.is_nan
    WHERE (excluded.step, excluded.timestamp, excluded.value) > (lm.step, lm.timestamp, lm.value)
), put_model_metrics AS (
    INSERT INTO logged_model_metrics (model_id, metric_name, metric_timestamp_ms, metric_step,
        metric_value, experiment_id, run_id, dataset_name, dataset_digest)
    SELECT i, k, t, s, v, run.experiment_id, %(run)s, n, d FROM go, run,
        unnest(%(xi)s::varchar[], %(xk)s::varchar[], %(xt)s::bigint[], %(xs)s::bigint[],
        %(xv)s::float8[], %(xn)s::varchar[], %(xd)s::varchar[]) AS x(i, k, t, s, v, n, d)
    WHERE EXISTS (SELECT 1 FROM logged_models WHERE model_id = x.i)
    ON CONFLICT DO NOTHING
), put_tags AS (
    INSERT INTO tags (key, value, run_uuid)
    SELECT k, v, %(run)s FROM go, unnest(%(tk)s::varchar[], %(tv)s::varchar[]) AS t(k, v)
    ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value
), rename AS (
    UPDATE runs SET name = %(name)s::varchar FROM go
    WHERE run_uuid = %(run)s AND %(name)s::varchar IS NOT NULL
)
SELECT (SELECT lifecycle_stage FROM run),
       array(SELECT key FROM clash), array(SELECT value FROM clash)
"""


def _log_pg(
    conn: Connection,
    run_id: str,
    new_params: Sequence[Param],
    new_metrics: Sequence[Metric],
    new_tags: Sequence[Tag],
    run_name: str | None,
) -> Guard:
    mk, mv, mt, ms, mn = metric_store.columns(new_metrics)
    lk, lv, lt, ls, ln = metric_store.columns(metric_store.best_per_key(new_metrics))
    tk, tv = run_store.last_per_key(new_tags)
    model_rows = _model_metric_rows(new_metrics)
    xi, xk, xt, xs, xv, xn, xd = ([r[i] for r in model_rows] for i in range(7))
    row = conn.exec_driver_sql(
        _LOG_PG,
        {
            "run": run_id,
            "pk": [p.key for p in new_params],
            "pv": [p.value for p in new_params],
            **dict(mk=mk, mv=mv, mt=mt, ms=ms, mn=mn, lk=lk, lv=lv, lt=lt, ls=ls, ln=ln),
            **dict(xi=xi, xk=xk, xt=xt, xs=xs, xv=xv, xn=xn, xd=xd),
            "tk": tk,
            "tv": tv,
            "name": run_name,
        },
    ).one()
    stage, clash_keys, clash_values = row
    return Guard(stage, dict(zip(clash_keys, clash_values, strict=True)))


def _log_sqlite(
    conn: Connection,
    run_id: str,
    new_params: Sequence[Param],
    new_metrics: Sequence[Metric],
    new_tags: Sequence[Tag],
    run_name: str | None,
) -> Guard:
    stage = run_store.lifecycle_stage(conn, run_id)
    if stage != ACTIVE:
        return Guard(stage)
    stored: dict[str, str] = {}
    if new_params:
        found = conn.execute(
            sa.select(params.c.key, params.c.value).where(
                params.c.run_uuid == run_id, params.c.key.in_([p.key for p in new_params])
            )
        )
        stored = {key: value for key, value in found}
        clash = {p.key: stored[p.key] for p in new_params if stored.get(p.key, p.value) != p.value}
        if clash:
            return Guard(stage, clash)
        fresh = [p for p in new_params if p.key not in stored]
        if fresh:
            conn.exec_driver_sql(
                "INSERT OR IGNORE INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                [(p.key, p.value, run_id) for p in fresh],
            )
    metric_store.insert(conn, run_id, new_metrics)
    if model_rows := _model_metric_rows(new_metrics):
        conn.exec_driver_sql(_PUT_MODEL_METRICS_SQLITE, [(*r, run_id, r[0]) for r in model_rows])
    if new_tags:
        keys, values = run_store.last_per_key(new_tags)
        conn.exec_driver_sql(
            "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?) "
            "ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value",
            [(k, v, run_id) for k, v in zip(keys, values, strict=True)],
        )
    if run_name is not None:
        conn.execute(runs.update().where(runs.c.run_uuid == run_id).values(name=run_name))
    return Guard(stage)


_PUT_MODEL_METRICS_SQLITE = """
INSERT INTO logged_model_metrics (model_id, metric_name, metric_timestamp_ms, metric_step,
    metric_value, dataset_name, dataset_digest, experiment_id, run_id)
SELECT ?, ?, ?, ?, ?, ?, ?, experiment_id, run_uuid FROM runs
WHERE run_uuid = ? AND EXISTS (SELECT 1 FROM logged_models WHERE model_id = ?)
ON CONFLICT DO NOTHING
"""

ModelMetricRow = tuple[str, str, int, int, float, str | None, str | None]


def _model_metric_rows(new_metrics: Sequence[Metric]) -> list[ModelMetricRow]:
    """(model_id, key, timestamp, step, value, dataset_name, dataset_digest) of the metrics
    that name a model; a NaN is stored as its sanitised 0, as MLflow stores it."""
    return [
        (m.model_id, m.key, m.timestamp, m.step, m.value, m.dataset_name, m.dataset_digest)
        for m in new_metrics
        if m.model_id
    ]
